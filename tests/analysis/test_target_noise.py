"""analysis/target_noise.py: redrawn maps are reproducible and as noisy as the store's trial sd, the
stored-map oracle pays for the edges it tries in the stored order, and the summary counts the draws
that meet each target. A hand-made ground truth; no store, no training."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import searcher_selection as ss  # noqa: E402
import target_noise as tn  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402


def _ground_truth(noise_sd: float = 0.01) -> ss.GroundTruth:
    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    space = EdgeSpace(8, tuple(cfg.space.edge_types))
    acc = {e: 0.7 + 0.001 * i for i, e in enumerate(space.edges)}
    scores = pd.DataFrame({"source": [e.source for e in space.edges], "destination": [e.destination for e in space.edges],
                           "rank": np.arange(len(space.edges), dtype=float)})
    gt = ss.GroundTruth("made-up", cfg, space, acc, scores, noise_sd, 1.0)
    gt.cost = lambda placement: 1.0  # every edge one epoch-equivalent: compute = edges tried
    return gt


def test_a_redrawn_map_moves_every_edge_by_the_trial_noise_and_is_reproducible():
    gt = _ground_truth(noise_sd=0.01)
    assert tn.redraw(gt, 0) is gt
    one, again, other = tn.redraw(gt, 1), tn.redraw(gt, 1), tn.redraw(gt, 2)
    assert one.accuracy == again.accuracy and one.accuracy != other.accuracy
    moved = np.array([one.accuracy[e] - gt.accuracy[e] for e in gt.accuracy])
    assert 0.007 < moved.std() < 0.013 and abs(moved.mean()) < 0.003
    # the targets follow the redrawn map, not the stored one
    assert one.top5 == np.sort(list(one.accuracy.values()))[::-1][math.ceil(0.05 * len(gt.accuracy)) - 1]


def test_the_oracle_tries_the_stored_order_and_pays_per_edge():
    gt = _ground_truth()
    assert tn.oracle(gt, gt, seed=0) == {"compute_top5": 1.0, "compute_noise": 1.0}  # the stored best, first
    flipped = ss.GroundTruth("flipped", gt.cfg, gt.space, {e: 1.4 - a for e, a in gt.accuracy.items()}, gt.scores, 0.0, 1.0)
    flipped.cost = gt.cost
    # the stored map's order is the worst order on the flipped map: every edge tried
    out = tn.oracle(gt, flipped, seed=0)
    assert out["compute_top5"] == len(gt.accuracy) - math.ceil(0.05 * len(gt.accuracy)) + 1
    assert out["compute_noise"] == len(gt.accuracy)


def test_the_summary_counts_the_draws_meeting_each_target():
    rows = pd.DataFrame({"store": ["s"] * 5, "draw": range(5),
                         "default_a": [0.9, 0.4, 0.5, 1.2, math.inf], "default_b": [0.3, 0.2, 0.2, 0.2, 0.2],
                         "oracle_a": [0.1] * 5, "oracle_b": [0.1] * 5})
    out = tn.summary(rows).set_index("target")
    assert out.loc["a", "draws"] == 4 and out.loc["a", "stored_map"] == 0.9
    assert out.loc["a", "share_le_0.5"] == 0.5 and out.loc["a", "share_le_1.0"] == 0.5
    assert out.loc["a", "median"] == 0.85 and out.loc["b", "share_le_0.5"] == 1.0


def test_one_draw_replays_the_default_random_and_the_oracle(tmp_path):
    gt = _ground_truth()
    row = tn.draw_row(gt, ss.transfer_for(None, []), draw=1, seeds=3)
    assert row["store"] == "made-up" and row["draw"] == 1 and row["top5_edges"] >= 1
    for t in ("a", "b"):
        assert row[f"default_{t}"] > 0 and row[f"oracle_{t}"] > 0 and math.isfinite(row[f"random_{t}"])
    table = pd.DataFrame([tn.draw_row(gt, ss.transfer_for(None, []), d, 2) for d in range(3)])
    tn.plot(table, tmp_path / "noise.png")
    assert (tmp_path / "noise.png").stat().st_size > 0


@pytest.mark.parametrize("setting, message", [("bogus=1", "bogus: not a prior-gp hyper-parameter"),
                                              ("temperature", "--set takes NAME=VALUE"),
                                              ("temperature=warm", "--set takes NAME=VALUE")])
def test_a_bad_setting_is_one_line_naming_it_before_anything_runs(setting, message, tmp_path):
    with pytest.raises(SystemExit) as exc:
        tn.main(["--set", setting, "--out", str(tmp_path)])
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert not any(tmp_path.iterdir())
