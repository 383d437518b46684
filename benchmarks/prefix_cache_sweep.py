"""Single-edge sweep with and without the frozen-prefix cache, side by side in one run.

A fixed stratified subset of the extended edge space (each type in proportion to its share of the
169 edges, spread over the network) is trained twice with the same recipe and seed: once computing
every point, once reading the plain backbone points the edge leaves unchanged from the cache (its
time includes building the cache). Reports trials per hour for both, the ratio overall and per
edge type, and the largest difference in final accuracy. Targets: ratio >= 2x, accuracies within
0.5 points. Both ways cut text batches to their longest sequence (the default; see padding_trim.py).

    python benchmarks/prefix_cache_sweep.py               # MiniLM-L6 x TREC-6, 32 edges (~25 min on 2 CPUs)
    python benchmarks/prefix_cache_sweep.py --smoke-test  # tiny model, seconds
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._side_by_side import Way, report, run_side_by_side  # noqa: E402
from placement_search.config import load_config  # noqa: E402
from placement_search.loading import load_experiment  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402
from placement_search.prefix_cache import cache_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="tiny random model, 8 edges")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--edges", type=int, default=32, help="size of the stratified subset (default 32)")
    args = parser.parse_args()
    preset = "tiny.yaml" if args.smoke_test else "minilm_trec6.yaml"
    size = 8 if args.smoke_test else args.edges
    plain, cached = (Way(name, load_config(ROOT / "search_spaces" / preset,
                                           [f"training.prefix_cache={on}", f"training.device={args.device}"]))
                     for name, on in (("no cache", False), ("cache", True)))
    backbone, task = load_experiment(plain.cfg)
    cache_for(backbone, 1).clear()
    edges = EdgeSpace(backbone.num_points).stratified_sample(size, min_per_type=1 if args.smoke_test else 3)
    run_side_by_side(plain, cached, edges, backbone, task)
    report(plain, cached, edges, args.device, target=2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
