"""analysis/fidelity_headroom.py: the ceiling on what stopping after one epoch saves, on hand-made
curves where the answer is known. No store, no training."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import fidelity_headroom as fh  # noqa: E402
import searcher_selection as ss  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402


def _ground_truth(epoch1_of) -> ss.GroundTruth:
    """16 edges with accuracies 0.70 .. 0.85 (the best is the only top-5 % edge), 3 epochs."""
    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    space = EdgeSpace(4, tuple(cfg.space.edge_types))
    acc = {e: 0.70 + 0.01 * i for i, e in enumerate(space.edges)}
    scores = pd.DataFrame({"source": [e.source for e in space.edges], "destination": [e.destination for e in space.edges],
                           "rank": np.zeros(len(space.edges))})
    epoch1 = {e: epoch1_of(a) for e, a in acc.items()}
    return ss.GroundTruth("made-up", cfg, space, acc, scores, 0.005, 3.0, epoch1)


def test_a_faithful_first_epoch_saves_the_stopped_share_of_two_thirds():
    gt = _ground_truth(lambda a: a - 0.1)  # one epoch ranks the edges exactly as the end
    rows = pd.DataFrame(fh.headroom_rows(gt, np.ones(16), stop_shares=(0.5,)))
    for row in rows.itertuples():
        assert row.target_edges_kept == 1.0
        # half the edges cost one of three epochs: 0.5 * 1/3 + 0.5 = 2/3 of the compute
        assert math.isclose(row.cost_per_trial, 2 / 3) and math.isclose(row.factor, 2 / 3)


def test_a_misleading_first_epoch_stops_the_target_and_never_finds_it():
    gt = _ground_truth(lambda a: -a)  # the best edge is the slowest starter
    row = fh.headroom_rows(gt, np.ones(16), stop_shares=(0.5,))[0]
    assert row["target"] == "top5" and row["target_edges"] == 1
    assert row["target_edges_kept"] == 0.0 and math.isinf(row["factor"])


def test_prices_weigh_the_saving():
    """Stopping an expensive edge early saves more than stopping a cheap one."""
    gt = _ground_truth(lambda a: a)
    prices = np.ones(16)
    prices[:8] = 10.0  # the eight worst edges, the ones stopped at share 0.5, are the dear ones
    row = fh.headroom_rows(gt, prices, stop_shares=(0.5,))[0]
    assert math.isclose(row["cost_per_trial"], (8 * 10 / 3 + 8 * 1) / (8 * 10 + 8 * 1))
