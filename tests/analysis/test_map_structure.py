"""analysis.map_structure: an additive source + destination map is explained and predicted, a map
of noise is not, and a prior column is a covariate of every model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from placement_search.analysis import map_structure


def _frame(value) -> pd.DataFrame:
    n = 9
    pairs = [(s, d) for s in range(n) for d in range(n)]
    return pd.DataFrame({"source": [s for s, _ in pairs], "destination": [d for _, d in pairs],
                         "val_accuracy_mean": [value(s, d) for s, d in pairs]})


def test_an_additive_map_is_explained_by_its_rows_and_columns():
    rng = np.random.default_rng(0)
    col, row = rng.normal(size=9), 0.3 * rng.normal(size=9)
    frame = _frame(lambda s, d: col[d] + row[s] + 0.01 * rng.normal())
    table = map_structure(frame).set_index("model")
    assert table.loc["source + destination", "loo_r2"] > 0.99
    assert table.loc["destination", "r2"] > 0.8 > table.loc["source", "r2"]
    assert (table["edges"] == 81).all()


def test_noise_is_not_predicted_for_a_left_out_edge():
    rng = np.random.default_rng(1)
    table = map_structure(_frame(lambda s, d: rng.normal())).set_index("model")
    assert table.loc["source + destination", "r2"] > 0.1        # in-sample fit of noise
    assert table.loc["source + destination", "loo_r2"] < 0.05   # ... predicts nothing


def test_a_prior_column_is_a_covariate_of_every_model():
    rng = np.random.default_rng(2)
    frame = _frame(lambda s, d: 0.0)
    frame["prior"] = rng.normal(size=len(frame))
    frame["val_accuracy_mean"] = 2 * frame["prior"] + 0.01 * rng.normal(size=len(frame))
    table = map_structure(frame, prior="prior").set_index("model")
    assert list(table.index) == ["prior", "prior + source", "prior + destination", "prior + source + destination"]
    assert table.loc["prior", "loo_r2"] > 0.99
    assert table.loc["prior + source + destination", "parameters"] == 2 + 8 + 8


def test_an_edge_alone_in_its_level_counts_as_unpredicted():
    """Leaving out the only edge into a point leaves that point's level unfitted: its prediction is
    the rest of the model, not a perfect fit (the hat-matrix shortcut divides 0 by 0 there)."""
    rng = np.random.default_rng(3)
    col = rng.normal(size=9)
    frame = _frame(lambda s, d: col[d])
    frame = frame[(frame["destination"] != 8) | (frame["source"] == 0)]  # one edge into point 8
    frame.loc[(frame["destination"] == 8), "val_accuracy_mean"] = 10.0   # far from every other level
    table = map_structure(frame).set_index("model")
    assert table.loc["destination", "r2"] > 0.999
    assert table.loc["destination", "loo_r2"] < 0.9   # the shortcut alone would give 1.0
