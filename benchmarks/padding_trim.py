"""Text batches cut to their longest sequence against batches padded to max_length, side by side.

TREC questions average 13 tokens of the 32 the task pads to, so most of a padded batch is padding
the attention masks out anyway. With ``training.trim_padding`` (the default) each training batch
runs at its longest question and evaluation batches group questions of similar length. A fixed
stratified subset of single edges is trained both ways (prefix cache off in both, to measure
trimming alone); reports trials per hour, the ratio and the largest accuracy difference.

    python benchmarks/padding_trim.py               # MiniLM-L6 x TREC-6, 8 edges (~8 min on 2 CPUs)
    python benchmarks/padding_trim.py --smoke-test  # tiny model, seconds
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

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="tiny random model, 4 edges")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--edges", type=int, default=8, help="size of the stratified subset (default 8)")
    args = parser.parse_args()
    preset, extra = ("tiny.yaml", ["task.max_length=64"]) if args.smoke_test else ("minilm_trec6.yaml", [])
    size = 4 if args.smoke_test else args.edges
    padded, trimmed = (Way(name, load_config(ROOT / "search_spaces" / preset,
                                             extra + [f"training.trim_padding={on}", "training.prefix_cache=false",
                                                      f"training.device={args.device}"]))
                       for name, on in (("padded", False), ("trimmed", True)))
    backbone, task = load_experiment(padded.cfg)
    edges = EdgeSpace(backbone.num_points).stratified_sample(size, min_per_type=1)
    run_side_by_side(padded, trimmed, edges, backbone, task)
    report(padded, trimmed, edges, args.device, target=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
