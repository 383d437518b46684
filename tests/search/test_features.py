"""Edge features (search/features.py) and the shipped transfer prior, without Ray or a store.

Structure columns are backbone-independent (normalised by n - 1); score columns are standardised
per task by rank, so any monotone rescaling of a score table gives the same features; the
transfer prior fitted on one backbone's map carries its structure to another backbone's size.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from placement_search.placement.edges import Edge, EdgeSpace
from placement_search.search.features import (
    STRUCTURE_COLUMNS,
    EdgeFeatures,
    TransferPrior,
    normal_scores,
    score_columns,
    score_table_frame,
    standardized_scores,
    structure_matrix,
)


def full_table(n: int, fn) -> dict[Edge, float]:
    return {Edge(i, j): float(fn(i, j)) for i in range(n) for j in range(n)}


def test_normal_scores_are_rank_based_with_ties_averaged():
    z = normal_scores([3.0, 1.0, 2.0, 2.0])
    assert z[1] < z[2] == z[3] < z[0]
    assert abs(z.mean()) < 1e-12
    assert np.allclose(normal_scores([5, 5, 5]), 0.0)
    out = normal_scores([1.0, np.nan, 2.0])
    assert np.isnan(out[1]) and out[0] < out[2]


def test_structure_columns_are_normalised_and_typed():
    edges = [Edge(2, 0), Edge(0, 2), Edge(1, 1), Edge(1, 2)]
    m = structure_matrix(edges, 3)
    assert m.shape == (4, len(STRUCTURE_COLUMNS))
    col = {c: m[:, i] for i, c in enumerate(STRUCTURE_COLUMNS)}
    assert col["src"].tolist() == [1.0, 0.0, 0.5, 0.5]
    assert col["dst"].tolist() == [0.0, 1.0, 0.5, 1.0]
    assert col["depth"].tolist() == [1.0, -1.0, 0.0, -0.5]
    assert col["is_recurrent"].tolist() == [1, 0, 0, 0]
    assert col["is_long_range"].tolist() == [0, 1, 0, 0]
    assert col["is_sequential"].tolist() == [0, 0, 1, 0]
    assert col["is_parallel"].tolist() == [0, 0, 0, 1]
    assert (m[:, 3:].sum(1) == 1).all()


def test_score_features_are_invariant_to_monotone_rescaling_of_the_table():
    n = 5
    table = full_table(n, lambda i, j: (i * 7 + j * 3) % 11 + 0.1 * i)
    rescaled = {e: 1000 + 50 * v**3 for e, v in table.items()}
    a = standardized_scores(table)
    b = standardized_scores(rescaled)
    assert list(a.columns) == ["rank"]
    assert np.allclose(a.to_numpy(), b.to_numpy())
    assert abs(a["rank"].mean()) < 1e-9


def test_score_frame_columns_and_derived_frobenius_norm():
    frame = pd.DataFrame({"source": [0, 0, 1, 1], "destination": [0, 1, 0, 1], "rank": [3, 2, 1, 4],
                          "sigma_max": [1.0, 2.0, 3.0, 4.0], "stable_rank": [4.0, 1.0, 1.0, 4.0],
                          "effective_rank": [1, 2, 3, 4], "nuclear_norm": [1, 1, 2, 2],
                          "rank_rtol_0.001": [9, 9, 8, 7], "rank_rtol_0.1": [1, 1, 1, 2]})
    out = score_table_frame(frame)
    assert out["frobenius"].tolist() == [2.0, 2.0, 3.0, 8.0]
    assert score_columns(out) == ["rank", "rank_rtol_0.1", "rank_rtol_0.001", "stable_rank", "effective_rank",
                                  "nuclear_norm", "sigma_max", "frobenius"]
    z = standardized_scores(frame, ["rank", "effective_rank"])
    assert z.index.tolist() == [Edge(0, 0), Edge(0, 1), Edge(1, 0), Edge(1, 1)]
    assert z.loc[Edge(1, 1), "rank"] > z.loc[Edge(0, 0), "rank"] > z.loc[Edge(1, 0), "rank"]


@pytest.mark.parametrize("space", [EdgeSpace(4), EdgeSpace(5, ("recurrent",)), EdgeSpace(5, ("sequential", "parallel"))])
def test_edge_features_cover_the_space_in_its_order(space):
    table = full_table(space.num_points, lambda i, j: i - j)
    feats = EdgeFeatures.build(space, table)
    assert feats.edges == space.edges
    assert feats.columns == (*STRUCTURE_COLUMNS, "rank")
    assert feats.matrix.shape == (len(space), len(STRUCTURE_COLUMNS) + 1)
    assert np.isfinite(feats.matrix).all()
    # standardised over the whole backbone's table, not the allowed edges only
    whole = standardized_scores(table)["rank"]
    assert np.allclose(feats.column("rank"), whole.loc[list(space.edges)].to_numpy())
    assert EdgeFeatures.build(space).columns == STRUCTURE_COLUMNS


def test_edge_features_refuse_a_table_that_misses_an_edge():
    space = EdgeSpace(3)
    table = full_table(3, lambda i, j: i)
    del table[Edge(2, 1)]
    with pytest.raises(KeyError, match="2->1"):
        EdgeFeatures.build(space, table)


def test_transfer_prior_carries_structure_to_another_backbone_size():
    # a made-up task where recurrent edges into early points are best and long-range into the end worst
    def acc(i, j, n):
        return (0.8 + 0.05 * (i > j) - 0.03 * (j / (n - 1)) + 0.001 * ((i * 13 + j * 7) % 5))

    truth = {Edge(i, j): acc(i, j, 9) for i in range(9) for j in range(9)}
    prior = TransferPrior.fit([("made-up", truth, 9)])
    assert prior.sources == ("made-up",) and len(prior.tasks[0][2]) == 81
    space = EdgeSpace(13)
    pred = prior.predict(list(space.edges), 13)
    rec = np.array([e.is_recurrent for e in space.edges])
    assert pred[rec].mean() > pred[~rec].mean() + 0.5
    early = np.array([e.destination <= 3 and e.is_recurrent for e in space.edges])
    late = np.array([e.destination >= 9 and e.is_recurrent for e in space.edges])
    assert pred[early].mean() > pred[late].mean()
    assert np.allclose(TransferPrior.flat().predict(list(space.edges), 13), 0.0)
    # the same prior rebuilt from its stored fields predicts the same (what transfer_prior.py ships)
    again = TransferPrior(prior.tasks, prior.amplitude, prior.lengthscales, prior.noise)
    assert np.allclose(again.predict(list(space.edges), 13), pred)


def test_shipped_transfer_prior_predicts_any_backbone():
    from placement_search.search.transfer_prior import PRIOR

    assert PRIOR.sources and all(len(z) == n * n for _, n, z in PRIOR.tasks)
    for n in (3, 13, 25, 81):
        pred = PRIOR.predict(list(EdgeSpace(n).edges), n)
        assert pred.shape == (n * n,) and np.isfinite(pred).all()


def test_a_search_never_uses_a_prior_fitted_on_its_own_task():
    from placement_search.config import load_config
    from placement_search.search.surrogate import prior_task_name
    from placement_search.search.transfer_prior import PRIOR

    # the shipped prior names its sources the way a search config is looked up
    presets = {prior_task_name(c.backbone.name, c.task.name)
               for c in (load_config(f"search_spaces/{p}.yaml") for p in ("minilm_trec6", "minilm_trec_fine", "minilm_movie_sentiment",
                                                                       "minilm_tweet_sentiment", "dinov2s_fashion", "dinov2s_digits"))}
    assert set(PRIOR.sources) <= presets
    own = PRIOR.sources[0]
    rest = PRIOR.without(own)
    assert own not in rest.sources and len(rest.sources) == len(PRIOR.sources) - 1
    assert PRIOR.without("some-backbone/some-task") is PRIOR
    edges = list(EdgeSpace(13).edges)
    assert not np.allclose(rest.predict(edges, 13), PRIOR.predict(edges, 13))


def test_leaving_a_task_out_refits_the_kernel_without_it():
    # the kernel's hyper-parameters are fitted on the maps too: a prior "without" a task must not
    # keep the values fitted with it (the benchmark replays in-repo tasks through ``without``)
    def truth(n, tilt):
        return {Edge(i, j): 0.8 + tilt * (i > j) - 0.02 * (j / (n - 1)) + 0.001 * ((i * 13 + j * 7) % 5)
                for i in range(n) for j in range(n)}

    a, b, c = ("a", truth(5, 0.05), 5), ("b", truth(6, -0.03), 6), ("c", truth(5, 0.01), 5)
    full = TransferPrior.fit([a, b, c])
    strict = TransferPrior.fit([a, c])
    refitted = full.without("b")  # no precomputed values: fitted on the spot
    precomputed = full.with_held_out().without("b")
    for rest in (refitted, precomputed):
        assert rest.sources == ("a", "c")
        assert np.isclose(rest.amplitude, strict.amplitude) and np.isclose(rest.noise, strict.noise)
        assert np.allclose(rest.lengthscales, strict.lengthscales)
    assert not np.isclose(full.amplitude, strict.amplitude)


def test_shipped_prior_carries_each_held_out_kernel():
    from placement_search.search.transfer_prior import PRIOR

    assert [name for name, *_ in PRIOR.held_out] == list(PRIOR.sources)
    own = PRIOR.sources[-1]
    name, amplitude, lengthscales, noise = PRIOR.held_out[-1]
    rest = PRIOR.without(own)
    assert (rest.amplitude, rest.lengthscales, rest.noise) == (amplitude, tuple(lengthscales), noise)


def test_backbone_map_averages_a_backbones_own_maps_from_three_on():
    """The mean of one backbone's source maps, edge for edge, weighted by its expected Spearman with
    a new task; other backbones (and the same name at another size) do not count, and fewer than
    three maps give nothing."""
    rng = np.random.default_rng(0)
    shared = rng.normal(size=25)  # what tasks of a 5-point backbone share, edge for edge

    def truth(noise):
        values = shared + noise * rng.normal(size=25)
        return {Edge(i, j): float(values[i * 5 + j]) for i in range(5) for j in range(5)}

    mine = [(f"bb/t{k}", truth(0.5), 5) for k in range(3)]
    other = [("other/t", {Edge(i, j): float(-shared[i * 5 + j]) for i in range(5) for j in range(5)}, 5),
             ("bb/bigger", {Edge(i, j): 0.0 for i in range(6) for j in range(6)}, 6)]
    edges = list(EdgeSpace(5).edges)
    prior = TransferPrior.fit(mine + other)
    mean, weight = prior.backbone_map(edges, 5, "bb")
    assert spearmanr(mean, shared)[0] > 0.9 and np.isclose(mean.std(), 1.0)
    assert 0.5 < weight < 1.0
    # the weight: rho * sqrt(m / (1 + (m - 1) rho)) for the mean pairwise Spearman rho of the m maps
    maps = [np.asarray(z) for name, n, z in prior.tasks if name.startswith("bb/t")]
    rho = np.mean([spearmanr(a, b)[0] for a, b in itertools.combinations(maps, 2)])
    assert np.isclose(weight, rho * np.sqrt(3 / (1 + 2 * rho)))
    # in the order of the edges asked for
    assert np.allclose(prior.backbone_map(edges[::-1], 5, "bb")[0], mean[::-1])
    for short in (TransferPrior.fit(mine[:2] + other), prior.without("bb/t0")):
        assert short.backbone_map(edges, 5, "bb")[1] == 0.0 and not short.backbone_map(edges, 5, "bb")[0].any()
    assert prior.backbone_map(edges, 5, "b")[1] == 0.0  # a name's prefix is not its backbone
    assert prior.backbone_map(list(EdgeSpace(6).edges), 6, "bb")[1] == 0.0


def test_source_maps_are_a_backbones_own_maps_one_standardised_column_each():
    rng = np.random.default_rng(0)
    raw = [rng.normal(size=25) for _ in range(2)]
    mine = [(f"bb/t{k}", {Edge(i, j): float(v[i * 5 + j]) for i in range(5) for j in range(5)}, 5)
            for k, v in enumerate(raw)]
    partial = ("bb/partial", {Edge(i, j): float(i) for i in range(5) for j in range(5) if (i, j) != (0, 0)}, 5)
    other = [("other/t", mine[0][1], 5), ("bb/bigger", {Edge(i, j): 0.0 for i in range(6) for j in range(6)}, 6)]
    prior = TransferPrior.fit([*mine, partial, *other])
    edges = list(EdgeSpace(5).edges)
    maps = prior.source_maps(edges, 5, "bb")
    assert maps.shape == (25, 3)  # the three bb maps of 5 points, not the other backbone's, not the bigger one
    assert np.allclose(maps.mean(axis=0), 0.0) and np.allclose(maps.std(axis=0), 1.0)
    for k, v in enumerate(raw):
        assert spearmanr(maps[:, k], v)[0] > 0.99
    assert np.isfinite(maps[:, 2]).all()  # an unmeasured edge sits at the map's mean
    assert np.allclose(prior.source_maps(edges[::-1], 5, "bb"), maps[::-1])
    assert prior.source_maps(edges, 5, "b").shape == (25, 0)  # a name's prefix is not its backbone
    assert prior.without("bb/t0").source_maps(edges, 5, "bb").shape == (25, 2)


def test_adding_sources_keeps_the_kernel_and_replaces_a_source_of_the_same_name():
    rng = np.random.default_rng(3)

    def truth():
        values = rng.normal(size=16)
        return {Edge(i, j): float(values[i * 4 + j]) for i in range(4) for j in range(4)}

    prior = TransferPrior.fit([("bb/a", truth(), 4), ("bb/b", truth(), 4)])
    again, new = truth(), truth()
    grown = prior.adding([("bb/b", again, 4), ("bb/c", new, 4)])
    assert grown.sources == ("bb/a", "bb/b", "bb/c")
    assert (grown.amplitude, grown.lengthscales, grown.noise) == (prior.amplitude, prior.lengthscales, prior.noise)
    edges = list(EdgeSpace(4).edges)
    maps = grown.source_maps(edges, 4, "bb")
    assert spearmanr(maps[:, 1], [again[e] for e in edges])[0] > 0.99  # b is the new measurement
    assert spearmanr(maps[:, 2], [new[e] for e in edges])[0] > 0.99
    assert not np.allclose(grown.predict(edges, 4), prior.predict(edges, 4))
    assert prior.adding([]) == prior


def test_shipped_prior_has_a_minilm_map_and_no_dinov2_map():
    from placement_search.search.transfer_prior import PRIOR

    minilm = PRIOR.backbone_map(list(EdgeSpace(13).edges), 13, "minilm-l6")
    dinov2 = PRIOR.backbone_map(list(EdgeSpace(25).edges), 25, "dinov2-s14")
    assert minilm[1] > 0.3 and np.isfinite(minilm[0]).all()
    assert dinov2[1] == 0.0  # two source maps: below BACKBONE_MAP_MIN_SOURCES
