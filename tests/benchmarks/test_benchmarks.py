"""Each benchmark script runs from a checkout and prints its ratio (smoke-test sizes, tiny models).

The full-size runs are what the README quotes; these only prove the scripts work end to end and
that the optimised and naive ways agree where they must (same accuracies, same ranks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), "--smoke-test", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("name", ["prefix_cache_sweep.py", "padding_trim.py"])
def test_training_benchmarks_agree_on_accuracy(name):
    out = run_benchmark(name)
    assert "largest accuracy difference: 0.00 points" in out
    assert re.search(r"speed-up \d+\.\d+x", out)
    assert re.search(r"ratio by edge type: sequential \d", out)


def test_scoring_benchmark_ranks_match():
    out = run_benchmark("scoring_one_pass.py")
    assert re.search(r"speed-up \d+\.\d+x", out) and "ranks identical: True" in out


@pytest.mark.slow
def test_search_efficiency_replays_the_committed_ground_truth():
    """Both committed stores (read through a read-only copy: they stay untouched), 5 seeds."""
    stores = [ROOT / "analysis" / "results" / f for f in ("minilm_trec6.sqlite", "dinov2s_fashion.sqlite")]
    before = [p.read_bytes() for p in stores]
    out = run_benchmark("search_efficiency.py", *[a for p in stores for a in ("--store", str(p))])
    assert "gga-tpe" in out and "random" in out and "measured per-epoch costs" in out
    assert re.search(r"bootstrap 95 % intervals \(seeds resampled\): \(a\) \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", out)
    for p in stores:
        assert re.search(rf"^{re.escape(p.name)}: default/random compute = \d+\.\d\d$", out, re.MULTILINE)
    assert [p.read_bytes() for p in stores] == before
