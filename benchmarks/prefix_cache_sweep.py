"""Single-edge sweep with and without the frozen-prefix cache, side by side in one run.

A fixed stratified subset of edges (by type, spread over the network) is trained twice with the
same recipe and seed: once computing every point, once reading the plain backbone points the
edge leaves unchanged from the cache. Reports trials per hour for both, the ratio, and the largest
difference in final accuracy. Targets: ratio >= 2x, accuracies within 0.5 points.

    python benchmarks/prefix_cache_sweep.py               # MiniLM-L6 x TREC-6, 32 edges (~40 min)
    python benchmarks/prefix_cache_sweep.py --smoke-test  # tiny model, seconds
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import load_config  # noqa: E402
from placement_search.loading import load_experiment  # noqa: E402
from placement_search.placement.edges import EdgeSpace, Placement  # noqa: E402
from placement_search.prefix_cache import cache_for  # noqa: E402
from placement_search.training import train_placement  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PER_TYPE = {"sequential": 6, "parallel": 6, "long-range": 10, "recurrent": 10}


def stratified_edges(space: EdgeSpace, per_type: dict[str, int], seed: int = 0) -> list:
    """A fixed subset: per type, edges evenly spaced through the canonical order (then seeded
    sampling if the type has fewer than asked)."""
    rng = random.Random(seed)
    chosen = []
    for kind, count in per_type.items():
        edges = [e for e in space.edges if e.type == kind]
        if len(edges) <= count:
            chosen += edges
        else:
            step = len(edges) / count
            picks = [edges[int(i * step + rng.random() * step)] for i in range(count)]
            chosen += picks
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--per-type", type=int, default=None, metavar="N",
                        help="N edges of each type instead of the fixed 32-edge subset (a quicker, smaller sample)")
    args = parser.parse_args()
    preset = "tiny.yaml" if args.smoke_test else "minilm_trec6.yaml"
    per_type = {k: 2 for k in PER_TYPE} if args.smoke_test else PER_TYPE
    if args.per_type:
        per_type = {k: args.per_type for k in PER_TYPE}
    configs = {cached: load_config(ROOT / "search_spaces" / preset,
                                   [f"training.prefix_cache={cached}", f"training.device={args.device}"])
               for cached in (False, True)}
    backbone, task = load_experiment(configs[False])
    cache_for(backbone, 1).clear()
    edges = stratified_edges(EdgeSpace(backbone.num_points), per_type)
    # the two ways alternate edge by edge, so load from anything else on the machine hits both alike;
    # the cached way's time includes building the cache (in its first trial)
    accs: dict[bool, dict] = {False: {}, True: {}}
    seconds = {False: 0.0, True: 0.0}
    for i, e in enumerate(edges):
        for cached in (False, True):
            start = time.perf_counter()
            r, _ = train_placement(configs[cached], Placement.of([e]), backbone, task)
            seconds[cached] += time.perf_counter() - start
            accs[cached][str(e)] = (r.val_accuracy, r.test_accuracy)
            print(f"  {'cached' if cached else 'plain '} {i + 1:>3}/{len(edges)} {str(e):>6} ({e.type:<10}) "
                  f"val {r.val_accuracy:.4f} test {r.test_accuracy:.4f} {r.wall_time_s:6.1f} s", flush=True)
    (plain, t_plain), (cached, t_cached) = (accs[False], seconds[False]), (accs[True], seconds[True])
    n = len(plain)
    diff = max(max(abs(plain[e][0] - cached[e][0]), abs(plain[e][1] - cached[e][1])) for e in plain)
    ratio = t_plain / t_cached
    print(f"device: {torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'}")
    print(f"edges: {n} ({', '.join(f'{v} {k}' for k, v in per_type.items())})")
    print(f"without cache: {t_plain:8.1f} s  = {3600 * n / t_plain:6.1f} trials/hour")
    print(f"with cache   : {t_cached:8.1f} s  = {3600 * n / t_cached:6.1f} trials/hour (cache build included)")
    print(f"largest accuracy difference: {100 * diff:.2f} points (target <= 0.5): {'met' if diff <= 0.005 else 'NOT met'}")
    print(f"speed-up {ratio:.2f}x (target >= 2x): {'met' if ratio >= 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
