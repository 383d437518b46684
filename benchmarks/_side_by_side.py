"""Train the same single edges two ways, alternating edge by edge, and compare time and accuracy.

Shared by the training benchmarks. Alternating means load from anything else on the machine hits
both ways alike; each way's time includes whatever it builds on first use (e.g. the prefix cache).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from placement_search.config import Config
from placement_search.placement.edges import Edge, Placement
from placement_search.training import train_placement


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
