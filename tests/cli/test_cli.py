"""The command line: outputs on tiny and real presets, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from placement_search.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "search_spaces" / "tiny.yaml")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "preset, points, edges, by_type",
    [
        ("dinov2s_fashion.yaml", 25, 625, (25, 24, 276, 300)),
        ("minilm_trec6.yaml", 13, 169, (13, 12, 66, 78)),
    ],
)
def test_space_of_the_offline_presets(capsys, preset, points, edges, by_type):
    code, out, _ = run(capsys, "space", str(ROOT / "search_spaces" / preset))
    assert code == 0
    assert f"points        {points} " in out and f"edges         {edges} of {edges}" in out
    for name, count in zip(("sequential", "parallel", "long-range", "recurrent"), by_type):
        assert f"  {name:<12}{count}\n" in out


def test_score_gga_train_round_trip(capsys, tmp_path):
    csv = tmp_path / "scores.csv"
    code, out, _ = run(capsys, "score", TINY, "--out", str(csv))
    assert code == 0 and "wrote 25 edges" in out
    frame = pd.read_csv(csv)
    assert len(frame) == 25 and {"source", "destination", "type", "rank", "stable_rank"} <= set(frame.columns)
    code, out, _ = run(capsys, "gga", TINY, "-k", "3", "--gamma", "0.6", "--scores", str(csv))
    placement = out.strip()
    assert code == 0 and len(placement.split(",")) == 3
    code, out2, _ = run(capsys, "gga", TINY, "-k", "3")  # scores computed on the fly: same answer
    assert out2.strip() == placement
    metrics = tmp_path / "m.json"
    code, out, _ = run(capsys, "train", TINY, "-p", placement, "--out", str(metrics), "--set", "training.epochs=1")
    assert code == 0 and "test accuracy" in out
    saved = json.loads(metrics.read_text())
    assert saved["placement"] == placement and saved["curve"] and saved["num_adapter_params"] > 0


def test_train_named_baseline(capsys):
    code, out, _ = run(capsys, "train", TINY, "-p", "random-k:2:seed=3", "--set", "training.epochs=1")
    assert code == 0 and "(2 adapters)" in out


@pytest.fixture
def unlabelled_csv(tmp_path):
    path = tmp_path / "questions.csv"
    path.write_text("text,topic\n" + "".join(f"question number {i},{i % 2}\n" for i in range(40)))
    return path


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["space", TINY, "--set", "backbone.name=resnet-50"], "unknown backbone 'resnet-50'"),
        (["train", TINY, "-p", "0->9"], "edge 0->9 is out of range; points run from 0 to 4"),
        (["train", TINY, "-p", "0-1"], "malformed edge '0-1'"),
        (["train", TINY, "-p", "3->3,3->3"], "appears twice"),
        (["space", TINY, "--set", "space.edge_types=[diagonal]"], "unknown edge type 'diagonal'"),
        (["gga", TINY, "-k", "26"], "K=26 must be between 1 and the 25 edges"),
        (["train", TINY, "-p", "top-k:26"], "K=26 is larger than the 25 edges"),
        (["train", TINY, "--set", "training.epoch=1"], "unknown config key training.epoch"),
        (["space", "missing.yaml"], "config file missing.yaml does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err


def test_missing_label_column(capsys, unlabelled_csv):
    code, _, err = run(capsys, "train", TINY, "-p", "empty", "--set", f"task.name={unlabelled_csv}",
                       "--set", "task.text_column=text", "--set", "task.label_column=label")
    assert code == 2 and err.count("\n") == 1 and "label" in err and "topic" in err


def test_exit_code_of_the_installed_command():
    proc = subprocess.run([sys.executable, "-m", "placement_search.cli", "train", TINY, "-p", "7->7"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: edge 7->7 is out of range")
