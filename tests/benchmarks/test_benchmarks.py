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
    out = run_benchmark("search_efficiency.py")
    assert "gga-tpe" in out and "random" in out
