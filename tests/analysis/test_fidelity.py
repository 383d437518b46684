"""analysis/fidelity.py: the ceiling on what stopping after one epoch saves, on hand-made curves
where the answer is known; the report's table and analysis/fidelity_headroom.py on a committed store."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from placement_search.analysis import first_epoch_accuracy, probe_headroom, stopping_headroom

ROOT = Path(__file__).resolve().parents[2]
PLACEMENTS = [f"{i}->{j}" for i in range(4) for j in range(4)]
FINAL = pd.Series(0.70 + 0.01 * np.arange(16), index=PLACEMENTS)  # the best, 3->3, is the only top-5 % edge
TOP = {"top5": float(FINAL.max())}


def _price(_placement: str) -> float:
    return 1.0


def test_a_faithful_first_epoch_saves_the_stopped_share_of_two_thirds():
    table = stopping_headroom(FINAL, FINAL - 0.1, _price, 3, TOP, stop_shares=(0.5,))
    row = table.iloc[0]
    assert row["target_edges"] == 1 and row["target_edges_kept"] == 1.0
    # half the edges cost one of three epochs: 0.5 * 1/3 + 0.5 = 2/3 of the compute
    assert math.isclose(row["cost_per_trial"], 2 / 3) and math.isclose(row["factor"], 2 / 3)


def test_a_misleading_first_epoch_stops_the_target_and_never_finds_it():
    row = stopping_headroom(FINAL, -FINAL, _price, 3, TOP, stop_shares=(0.5,)).iloc[0]
    assert row["target_edges_kept"] == 0.0 and math.isinf(row["factor"])


def test_prices_weigh_the_saving():
    """Stopping the dear edges early saves more than stopping cheap ones."""
    dear = set(PLACEMENTS[:8])  # the eight worst edges: the ones stopped at share 0.5
    row = stopping_headroom(FINAL, FINAL, lambda p: 10.0 if p in dear else 1.0, 3, TOP, stop_shares=(0.5,)).iloc[0]
    assert math.isclose(row["cost_per_trial"], (8 * 10 / 3 + 8 * 1) / (8 * 10 + 8 * 1))


def test_no_headroom_without_an_early_point():
    assert stopping_headroom(FINAL, FINAL, _price, 1, TOP).empty  # a one-epoch recipe stops nothing early
    assert stopping_headroom(FINAL, pd.Series(dtype=float), _price, 3, TOP).empty


def test_a_separate_probe_is_paid_by_every_edge_and_again_by_the_kept_ones():
    """A probe at a tenth of a trial that stops half the edges: 0.5 * 0.1 + 0.5 * 1.1 = 0.6."""
    share = pd.Series(0.1, index=PLACEMENTS)
    row = probe_headroom(FINAL, FINAL - 0.3, _price, share, TOP, stop_shares=(0.5,)).iloc[0]
    assert row["target_edges_kept"] == 1.0
    assert math.isclose(row["cost_per_trial"], 0.6) and math.isclose(row["factor"], 0.6)
    # stopping 15 of 16 on a faithful probe: (15 * 0.1 + 1.1) / 16
    row = probe_headroom(FINAL, FINAL, _price, share, TOP, stop_shares=(15 / 16,)).iloc[0]
    assert math.isclose(row["factor"], (15 * 0.1 + 1.1) / 16)


def test_a_probe_share_per_edge_weighs_each_edge():
    share = pd.Series([0.5 if p == "0->0" else 0.0 for p in PLACEMENTS], index=PLACEMENTS)
    row = probe_headroom(FINAL, FINAL, _price, share, TOP, stop_shares=(1 / 16,)).iloc[0]  # stops only 0->0
    assert math.isclose(row["cost_per_trial"], (0.5 + 15 * 1.0) / 16)


def test_first_epoch_is_where_asha_compares_averaged_over_seeds():
    rows = []
    for trial_id, (placement, seed, accs) in enumerate([("0->1", 0, [0.5, 0.6, 0.7, 0.8]), ("0->1", 1, [0.4, 0.5, 0.6, 0.7]),
                                                        ("1->1", 0, [0.9])]):
        epochs = [0.5, 1.0, 2.0, 3.0] if len(accs) == 4 else [1.0]
        rows += [{"trial_id": trial_id, "placement": placement, "seed": seed, "step": i, "epoch": e, "val_accuracy": a}
                 for i, (e, a) in enumerate(zip(epochs, accs, strict=True))]
    first = first_epoch_accuracy(pd.DataFrame(rows))
    # 0->1: the points at epoch 1 (not 0.5) of both seeds, averaged; 1->1 has only its last point
    assert first.to_dict() == {"0->1": 0.55}


def test_the_script_reads_a_committed_store_and_leaves_it_untouched(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "analysis"))
    import fidelity_headroom

    store = ROOT / "analysis/results/minilm_trec6.sqlite"
    before = store.read_bytes()
    out = tmp_path / "headroom.csv"
    fidelity_headroom.main(["--store", str(store), "--out", str(out)])
    table = pd.read_csv(out)
    assert store.read_bytes() == before
    assert set(table["target"]) == {"top5", "noise"} and (table["edges"] == 169).all()
    assert ((table["cost_per_trial"] > 1 / 3) & (table["cost_per_trial"] < 1)).all()
