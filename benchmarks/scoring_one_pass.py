"""One-pass gradient-rank scoring against the naive per-edge way, side by side on the same batch.

Naive: for each edge, attach one full linear adapter, forward/backward, rank of its gradient.
One pass: one forward/backward keeps D_j at every point; the (i, j) blocks of X^T D are all the
gradients at once (DESIGN.md §6). Both use the same seeded batch and head; the ranks must be
identical. Target: at least 25x faster on DINOv2-S (625 edges).

    python benchmarks/scoring_one_pass.py               # DINOv2-S x Fashion-MNIST, 625 edges
    python benchmarks/scoring_one_pass.py --smoke-test  # tiny ViT, seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import ScoringConfig, load_config  # noqa: E402
from placement_search.data.task_data import Split  # noqa: E402
from placement_search.experiment import load_experiment  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402
from placement_search.scoring import make_head, naive_edge_spectrum, score_edges  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 25.0


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="tiny ViT instead of DINOv2-S")
    parser.add_argument("--batch", type=int, default=32, help="examples in the scoring batch")
    parser.add_argument("--rtol", type=float, default=1e-2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both ways run on it)")
    args = parser.parse_args()

    preset = "tiny_vision.yaml" if args.smoke_test else "dinov2s_fashion.yaml"
    cfg = load_config(ROOT / "search_spaces" / preset)
    backbone, task = load_experiment(cfg)
    device = torch.device(args.device)
    backbone.to(device)
    inputs, labels = task.train.take(torch.arange(args.batch))
    batch = Split(inputs, labels)
    scoring = ScoringConfig(rtol=args.rtol, batch_size=args.batch, num_batches=1, seed=0)
    space = EdgeSpace(backbone.num_points)
    print(f"{cfg.backbone.name}: {backbone.num_points} points, {len(space)} edges, batch of {args.batch} "
          f"({inputs[next(iter(inputs))].shape[1:]} per example), device {device_name(device)}")

    if device.type == "cuda":  # warm-up: CUDA context, cuBLAS/cuSOLVER handles (not part of either way's cost)
        score_edges(backbone, batch, task.num_classes, scoring, progress=False)
    sync(device)
    start = time.perf_counter()
    scores = score_edges(backbone, batch, task.num_classes, scoring, progress=False)
    sync(device)
    one_pass_s = time.perf_counter() - start
    fast_ranks = scores.ranks()

    # the naive way sees the same batch in the same (seeded) order, through the same head
    order = torch.randperm(args.batch, generator=torch.Generator().manual_seed(scoring.seed))
    inputs = {k: v[order].to(device) for k, v in inputs.items()}
    labels = labels[order].to(device)
    head = make_head(backbone.hidden_size, task.num_classes, scoring.head_init, scoring.seed,
                     next(backbone.parameters()).dtype).to(device)
    start = time.perf_counter()
    mismatches = []
    for e in tqdm(space.edges, desc="naive per-edge", unit="edge"):
        s = naive_edge_spectrum(backbone, e, head, inputs, labels)
        rank = int(((s > args.rtol * s[0]) & (s[0] > 0)).sum())
        if rank != int(fast_ranks[e.source, e.destination]):
            mismatches.append((str(e), rank, int(fast_ranks[e.source, e.destination])))
    sync(device)
    naive_s = time.perf_counter() - start

    ratio = naive_s / one_pass_s
    print(f"one pass : {one_pass_s:8.2f} s for {len(space)} edges")
    print(f"naive    : {naive_s:8.2f} s for {len(space)} edges")
    print(f"ranks identical: {not mismatches} ({len(mismatches)} of {len(space)} differ)")
    for m in mismatches[:10]:
        print(f"  edge {m[0]}: naive {m[1]}, one pass {m[2]}")
    print(f"speed-up {ratio:.1f}x (target >= {TARGET:.0f}x): {'met' if ratio >= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
