"""Train what a planned single-edge sweep still lacks, on a machine that has PyTorch but no Ray.

Why: sweep_local.py drives its trials through Ray Tune's ``Searcher`` interface (the deduplicating
wrapper that lets a sweep resume), so it imports Ray. The GPU machine lent to this project has no
Ray, and what a call carries there (64 MiB) cannot hold Ray's wheel beside the backbone's weights.
So the sweep is planned where Ray is, trained here by the same local runner (its worker processes,
its trial records, each stored the moment it ends), and closed where Ray is:

    python analysis/sweep_local.py search_spaces/dinov2s_digits.yaml --device cuda --plan-only \\
        --store sqlite:///digits.sqlite --name dinov2s-digits-gpu        # where Ray is: the search row
    python analysis/sweep_without_ray.py --store sqlite:///digits.sqlite --name dinov2s-digits-gpu \\
        --workers 12 [--order edges.txt]                                  # on the machine without Ray
    python analysis/sweep_local.py ... (the first command without --plan-only)   # stores nothing new, closes it

The plan is every single edge of the search's config with each of its seeds; the trials the store
already holds are not trained again, so a stopped run continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import config_from_dict  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.experiment import edge_space  # noqa: E402
from placement_search.placement.edges import Placement  # noqa: E402
from placement_search.runners.base import RunnerOptions, SearchJob  # noqa: E402
from placement_search.runners.local_pool import FINISHED, LocalPoolRunner  # noqa: E402
from placement_search.store import open_store  # noqa: E402


class MissingTrials:
    """The runner's searcher contract (``suggest`` / ``on_trial_complete``) over a fixed list of
    (placement, seed) trials: the plan's trials the store does not hold yet."""

    def __init__(self, trials: list[tuple[str, int]]):
        self.trials = list(trials)

    def suggest(self, trial_id: str) -> dict | str:
        if not self.trials:
            return FINISHED
        placement, seed = self.trials.pop(0)
        return {"placement": placement, "seed": seed}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass


def missing_trials(store, name: str, order: list[str]) -> tuple[SearchJob, list[tuple[str, int]]]:
    """The search's job and the (placement, seed) trials it still lacks, ``order``'s edges first."""
    if not store.has_search(name):
        raise PlacementSearchError(f"no search {name} in {store.url}; plan it with "
                                   "`python analysis/sweep_local.py CONFIG --plan-only --name NAME --store URL`")
    record = store.get_search(name)
    cfg = config_from_dict(record.config)
    space = edge_space(cfg)
    edges = [str(Placement.of([e])) for e in space.edges]
    first = [space.validate(Placement.parse(p)) for p in order]
    if any(len(p.edges) != 1 for p in first):
        raise PlacementSearchError("--order lists single edges, one per line (such as 3->7)")
    ordered = list(dict.fromkeys([*map(str, first), *edges]))
    seeds = [int(s) for s in record.options.get("seeds", [cfg.training.seed])]
    stored = store.trials_frame(name)
    done = set(zip(stored["placement"], stored["seed"].astype(int), strict=True))
    trials = [(p, s) for s in seeds for p in ordered if (p, s) not in done]
    return SearchJob(cfg, store, name, MissingTrials(trials), len(trials), space), trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="results store URL holding the planned search")
    parser.add_argument("--name", required=True, help="the search sweep_local.py --plan-only created")
    parser.add_argument("--order", default=None, metavar="FILE",
                        help="edges to train first, one per line (the rest of the plan follows)")
    parser.add_argument("--workers", type=int, default=1, help="trials trained at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--time-limit", type=float, default=None, help="stop submitting after this many seconds")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.threads < 1:
        raise PlacementSearchError("--workers and --threads must be at least 1")
    order = Path(args.order).read_text().split() if args.order else []
    store = open_store(args.store)
    job, trials = missing_trials(store, args.name, order)
    print(f"{args.name}: {len(trials)} trials to train", flush=True)
    LocalPoolRunner(RunnerOptions(workers=args.workers, threads=args.threads,
                                  time_limit_s=args.time_limit)).run(job)
    store.set_search_status(args.name, "interrupted")  # closed by sweep_local.py, where Ray is
    print(f"{args.name}: {len(store.trials_frame(args.name))} trials stored in {store.url}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
