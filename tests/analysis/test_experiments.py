"""Calibration, seed-noise and multi-adapter tables: checked against hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from placement_search.analysis.calibration import calibration_summary, rtol_calibration, score_agreement
from placement_search.analysis.experiments import multi_adapter_table, seed_noise
from placement_search.scoring import EdgeScores


def _scores(n: int, decay: torch.Tensor) -> EdgeScores:
    """Spectra whose rank at rtol 1e-2 grows with ``decay`` per edge (d = 8 values each)."""
    k = torch.arange(8, dtype=torch.float64)
    return EdgeScores(torch.exp(-k[None, None, :] / decay[..., None]), rtol=1e-2)


def _ground_truth(n: int, acc: np.ndarray) -> pd.DataFrame:
    src, dst = np.divmod(np.arange(n * n), n)
    return pd.DataFrame({"source": src, "destination": dst, "val_accuracy_mean": acc})


def test_rtol_calibration_finds_the_informative_tolerance():
    n = 4
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.5, 0.9, n * n)
    # slower decay = higher rank at small rtol; make decay follow accuracy
    decay = torch.tensor(0.2 + 3.0 * (acc - 0.5), dtype=torch.float64).reshape(n, n)
    tables = {("tokens", 0): _scores(n, decay), ("mean", 0): _scores(n, decay.flip(0))}
    cal = rtol_calibration(tables, _ground_truth(n, acc), rtols=(1e-1, 1e-2), n_boot=50)
    assert set(cal["pooling"]) == {"tokens", "mean"} and len(cal) == 4
    row = cal[(cal.pooling == "tokens") & (cal.rtol == 1e-2)].iloc[0]
    ranks = tables[("tokens", 0)].ranks(1e-2).reshape(-1).numpy()
    assert row["spearman"] == pytest.approx(stats.spearmanr(ranks, acc).statistic)
    assert row["spearman_lo"] <= row["spearman"] <= row["spearman_hi"]
    summary = calibration_summary(cal)
    assert summary.iloc[0]["pooling"] == "tokens" and summary["best_for_seeds"].sum() == 1
    agree = score_agreement({**tables, ("tokens", 1): tables[("tokens", 0)]}, 1e-2)
    assert list(agree["spearman"]) == [pytest.approx(1.0)]


def _trial(search, searcher, label, placement, k, seed, val, test=None, params=0):
    return {"search": search, "searcher": searcher, "label": label, "placement": placement, "k": k,
            "seed": seed, "status": "completed", "val_accuracy": val,
            "test_accuracy": val if test is None else test, "num_adapter_params": params}


def test_seed_noise_and_multi_adapter_table():
    rows = []
    a = [0.80, 0.82, 0.84, 0.86, 0.88]
    b = [0.81, 0.81, 0.85, 0.86, 0.90]
    for i, (x, y) in enumerate(zip(a, b)):
        rows.append(_trial("gt", "exhaustive", None, f"{i}->{i}", 1, 0, x))
        rows.append(_trial("rep", "repeat", None, f"{i}->{i}", 1, 1, y))
    rows.append(_trial("g", "gga", "gga gamma 0.6", "0->0,1->1", 2, 0, 0.9, params=20))
    rows.append(_trial("g", "gga", "gga gamma 0.0", "0->0,2->2", 2, 0, 0.85, params=20))
    for i, v in enumerate([0.8, 0.84]):
        rows.append(_trial("r", "random", None, f"{i}->0,{i}->1", 2, 0, v, params=20))
    trials = pd.DataFrame(rows)

    noise = seed_noise(trials, n_boot=50)
    val = noise[noise.metric == "val_accuracy"].iloc[0]
    diff = np.array(b) - np.array(a)
    assert val["edges"] == 5
    assert val["mean_abs_diff"] == pytest.approx(np.abs(diff).mean())
    assert val["trial_sd"] == pytest.approx(diff.std(ddof=1) / math.sqrt(2))
    assert val["spearman"] == pytest.approx(stats.spearmanr(a, b).statistic)

    table = multi_adapter_table(trials, best_single=0.88)
    assert set(table["search"]) == {"g", "r"}  # ground truth and repeats are not experiments
    rnd = table[table.variant == "random"].iloc[0]
    assert rnd["n"] == 2 and rnd["val_mean"] == pytest.approx(0.82) and rnd["val_best"] == pytest.approx(0.84)
    g6 = table[table.variant == "gga gamma 0.6"].iloc[0]
    assert g6["val_mean_minus_best_single"] == pytest.approx(0.02)


def test_training_noise_pairs_seeds_not_the_averaged_map():
    """One trial's sd comes from paired seed differences (sd(diff) / sqrt 2), whatever the ground
    truth averages; with no edge trained twice it is the documented default."""
    from placement_search.analysis.experiments import training_noise
    from placement_search.analysis.regret import DEFAULT_TRIAL_SD

    rng = np.random.default_rng(0)
    base = rng.uniform(0.8, 0.9, 200)
    rows = [{"placement": f"{i}->0", "seed": s, "val_accuracy": a + rng.normal(0, 0.01), "test_accuracy": a,
             "status": "completed", "k": 1, "searcher": "exhaustive"} for s in (0, 1) for i, a in enumerate(base)]
    sd, where = training_noise(pd.DataFrame(rows))
    assert sd == pytest.approx(0.01, rel=0.15) and "200 single edges" in where
    one_seed = pd.DataFrame([r for r in rows if r["seed"] == 0])
    assert training_noise(one_seed) == (DEFAULT_TRIAL_SD, "no edge trained with two seeds in this store: documented default")
