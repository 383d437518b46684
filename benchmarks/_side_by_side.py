"""Train the same single edges two ways, alternating edge by edge, and compare time and accuracy.

Shared by the training benchmarks, which differ only in the boolean setting they switch. Alternating
means load from anything else on the machine hits both ways alike; each way's time includes
whatever it builds on first use (e.g. the prefix cache).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from placement_search.config import Config, load_config
from placement_search.experiment import load_experiment
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.prefix_cache import cache_for
from placement_search.training import train_placement

SEARCH_SPACES = Path(__file__).resolve().parents[1] / "search_spaces"


@dataclass
class Way:
    name: str
    cfg: Config
    seconds: float = 0.0
    by_type: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    accuracy: dict[str, tuple[float, float]] = field(default_factory=dict)  # edge -> (val, test)


def run_side_by_side(baseline: Way, optimised: Way, edges: list[Edge], backbone, task) -> None:
    """Train every edge with both ways, print one line per trial."""
    for i, e in enumerate(edges):
        for way in (baseline, optimised):
            start = time.perf_counter()
            r, _ = train_placement(way.cfg, Placement.of([e]), backbone, task)
            took = time.perf_counter() - start
            way.seconds += took
            way.by_type[e.type] += took
            way.accuracy[str(e)] = (r.val_accuracy, r.test_accuracy)
            print(f"  {way.name:<9} {i + 1:>3}/{len(edges)} {str(e):>6} ({e.type:<10}) "
                  f"val {r.val_accuracy:.4f} test {r.test_accuracy:.4f} {took:6.1f} s", flush=True)


def report(baseline: Way, optimised: Way, edges: list[Edge], device: str, target: float | None) -> float:
    """Print trials/hour of both ways, the ratio (overall and per edge type) and the largest
    accuracy difference (target: within 0.5 points); return the ratio."""
    n = len(edges)
    counts = {t: sum(e.type == t for e in edges) for t in dict.fromkeys(e.type for e in edges)}
    diff = max(max(abs(a - b) for a, b in zip(baseline.accuracy[k], optimised.accuracy[k])) for k in baseline.accuracy)
    ratio = baseline.seconds / optimised.seconds
    print(f"device: {torch.cuda.get_device_name() if device.startswith('cuda') else 'cpu'}")
    print(f"edges: {n} ({', '.join(f'{c} {t}' for t, c in counts.items())})")
    width = max(len(baseline.name), len(optimised.name))
    for way in (baseline, optimised):
        print(f"{way.name:<{width}}: {way.seconds:8.1f} s = {3600 * n / way.seconds:6.1f} trials/hour")
    print("ratio by edge type: " + ", ".join(f"{t} {baseline.by_type[t] / optimised.by_type[t]:.2f}x" for t in counts))
    print(f"largest accuracy difference: {100 * diff:.2f} points (target <= 0.5): "
          f"{'met' if diff <= 0.005 else 'NOT met'}")
    goal = f" (target >= {target:g}x): {'met' if ratio >= target else 'NOT met'}" if target else ""
    print(f"speed-up {ratio:.2f}x{goal}")
    return ratio


def main(doc: str, setting: str, names: tuple[str, str], edges: int, smoke_edges: int, min_per_type: int,
         also: tuple[str, ...] = (), smoke_also: tuple[str, ...] = (), target: float | None = None) -> int:
    """A benchmark script's whole run: ``setting`` off (``names[0]``) against on (``names[1]``) on
    MiniLM-L6 x TREC-6 (``--smoke-test``: the tiny random model), with the overrides ``also``
    applied to both ways, over a stratified subset of single edges."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help=f"tiny random model, {smoke_edges} edges")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--edges", type=int, default=edges, help=f"size of the stratified subset (default {edges})")
    args = parser.parse_args()
    preset = SEARCH_SPACES / ("tiny.yaml" if args.smoke_test else "minilm_trec6.yaml")
    common = [*also, *(smoke_also if args.smoke_test else ()), f"training.device={args.device}"]
    baseline, optimised = (Way(name, load_config(preset, [*common, f"{setting}={on}"]))
                           for name, on in zip(names, (False, True)))
    backbone, task = load_experiment(baseline.cfg)
    cache_for(backbone, 1).clear()  # a cache built before the run would not be timed
    subset = EdgeSpace(backbone.num_points).stratified_sample(smoke_edges if args.smoke_test else args.edges,
                                                               min_per_type=1 if args.smoke_test else min_per_type)
    run_side_by_side(baseline, optimised, subset, backbone, task)
    report(baseline, optimised, subset, args.device, target)
    return 0
