"""Regret and targets by compute on hand-made frames: costs, overheads, what counts as found, quantiles.

A 3-edge ground truth (values 0.9, 0.8, 0.7) and replays whose compute is worked out by hand in the
comments; no store, no searcher.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from placement_search.analysis.regret import (
    hits,
    near_best_threshold,
    quantile,
    regret_compute_summary,
    regret_curves,
    target_summary,
)

GT = pd.DataFrame({"placement": ["0->0", "0->1", "1->0"], "source": [0, 0, 1], "destination": [0, 1, 0],
                   "type": ["sequential", "parallel", "recurrent"], "val_accuracy_mean": [0.9, 0.8, 0.7]})
#: relative cost per epoch of each placement (a recurrent edge twice the others)
RELATIVE = {"0->0": 1.0, "0->1": 1.0, "1->0": 2.0}


def cost(placement: str, epochs: float) -> float:
    return epochs * RELATIVE[placement]


def frame(runs: dict[str, tuple[str, list[tuple[str, str, float]]]]) -> pd.DataFrame:
    """Trials of replay searches: search -> (searcher, [(placement, status, epochs), ...])."""
    rows, trial_id = [], 0
    for search, (searcher, trials) in runs.items():
        for placement, status, epochs in trials:
            trial_id += 1
            own = float(GT.set_index("placement").loc[placement, "val_accuracy_mean"]) - 0.01
            rows.append({"search": search, "searcher": searcher, "trial_id": trial_id, "placement": placement,
                         "status": status, "epochs": epochs,
                         "val_accuracy": own if status != "stopped" else own - 0.2})
    return pd.DataFrame(rows)


RUNS = {
    # s1: 1->0 (3 epochs x 2 = 6), 0->1 stopped at 1 epoch (1), 0->0 (3): found the best at 10
    "s1": ("random", [("1->0", "replayed", 3.0), ("0->1", "stopped", 1.0), ("0->0", "replayed", 3.0)]),
    # s2: 0->0 stopped (1), 0->0 reused of a stopped trial (0: not found), 0->1 (3) -> best 0.8
    "s2": ("random", [("0->0", "stopped", 1.0), ("0->0", "reused", 1.0), ("0->1", "replayed", 3.0)]),
    # s3 (scores, overhead 0.5): 0->1 (3.5), 0->1 reused (free, counts), 0->0 (6.5)
    "s3": ("gga", [("0->1", "replayed", 3.0), ("0->1", "reused", 3.0), ("0->0", "replayed", 3.0)]),
}


@pytest.fixture
def curves():
    return regret_curves(frame(RUNS), GT, trial_cost=cost, overhead={"gga": 0.5})


def test_compute_and_found(curves):
    c = curves.set_index(["search", "trial"])
    assert c.loc["s1", "compute"].tolist() == [6.0, 7.0, 10.0]
    assert c.loc["s2", "compute"].tolist() == [1.0, 1.0, 4.0]
    assert c.loc["s3", "compute"].tolist() == [3.5, 3.5, 6.5]
    assert c.loc["s1", "full"].tolist() == [True, False, True]
    assert c.loc["s2", "full"].tolist() == [False, False, True]     # a copy of a stopped trial is not a run
    assert c.loc["s3", "full"].tolist() == [True, True, True]       # a copy of a full run is
    assert np.isnan(c.loc[("s2", 2), "value"]) and c.loc[("s2", 3), "value"] == pytest.approx(0.8)
    assert c.loc[("s1", 3), "regret"] == pytest.approx(0.0)
    assert np.isnan(c.loc[("s2", 1), "regret"])                      # nothing found yet
    assert c.loc[("s1", 2), "regret"] == pytest.approx(0.2)          # a stopped trial keeps the best so far
    assert c.loc["s3", "cost"].tolist() == [3.0, 0.0, 3.0]


def test_default_cost_is_epochs():
    c = regret_curves(frame(RUNS), GT)
    assert c.loc[c["search"] == "s1", "compute"].tolist() == [3.0, 4.0, 7.0]


def test_targets(curves):
    h = hits(curves, 0.9).set_index("search")
    assert h.loc["s1", "compute"] == 10.0 and h.loc["s1", "trials"] == 3
    assert math.isinf(h.loc["s2", "compute"]) and h.loc["s2", "total_compute"] == 4.0
    assert h.loc["s3", "compute"] == 6.5
    t = target_summary(curves, 0.9).set_index("searcher")
    # random: [10, inf] -> median interpolates towards inf
    assert t.loc["random", "n_found"] == 1 and math.isinf(t.loc["random", "compute_median"])
    assert t.loc["random", "compute_q25"] == pytest.approx(math.inf)
    assert t.loc["gga", "compute_median"] == 6.5 and t.loc["gga", "trials_median"] == 3
    within = target_summary(curves, near_best_threshold(GT, 0.15)).set_index("searcher")  # >= 0.75
    assert within.loc["random", "compute_median"] == pytest.approx((10.0 + 4.0) / 2)
    assert within.loc["gga", "compute_median"] == 3.5


def test_quantile_with_never():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5 == np.quantile([1, 2, 3, 4], 0.5)
    assert quantile([4, 1, 3, 2], 0.25) == pytest.approx(np.quantile([1, 2, 3, 4], 0.25))
    assert quantile([1, 2, math.inf], 0.5) == 2
    assert math.isinf(quantile([1, 2, math.inf], 0.75))
    assert quantile([1, math.inf, math.inf], 0.0) == 1
    assert math.isnan(quantile([], 0.5))


def test_regret_by_compute(curves):
    s = regret_compute_summary(curves, grid=[0.0, 3.5, 6.0, 7.0, 10.0])
    r = s[s["searcher"] == "random"].set_index("compute")
    # x = 0: nothing yet in either seed; x = 6: s1 best 0.7 (regret 0.2), s2 ended at 4 with 0.8 (0.1)
    assert math.isinf(r.loc[0.0, "regret_median"]) and r.loc[0.0, "n_seeds"] == 2
    assert r.loc[6.0, "n_seeds"] == 1 and r.loc[6.0, "regret_median"] == pytest.approx(0.2)
    assert r.loc[10.0, "regret_median"] == pytest.approx(0.0)
    g = s[s["searcher"] == "gga"].set_index("compute")
    assert math.isinf(g.loc[0.0, "regret_median"])                 # the scoring pass comes first
    assert g.loc[3.5, "regret_median"] == pytest.approx(0.1) and g.loc[6.0, "regret_median"] == pytest.approx(0.1)
    assert 7.0 not in g.index                                      # its only seed ended at 6.5
    default_grid = regret_compute_summary(curves)
    assert default_grid["compute"].max() == pytest.approx(10.0)


def test_median_ratio_interval_holds_the_ratio_and_widens_with_noise():
    from placement_search.analysis import median_ratio_ci

    rng = np.random.default_rng(0)
    assert median_ratio_ci([2.0] * 20, [4.0] * 20, rng) == (0.5, 0.5, 0.5)
    y = rng.lognormal(3.0, 0.8, 200)
    point, lo, hi = median_ratio_ci(y[:100] * 0.5, y[100:], rng)
    assert lo < point < hi and lo < 0.5 < hi
    _, lo50, hi50 = median_ratio_ci(y[:50] * 0.5, y[100:150], rng)
    assert hi50 - lo50 > hi - lo  # fewer seeds, wider interval
    never = median_ratio_ci([math.inf] * 10, [1.0] * 10, rng)  # no seed reached the target
    assert never == (math.inf, math.inf, math.inf)
