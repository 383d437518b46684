"""Exhaustive single-edge sweep (or extra seeds of one) through the Ray-free local runner.

Why a script and not only ``placement-search run CONFIG --searcher exhaustive --runner local``:
it can sweep a subset (``--edges``, ``--every``) or extra training seeds under another searcher
label (``--searcher repeat`` measures noise without entering the ground truth), or other seeds of
given K-edge placements (``--placements``, never as ground truth). Trials are recorded
exactly as any runner records them, under the config's benchmark key; a run stopped at any point
loses nothing, and running the same command again trains only the edges still missing.

A second training seed enters the ground truth (whose per-edge value is the mean over its seeds)
only once it covers every edge: sweep it as ``repeat`` with ``--promote``, which relabels the
search ``exhaustive`` when its last edge lands. A partial second seed would bias the map's top
towards edges measured once, whose values are noisier.

    python analysis/sweep_local.py search_spaces/dinov2s_fashion.yaml \
        --store sqlite:///analysis/results/dinov2s_fashion.sqlite --device cuda --workers 8
    python analysis/sweep_local.py search_spaces/minilm_trec6.yaml --store sqlite:///analysis/results/minilm_trec6.sqlite \
        --searcher repeat --seeds 1 --name minilm-trec6-repeat-seed1 --workers 2 --promote

``--plan-only`` creates the search and trains nothing, for a machine without Ray to train it
(analysis/sweep_without_ray.py); the same command without it then closes the search.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import load_config  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.experiment import edge_space  # noqa: E402
from placement_search.placement.edges import Placement  # noqa: E402
from placement_search.runners.base import RunnerOptions  # noqa: E402
from placement_search.runners.local_pool import LocalPoolRunner  # noqa: E402
from placement_search.search.service import finish_search, planned_search  # noqa: E402
from placement_search.store import benchmark_key, open_store  # noqa: E402
from placement_search.store.ground_truth import GROUND_TRUTH_SEARCHER  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--store", required=True, help="results store URL (sqlite:///... or postgresql://...)")
    parser.add_argument("--name", help="search name (default: <config name>-exhaustive)")
    parser.add_argument("--searcher", default="exhaustive",
                        help="label stored with the search: 'exhaustive' is ground truth; use 'repeat' for extra "
                             "seeds that measure noise without entering the ground truth")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--workers", type=int, default=1, help="trials trained at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--seeds", default=None, help="comma-separated training seeds (default: the config's)")
    parser.add_argument("--edges", default=None, help="comma-separated subset, e.g. '0->0,3->1' (default: all)")
    parser.add_argument("--placements", default=None, metavar="P1;P2",
                        help="semicolon-separated K-edge placements to train instead of single edges, e.g. "
                             "'0->4,6->9,8->4;1->11,2->9,5->7' (re-train a search's best with other --seeds; "
                             "needs a --searcher label other than exhaustive)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="every N-th edge of the (canonical order of the) space or of --edges: a spread subset")
    parser.add_argument("--promote", action="store_true",
                        help="once every edge of the space is measured with each of --seeds, relabel this "
                             "'repeat' search 'exhaustive', so its seeds enter the ground truth (averaged per "
                             "edge); a partial extra seed never does, since it would bias the map's top")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--time-limit", type=float, default=None, help="stop submitting after this many seconds")
    parser.add_argument("--plan-only", action="store_true",
                        help="create (or widen) the search in the store and train nothing: its trials can then be "
                             "trained on a machine without Ray by analysis/sweep_without_ray.py; this same command "
                             "without --plan-only closes the search afterwards")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.threads < 1 or args.every < 1:
        raise PlacementSearchError("--workers, --threads and --every must be at least 1")

    if args.placements and (args.edges or args.searcher == "exhaustive"):
        raise PlacementSearchError("--placements trains K-edge placements, which are not single-edge ground truth: "
                                   "drop --edges and pass a label such as --searcher repeat")

    if args.promote and (args.placements or args.edges or args.every != 1 or args.searcher == "exhaustive"):
        raise PlacementSearchError("--promote enters a complete extra-seed sweep into the ground truth: sweep every "
                                   "single edge (no --placements, --edges or --every) under --searcher repeat")

    if args.plan_only and (args.placements or args.edges or args.every != 1):
        raise PlacementSearchError("--plan-only plans a whole sweep, every single edge, which is what "
                                   "analysis/sweep_without_ray.py trains: drop --placements, --edges and --every")

    cfg = load_config(args.config, [*args.overrides, f"training.device={args.device}"])
    space = edge_space(cfg)
    if args.placements:
        placements = [space.validate(Placement.parse(p)) for p in args.placements.split(";") if p.strip()]
    else:
        edges = list(space.validate(Placement.parse(args.edges))) if args.edges else list(space.edges)
        placements = [Placement.of([e]) for e in edges]
    placements = placements[::args.every]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [cfg.training.seed]
    trials = [(str(p), s) for s in seeds for p in placements]
    store = open_store(args.store)
    name = args.name or f"{cfg.name}-exhaustive"
    if args.promote:
        check_new_seeds(store, benchmark_key(cfg), seeds)
    job = planned_search(store, cfg, name, args.searcher, trials,
                         {"runner": "local", "device": args.device, "workers": args.workers, "seeds": seeds})
    if args.plan_only:
        stored = len(store.trials_frame(name))
        print(f"{name}: planned {len(trials)} trials ({stored} already stored) in {store.url}", flush=True)
        return 0
    LocalPoolRunner(RunnerOptions(workers=args.workers, threads=args.threads,
                                  time_limit_s=args.time_limit)).run(job)
    finish_search(store, name)
    print(f"{name}: {len(store.trials_frame(name))} of {len(trials)} trials stored in {store.url}", flush=True)
    if args.promote:
        promote(store, name, space, seeds)
    return 0


def check_new_seeds(store, key: str, seeds: list[int]) -> None:
    """Refuse, before training anything, seeds the ground truth already holds: it keeps the first
    measurement of an (edge, seed), so a promoted duplicate would be silently ignored."""
    taken = sorted(set(seeds) & {int(s) for s in store.ground_truth_trials(key)["seed"]})
    if taken:
        raise PlacementSearchError(f"--promote: the ground truth of {key} already holds seed(s) "
                                   f"{', '.join(map(str, taken))}; pass other --seeds")


def promote(store, name: str, space, seeds: list[int]) -> None:
    """Relabel the search ``exhaustive`` if it measured every single edge with every seed."""
    trials = store.trials_frame(name)
    done = trials[(trials["status"] == "completed") & (trials["k"] == 1)]
    everything = {str(Placement.of([e])) for e in space.edges}
    for seed in seeds:
        measured = everything & set(done.loc[done["seed"] == seed, "placement"])
        if len(measured) < len(everything):
            raise PlacementSearchError(
                f"--promote: {name} has measured {len(measured)} of {len(everything)} edges with seed {seed}, so it "
                "stays out of the ground truth; run the same command again to train the rest")
    store.relabel_search(name, GROUND_TRUTH_SEARCHER)
    print(f"{name}: promoted to the ground truth (seeds {', '.join(map(str, seeds))} on all "
          f"{len(everything)} edges)", flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
