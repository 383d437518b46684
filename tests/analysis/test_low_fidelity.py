"""analysis/low_fidelity.py: the probing policies on hand-made maps where the compute is known, and
the script on the committed TREC-6 probe sweep (read from copies, the stores left untouched)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import low_fidelity as lf  # noqa: E402

N = 12
FINAL = np.arange(N, dtype=float)  # edge 11 is the best and the only hit
HITS = (FINAL == N - 1)[:, None]
COST = np.ones(N)
SHARE = np.full(N, 0.1)


def test_batch_trains_the_best_of_each_batch_of_eta_probes():
    probed, trained = [0, 5, 3], np.zeros(N, bool)
    assert lf.promotion("batch", probed[:2], trained, FINAL, 3) is None  # the batch is not full yet
    assert lf.promotion("batch", probed, trained, FINAL, 3) == 5
    trained[5] = True
    assert lf.promotion("batch", probed, trained, FINAL, 3) is None


def test_asha_trains_a_probed_edge_once_it_is_in_the_top_share_of_the_probes():
    trained = np.zeros(N, bool)
    assert lf.promotion("asha", [0, 5], trained, FINAL, 3) is None  # floor(2 / 3) = 0 promotable
    assert lf.promotion("asha", [0, 5, 3], trained, FINAL, 3) == 5
    trained[5] = True
    assert lf.promotion("asha", [0, 5, 3, 1, 2], trained, FINAL, 3) is None  # top 1 of 5 is trained
    assert lf.promotion("asha", [0, 5, 3, 1, 2, 4], trained, FINAL, 3) == 4  # top 2 of 6: 5 and 4


def test_a_faithful_probe_finds_the_best_for_the_probes_and_one_trial():
    order = np.arange(N)  # the best comes last
    got = lf.play(lf.in_order(order), FINAL, HITS, COST, SHARE, "batch", N)
    assert math.isclose(got[0], N * 0.1 + 1)
    assert lf.random_compute(order, HITS, COST) == [float(N)]


def test_a_misleading_probe_trains_everything_in_probe_order_at_the_end():
    order = np.arange(N)
    got = lf.play(lf.in_order(order), -FINAL, HITS, COST, SHARE, "batch", N)
    # one batch of all N: its best by the probe (edge 0) trained, then the rest best-probe first
    assert math.isclose(got[0], N * 0.1 + N)


def test_each_target_is_timed_at_its_own_first_hit():
    hits = np.stack([FINAL == N - 1, FINAL >= N - 3], axis=1)
    order = np.array([9, 11, *range(9), 10])
    got = lf.play(lf.in_order(order), FINAL, hits, COST, SHARE, "asha", 1)  # eta 1: train every probe at once
    assert math.isclose(got[1], 0.1 + 1) and math.isclose(got[0], 2 * (0.1 + 1))
    assert lf.random_compute(order, hits, COST) == [2.0, 1.0]


def test_a_probe_recipe_names_its_batch_only_where_it_differs_from_the_ground_truths():
    full = {"task": {"train_samples": 1500}, "training": {"epochs": 3, "batch_size": 32}}
    probe = {"task": {"train_samples": 375}, "training": {"epochs": 1.0, "batch_size": 32}}
    assert lf.recipe(probe, full) == lf.recipe(probe) == "n375 e1"
    assert lf.recipe({**probe, "training": {"epochs": 1, "batch_size": 8}}, full) == "n375 e1 b8"


def test_the_plans_rule_reads_only_the_recipe_it_is_asked_about():
    rows = []
    for store in lf.SELECTION:
        for target in ("a", "b"):
            # batch3 is best for the batch-32 probe, asha8 for the batch-8 one, on every map
            rows.append({"store": store, "probe": "n375 e1", "target": target,
                         **{k: 0.5 if k == "batch3" else 1.0 for k in lf.SETTINGS}})
            rows.append({"store": store, "probe": "n375 e1 b8", "target": target,
                         **{k: 0.2 if k == "asha8" else 3.0 for k in lf.SETTINGS}})
    table = pd.DataFrame(rows)
    chosen, folds = lf.choose(table)
    assert chosen == "batch3" and list(folds["left_out"]) == list(lf.SELECTION)
    assert (folds["chosen"] == "batch3").all() and (folds["on_it_a"] == 0.5).all()
    assert lf.choose(table, "n375 e1 b8")[0] == "asha8"


def test_the_script_on_the_committed_probe_sweep(tmp_path):
    store = ROOT / "analysis/results/low_fidelity/minilm_trec6.sqlite"
    before = store.read_bytes()
    lf.main(["--seeds", "5", "--only", "minilm_trec6", "--out", str(tmp_path)])
    assert store.read_bytes() == before
    table = pd.read_csv(tmp_path / "low_fidelity.csv")
    trec6 = table[(table["store"] == "minilm_trec6") & (table["probe"] == "n375 e1")]
    assert list(trec6["target"]) == ["a", "b"] and (trec6["edges"] == 169).all()
    # a quarter of the examples for one of three epochs, one validation pass instead of three
    assert 0.08 < trec6["probe_share_median"].iloc[0] < 0.15
    assert (trec6[["batch5", "asha5"]].to_numpy() > 0).all()
    heads = pd.read_csv(tmp_path / "probe_headroom.csv")
    assert set(heads["stop_share"].round(2)) == {0.5, 0.67, 0.75, 0.83, 0.9}


def test_split_sizes_left_to_fractions_are_read_off_the_prepared_task():
    from placement_search.config import load_config
    from placement_search.experiment import load_experiment

    cfg = load_config(ROOT / "search_spaces/tiny_vision.yaml")
    recipe = {s: cfg.to_dict()[s] for s in ("backbone", "task", "adapter", "training")}
    assert recipe["task"]["train_samples"] is None
    filled = lf.with_split_sizes(recipe)
    _, task = load_experiment(cfg)
    assert [filled["task"][k] for k in ("train_samples", "validation_samples", "test_samples")] == [
        len(task.train), len(task.validation), len(task.test)]
    assert lf.with_split_sizes(filled) is filled  # nothing to fill: the same recipe
