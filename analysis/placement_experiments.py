"""The paper's multi-adapter experiments (issue 4), each recorded as its own search in the store.

- ``<name>-gga``               GGA with K in {1, 2, 3, 6} and gamma in {0, 0.6} (gamma 0 = top-K)
- ``<name>-random-extended``   20 random K-edge placements per K from all four edge types
- ``<name>-random-standard``   the same from sequential + parallel edges only (the usual space)
- ``<name>-baselines``         the linear probe, an adapter on every sub-layer (sequential-all)
                               and one parallel to every block (parallel-all)

Gradient-rank scores come from the store when it holds them for this config (else they are
computed once and saved there), so GGA uses exactly the table the analysis correlates. All four
searches share one pool of the Ray-free local runner (resumable: run the command again to finish an
interrupted run). Each trial carries a label naming its variant (``gga gamma 0.6``, ``probe``...).

    python analysis/placement_experiments.py search_spaces/dinov2s_fashion.yaml \
        --store sqlite:///analysis/results/dinov2s_fashion.sqlite --device cuda --workers 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import load_config  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.placement.edges import EdgeSpace, Placement  # noqa: E402
from placement_search.placement.selection import gga, parallel_all, random_k, sequential_all  # noqa: E402
from placement_search.runners.base import RunnerOptions  # noqa: E402
from placement_search.runners.local_pool import LocalPoolRunner  # noqa: E402
from placement_search.scoring import stored_or_computed_scores  # noqa: E402
from placement_search.search.service import finish_search, planned_search  # noqa: E402
from placement_search.store import open_store  # noqa: E402

KS = (1, 2, 3, 6)
GAMMAS = (0.0, 0.6)
RANDOM_PER_K = 20
STANDARD_TYPES = ("sequential", "parallel")


def plans(cfg, n_points: int, scores: dict) -> dict[str, tuple[str, list[tuple[str, int, str | None]]]]:
    """search suffix -> (searcher label, [(placement, seed, variant label)])."""
    seed = cfg.training.seed
    full = EdgeSpace(n_points, tuple(cfg.space.edge_types))  # the config's edge space (loading.edge_space)
    standard = EdgeSpace(n_points, STANDARD_TYPES)

    def item(label: str | None, placement: Placement) -> tuple[str, int, str | None]:
        return str(placement), seed, label

    out = {
        "gga": ("gga", [item(f"gga gamma {g}", gga(scores, full, k, g)) for k in KS for g in GAMMAS]),
        "baselines": ("baseline", [item("probe", Placement()), item("sequential-all", sequential_all(full)),
                                   item("parallel-all", parallel_all(full))]),
    }
    for suffix, space in (("random-extended", full), ("random-standard", standard)):
        out[suffix] = ("random", [item(None, random_k(space, k, seed=1000 * k + i))
                                  for k in KS for i in range(RANDOM_PER_K)])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--store", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default=None, help="comma-separated subset of: gga, baselines, random-extended, "
                                                     "random-standard")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args(argv)

    cfg = load_config(args.config, [*args.overrides, f"training.device={args.device}"])
    store = open_store(args.store)
    from placement_search.experiment import cached_backbone

    n_points = cached_backbone(cfg.backbone).num_points
    all_plans = plans(cfg, n_points, stored_or_computed_scores(cfg, store))
    chosen = args.only.split(",") if args.only else list(all_plans)
    unknown = [c for c in chosen if c not in all_plans]
    if unknown:
        raise PlacementSearchError(f"unknown experiment {unknown[0]!r}; choose from {', '.join(all_plans)}")
    jobs = []
    for suffix in chosen:
        searcher, items = all_plans[suffix]
        jobs.append(planned_search(store, cfg, f"{cfg.name}-{suffix}", searcher, items,
                                   {"runner": "local", "script": "analysis/placement_experiments.py",
                                    "device": args.device, "ks": list(KS), "gammas": list(GAMMAS)}))
    LocalPoolRunner(RunnerOptions(workers=args.workers, threads=args.threads,
                                  time_limit_s=args.time_limit)).run_many(jobs)
    for job in jobs:
        finish_search(store, job.name)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
