"""analysis/probe_scores.py: the plan's adoption rule on hand-made tables, the score-column swap and
the probe's charge on hand-made replays."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import probe_scores as ps  # noqa: E402


def _table(default: dict[str, tuple[float, float]], variant: dict[str, tuple[float, float]]) -> pd.DataFrame:
    rows = []
    for searcher, figures in ((ps.DEFAULT, default), (ps.VARIANT, variant)):
        for store, (a, b) in figures.items():
            rows.append({"store": store, "searcher": searcher, "ratio_compute_top5": a, "ratio_compute_noise": b})
    return pd.DataFrame(rows)


STORES = (*ps.SELECTION, *ps.HELD_OUT)
BASE = {s: (0.8, 0.8) for s in STORES}


def test_a_variant_lower_on_every_figure_is_adopted():
    adopt, checks = ps.verdict(_table(BASE, {s: (0.7, 0.7) for s in STORES}))
    assert adopt and all(checks.values())


def test_one_figure_above_1x_refuses_the_variant():
    variant = {s: (0.5, 0.5) for s in STORES} | {ps.HELD_OUT[0]: (0.5, 1.01)}
    adopt, checks = ps.verdict(_table(BASE, variant))
    assert not adopt and not checks["never above 1x"]


def test_the_worst_selection_figure_must_fall():
    default = BASE | {ps.SELECTION[0]: (0.9, 0.8)}
    variant = {s: (0.5, 0.5) for s in STORES} | {ps.SELECTION[1]: (0.95, 0.5)}  # a new worst figure
    adopt, checks = ps.verdict(_table(default, variant))
    assert not adopt and not checks["worst selection figure lower"]
    assert checks["more figures fall than rise"]


def test_held_out_figures_that_rise_on_balance_refuse_the_variant():
    variant = {s: (0.7, 0.7) for s in ps.SELECTION} | {h: (0.85, 0.8) for h in ps.HELD_OUT}
    adopt, checks = ps.verdict(_table(BASE, variant))
    assert not adopt and not checks["held-out figures do not rise on balance"]
    assert checks["more figures fall than rise"] and checks["worst selection figure lower"]


def test_more_figures_must_fall_than_rise():
    variant = dict(BASE) | {s: (0.7, 0.9) for s in ps.SELECTION[:3]}  # three fall, three rise, the rest equal
    adopt, checks = ps.verdict(_table(BASE, variant))
    assert not adopt and not checks["more figures fall than rise"]
    variant |= {ps.SELECTION[3]: (0.79, 0.8)}  # a fourth fall tips it
    assert ps.verdict(_table(BASE, variant))[1]["more figures fall than rise"]


def _ground_truth():
    from placement_search.config import load_config
    from placement_search.placement.edges import EdgeSpace

    space = EdgeSpace(3, ("sequential",))
    edges = list(space.edges)
    scores = pd.DataFrame({"source": [e.source for e in edges], "destination": [e.destination for e in edges],
                           "rank": np.linspace(0.0, 1.0, len(edges)), "nuclear_norm": [0.0] * len(edges)})
    gt = ps.ss.GroundTruth("m", load_config(ROOT / "search_spaces/tiny.yaml"), space,
                           {e: 0.5 + 0.01 * k for k, e in enumerate(edges)}, scores, 0.01, 3.0)
    # the probe column in reverse edge order, its rows shuffled
    spectra = scores.assign(nuclear_norm=np.arange(len(edges), 0, -1.0)).sample(frac=1.0, random_state=0)
    return gt, edges, spectra


def test_the_score_column_is_swapped_edge_for_edge():
    from placement_search.placement.edges import Edge

    gt, edges, spectra = _ground_truth()
    swapped = ps.with_score_column(gt, spectra)
    assert swapped.name == "m+probe" and swapped.accuracy == gt.accuracy
    got = {Edge(int(s), int(d)): r for s, d, r in swapped.scores[["source", "destination", "rank"]].itertuples(index=False)}
    assert got == {e: float(len(edges) - k) for k, e in enumerate(edges)}
    with pytest.raises(SystemExit, match="lack edges"):
        ps.with_score_column(gt, spectra.iloc[1:])


def test_the_probe_charge_lands_on_both_figures_and_never_reaches_a_miss():
    runs = [{"compute_top5": 3.0, "compute_noise": math.inf, "trials_top5": 1}]
    assert ps.charged(runs, 1.5) == [{"compute_top5": 4.5, "compute_noise": math.inf, "trials_top5": 1}]


def test_the_amendments_searcher_keeps_the_rank_and_gives_the_probe_column_a_slope_of_the_ranks_variance():
    from placement_search.search.features import TransferPrior, normal_scores

    gt, edges, spectra = _ground_truth()
    searcher = ps.ss.make_prior_gp(gt, TransferPrior.flat(), ps.BOTH_PARAMS, 0, source_maps=ps.probe_column(gt, spectra))
    model = searcher.model
    assert list(model.edges) == edges
    np.testing.assert_allclose(model.X[:, 1], normal_scores(gt.scores["rank"].to_numpy()))  # the fresh rank, kept
    np.testing.assert_allclose(model.X[:, 6], normal_scores(np.arange(len(edges), 0, -1.0)))  # the probe, edge for edge
    assert model.params.source_var == model.params.trust_var == ps.ss.DEFAULT_PARAMS.trust_var
    # the probe column's slope adds trust_var * x^2 to each edge's prior variance
    plain = ps.ss.make_prior_gp(gt, TransferPrior.flat(), ps.ss.DEFAULT_PARAMS, 0).model
    np.testing.assert_allclose(model.prior_sd ** 2 - plain.prior_sd ** 2, 2.0 * model.X[:, 6] ** 2, atol=1e-9)
    assert searcher.suggest("t1")["placement"]


def test_the_plot_draws_every_searcher_on_every_map(tmp_path):
    rows = []
    for k, searcher in enumerate((ps.DEFAULT, ps.VARIANT, ps.BOTH)):
        for store in STORES:
            row = {"store": store, "searcher": searcher}
            for m in ps.ss.TARGETS:
                row |= {f"ratio_{m}": 0.6 + 0.1 * k, f"ratio_{m}_lo": 0.5, f"ratio_{m}_hi": 0.9 + 0.1 * k}
            rows.append(row)
    ps.plot(pd.DataFrame(rows), tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
