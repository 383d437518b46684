"""analysis/task_dependence.py: a sample of a sweep and the whole sweep are one task, compared with
neither itself nor counted twice. The tiny random-init preset; real training, seconds."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import sweep_local  # noqa: E402
import task_dependence  # noqa: E402

TINY = str(ROOT / "search_spaces/tiny.yaml")


def test_the_complete_sweep_of_a_task_stands_for_its_sample(tmp_path, capsys):
    sample, full = tmp_path / "tiny_sample.sqlite", tmp_path / "tiny_full.sqlite"
    for path, extra in ((sample, ["--every", "5"]), (full, [])):
        assert sweep_local.main([TINY, "--store", f"sqlite:///{path}", "--set", "training.epochs=1", *extra]) == 0
    for order in ([sample, full], [full, sample]):
        gts = task_dependence.ground_truths(order, tmp_path)
        assert list(gts) == ["tiny_full"] and len(gts["tiny_full"][1]) == 25
        assert "left out: tiny_sample holds the same task as tiny_full (5 against 25 edges)" in capsys.readouterr().out
