"""analysis/probe_head.py: the plan's reading rule on hand-made tables, the correlations on a
hand-made map, and the two heads' spectra on the tiny model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import probe_head as ph  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.placement.edges import Edge  # noqa: E402


def _table(gains: dict[str, float], fresh: float = 0.3) -> pd.DataFrame:
    rows = []
    for store, gain in gains.items():
        rows += [{"store": store, "head": "fresh", "feature": ph.HYPOTHESIS, "spearman": fresh},
                 {"store": store, "head": "probe", "feature": ph.HYPOTHESIS, "spearman": fresh + gain}]
    return pd.DataFrame(rows)


def test_the_rule_needs_five_gains_above_the_margin_off_the_development_map():
    five = {f"map{i}": 0.2 for i in range(5)} | {"map5": 0.0, "map6": -0.05, ph.DEVELOPMENT: 0.3}
    worth, col = ph.verdict(_table(five))
    assert worth and bool(col.loc[ph.DEVELOPMENT, "holds"])
    four = five | {"map4": 0.09}  # a gain within the margin does not hold
    assert not ph.verdict(_table(four))[0]
    # the development map's gain never counts towards the five
    assert not ph.verdict(_table(four | {ph.DEVELOPMENT: 0.5, "map6": 0.0}))[0]


def test_the_rule_refuses_a_column_that_loses_more_than_the_margin_anywhere():
    gains = {f"map{i}": 0.3 for i in range(6)} | {"map6": -0.11}
    assert not ph.verdict(_table(gains))[0]
    assert ph.verdict(_table(gains | {"map6": -0.09}))[0]


def test_correlations_follow_the_map_per_head_over_its_measured_edges():
    edges = [Edge(i, j) for i in range(3) for j in range(3)]
    frame = pd.DataFrame({"source": [e.source for e in edges], "destination": [e.destination for e in edges],
                          "nuclear_norm": np.arange(9.0), "rank": np.zeros(9)})
    accuracy = {e: float(k) for k, e in enumerate(edges) if k != 4}  # one edge not measured
    table = ph.correlations("m", {"fresh": frame, "probe": frame.assign(nuclear_norm=-frame["nuclear_norm"])},
                            accuracy)
    got = table.set_index(["head", "feature"])
    assert got.loc[("fresh", "nuclear_norm"), "spearman"] == pytest.approx(1.0)
    assert got.loc[("probe", "nuclear_norm"), "spearman"] == pytest.approx(-1.0)
    assert (table["n_edges"] == 8).all()
    assert "rank" not in set(table["feature"])  # a constant column has no Spearman


def test_the_fresh_spectra_are_the_shipped_scores_and_the_probe_head_changes_them():
    from placement_search.experiment import load_experiment
    from placement_search.scoring import score_edges
    from placement_search.search.features import score_table_frame

    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    backbone, task = load_experiment(cfg)
    head, val = ph.probe_head(cfg, backbone, task)
    assert 0.0 <= val <= 1.0
    fresh = ph.spectra(cfg, backbone, task)
    shipped = score_table_frame(score_edges(backbone, task.train, task.num_classes, cfg.scoring, progress=False).to_frame())
    pd.testing.assert_frame_equal(fresh, shipped)
    probe = ph.spectra(cfg, backbone, task, head)
    assert not np.allclose(probe["nuclear_norm"], fresh["nuclear_norm"])


def test_first_hit_counts_trials_in_the_columns_order_with_ties_in_random_order():
    hits = np.array([False, True, False, False, True])
    assert ph.first_hit(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), hits) == 2
    assert ph.first_hit(np.array([1.0, 2.0, 5.0, 4.0, 3.0]), hits) == 3  # edges 2 and 3 miss, edge 4 hits
    # one tie of all five edges, two hits among them: random search's (n + 1) / (hits + 1)
    assert ph.first_hit(np.zeros(5), hits) == pytest.approx(2.0)
    assert np.isnan(ph.first_hit(np.zeros(5), np.zeros(5, bool)))


def test_the_script_on_the_committed_trec6_map_writes_both_heads_and_each_scoring_seed(tmp_path, capsys):
    ph.main(["--only", "minilm_trec6", "--scoring-seeds", "1", "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "probe_head.csv")
    seeds = pd.read_csv(tmp_path / "probe_head_scoring_seeds.csv")
    assert set(table["head"]) == {"fresh", "probe"} and set(seeds["scoring_seed"]) == {0, 1}
    first = seeds[seeds["scoring_seed"] == 0].drop(columns="scoring_seed").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, table.drop(columns="probe_val_accuracy"))
    committed = pd.read_csv(ROOT / "analysis/results/probe_head/probe_head.csv")
    pd.testing.assert_frame_equal(table, committed[committed["store"] == "minilm_trec6"].reset_index(drop=True))
    assert (tmp_path / "probe_head.png").stat().st_size > 0
    assert "not built in" in capsys.readouterr().out  # one map cannot make five
