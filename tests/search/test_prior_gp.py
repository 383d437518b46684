"""The prior-gp searcher (search/surrogate.py) driven in-process, the way replay drives it: no Ray.

Valid suggestions in every tiny space and K (sizes, types, no repeats, the training seed named);
a seed fixes the sequence; get_state/set_state and save/restore continue a half-run search
exactly; K > 1 warm-starts from the measured single edges; the prior sets the first trials, and
a prior that ranks edges backwards (scores anti-correlated with accuracy) is dropped as the
trials contradict it; a suggestion costs little on a 625-edge space.
"""

from __future__ import annotations

import pickle
import random
import time

import numpy as np
import pytest
from ray.tune.search import Searcher
from scipy.stats import spearmanr

from placement_search.config import Config
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.encoding import decode_placement
from placement_search.search.features import EdgeFeatures
from placement_search.search.searchers import make_searcher, parse_searcher
from placement_search.search.surrogate import DEFAULT_PARAMS, PriorGPSearcher

SPACES = [
    ("all-n3", EdgeSpace(3)),
    ("seq+par-n5", EdgeSpace(5, ("sequential", "parallel"))),
    ("recurrent-n4", EdgeSpace(4, ("recurrent",))),
    ("long-range-n5", EdgeSpace(5, ("long-range",))),
    ("all-n5", EdgeSpace(5)),
]


def score_table(n: int) -> dict[Edge, float]:
    rng = random.Random(n)
    return {Edge(i, j): rng.random() for i in range(n) for j in range(n)}


def accuracy(p: Placement, table) -> float:
    return 0.5 + sum(table[e] for e in p) / max(1, len(p)) / 10


def config(k: int = 1, k_max: int | None = None, seeds=None) -> Config:
    cfg = Config()
    cfg.space.k, cfg.space.k_max = k, k_max
    cfg.search.seeds = seeds
    return cfg


def drive(searcher, space, value, limit):
    placements = []
    for i in range(limit):
        suggested = searcher.suggest(f"t{i:03d}")
        if suggested is None or suggested == Searcher.FINISHED:
            break
        p = decode_placement(suggested, space)
        placements.append((suggested, p))
        searcher.on_trial_complete(f"t{i:03d}", result={"val_accuracy": value(p)})
    return placements


def test_prior_gp_is_a_known_searcher_name():
    assert parse_searcher("prior-gp") == "prior-gp"


@pytest.mark.parametrize("k_range", [(1, None), (2, None), (3, None), (1, 3)], ids=["k1", "k2", "k3", "k1-3"])
@pytest.mark.parametrize("name,space", SPACES, ids=[n for n, _ in SPACES])
def test_suggestions_are_valid_distinct_and_name_the_training_seed(name, space, k_range):
    k, k_max = k_range
    if (k_max or k) > len(space):
        pytest.skip("K larger than the space")
    table = score_table(space.num_points)
    calls = []
    searcher, count = make_searcher("prior-gp", config(k, k_max, seeds=[7, 8]), space, 8, 0,
                                    lambda: calls.append(1) or table)
    assert count == 8 and calls == [1]
    limit = min(8, len(space)) if (k_max or k) == 1 else 8
    runs = drive(searcher, space, lambda p: accuracy(p, table), limit)
    assert len(runs) == limit
    texts = [str(p) for _, p in runs]
    assert len(set(texts)) == len(texts)
    for suggested, p in runs:
        assert suggested["seed"] == 7
        assert k <= len(p) <= (k_max or k)
        assert all(e in space for e in p)
    if k_max:
        assert len({len(p) for _, p in runs}) > 1


def test_k1_stops_once_every_edge_was_tried():
    space = EdgeSpace(3, ("parallel",))  # 2 edges
    table = score_table(3)
    searcher, _ = make_searcher("prior-gp", config(), space, 5, 0, lambda: table)
    runs = drive(searcher, space, lambda p: accuracy(p, table), 5)
    assert sorted(str(p) for _, p in runs) == ["0->1", "1->2"]
    assert searcher.suggest("again") == Searcher.FINISHED


@pytest.mark.parametrize("k", [1, 2])
def test_a_seed_fixes_the_sequence(k):
    space = EdgeSpace(5)
    table = score_table(5)

    def run(seed):
        searcher, _ = make_searcher("prior-gp", config(k), space, 10, seed, lambda: table)
        return [str(p) for _, p in drive(searcher, space, lambda p: accuracy(p, table), 10)]

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("k,k_max", [(1, None), (1, 3)])
def test_state_round_trip_continues_the_search_exactly(tmp_path, k, k_max):
    space = EdgeSpace(5)
    table = score_table(5)
    value = lambda p: accuracy(p, table)  # noqa: E731
    measured = {e: v for e, v in table.items() if e in space}
    first, _ = make_searcher("prior-gp", config(k, k_max), space, 12, 1, lambda: table, lambda: measured)
    drive(first, space, value, 4)
    pending = first.suggest("pending")  # a trial still running when the state is saved
    state = pickle.loads(pickle.dumps(first.get_state()))
    path = tmp_path / "searcher.pkl"
    first.save(str(path))
    second, _ = make_searcher("prior-gp", config(k, k_max), space, 12, 1, lambda: table, lambda: measured)
    second.set_state(state)
    third, _ = make_searcher("prior-gp", config(k, k_max), space, 12, 1, lambda: table, lambda: measured)
    third.restore(str(path))
    for s in (first, second, third):
        s.on_trial_complete("pending", result={"val_accuracy": value(decode_placement(pending, space))})
    runs = [[str(p) for _, p in drive(s, space, value, 5)] for s in (first, second, third)]
    assert runs[0] == runs[1] == runs[2]


def test_failed_and_pending_trials_are_not_suggested_again():
    space = EdgeSpace(3)
    table = score_table(3)
    searcher, _ = make_searcher("prior-gp", config(), space, 9, 0, lambda: table)
    a = searcher.suggest("a")
    b = searcher.suggest("b")  # both pending
    searcher.on_trial_complete("a", error=True)
    searcher.on_trial_complete("b", result=None)
    rest = [searcher.suggest(f"c{i}")["placement"] for i in range(7)]
    assert len({a["placement"], b["placement"], *rest}) == 9
    assert searcher.suggest("done") == Searcher.FINISHED
    searcher.on_trial_complete("unknown-id", result={"val_accuracy": 1.0})  # ignored


def test_it_runs_behind_the_dedup_wrapper():
    space = EdgeSpace(4)
    table = score_table(4)
    inner, count = make_searcher("prior-gp", config(2), space, 6, 0, lambda: table)
    outer = DeduplicatingSearcher(inner, space, 0, count)
    seen = 0
    for i in range(10):
        suggested = outer.suggest(f"o{i}")
        if suggested is None or suggested == Searcher.FINISHED:
            break
        seen += 1
        outer.on_trial_complete(f"o{i}", result={"val_accuracy": accuracy(decode_placement(suggested, space), table)})
    assert seen == 6


def test_k_above_one_warm_starts_from_measured_single_edges_with_gga():
    space = EdgeSpace(7)
    table = score_table(7)
    # measured single-edge accuracies: 5->2 is clearly the best edge, far from the scores' favourite
    measured = {e: 0.80 + 0.01 * ((e.source * 3 + e.destination) % 5) for e in space.edges}
    measured[Edge(5, 2)] = 0.95
    cfg = config(3)
    searcher, _ = make_searcher("prior-gp", cfg, space, 12, 0, lambda: table, lambda: measured)
    assert 1 <= len(searcher.warm) <= 3
    first = decode_placement(searcher.suggest("w0"), space)
    assert len(first) == 3 and Edge(5, 2) in first
    # GGA's distance discount spreads the picks out: no two picks are adjacent
    edges = list(first)
    dists = [abs(a.source - b.source) + abs(a.destination - b.destination) for a in edges for b in edges if a < b]
    assert min(dists) >= 2
    # without measured edges K > 1 still starts (from the prior) and K = 1 never reads them
    searcher, _ = make_searcher("prior-gp", cfg, space, 12, 0, lambda: table)
    assert len(decode_placement(searcher.suggest("x"), space)) == 3
    called = []
    make_searcher("prior-gp", config(1), space, 12, 0, lambda: table, lambda: called.append(1) or measured)
    assert called == []


# ------------------------------------------------------------------ priors: used, then dropped


def synthetic(n: int = 9):
    """A space whose gradient scores rank the edges exactly backwards: accuracy is a smooth bump
    around (6, 2) and the score is minus the accuracy."""
    space = EdgeSpace(n)
    acc = {e: 0.9 - 0.01 * ((e.source - 6) ** 2 + (e.destination - 2) ** 2) for e in space.edges}
    scores = {e: -v for e, v in acc.items()}
    return space, acc, scores


def percentile(acc: dict, e: Edge) -> float:
    values = np.array(sorted(acc.values()))
    return float(np.searchsorted(values, acc[e], side="right") / len(values))


def prior_gp(space, scores, seed, prior_strength=1.0, trust_var=0.5, acquisition="thompson", random_share=0.0):
    """prior-gp whose prior is the scores alone (no transfer prior), picking by Thompson draws
    unless told otherwise (expected improvement has its own tests below)."""
    feats = EdgeFeatures.build(space, scores)
    params = DEFAULT_PARAMS.replace(transfer_weight=0.0, score_weight=1.0, prior_strength=prior_strength,
                                    trust_var=trust_var, acquisition=acquisition, random_share=random_share,
                                    struct_var=1.5 if acquisition == "thompson" else DEFAULT_PARAMS.struct_var)
    return PriorGPSearcher(space, (1, 1), seed, 0, feats, np.zeros(len(space)), params)


@pytest.mark.parametrize("acquisition", ["thompson", "ei"])
def test_the_prior_sets_the_first_trials(acquisition):
    space, acc, scores = synthetic()
    by_score = sorted(space.edges, key=lambda e: -scores[e])
    top = set(by_score[: len(by_score) // 5])
    firsts = []
    for seed in range(20):
        s = prior_gp(space, scores, seed, prior_strength=2.0, acquisition=acquisition)
        firsts.append(Placement.parse(s.suggest("t0")["placement"]).edges[0])
    assert sum(e in top for e in firsts) >= 15  # the scores' top fifth, most of the time
    if acquisition == "thompson":
        assert len(set(firsts)) >= 2            # not one fixed edge: the draws depend on the seed


@pytest.mark.parametrize("acquisition", ["thompson", "ei"])
def test_a_misleading_prior_is_dropped_as_trials_contradict_it(acquisition):
    space, acc, scores = synthetic()
    early, late, found = [], [], []
    best = max(acc.values())
    for seed in range(12):
        s = prior_gp(space, scores, seed, acquisition=acquisition)
        runs = drive(s, space, lambda p: acc[p.edges[0]], 20)
        pct = [percentile(acc, p.edges[0]) for _, p in runs]
        early.append(np.mean(pct[:3]))
        late.append(np.mean(pct[12:20]))
        found.append(any(acc[p.edges[0]] >= best - 0.011 for _, p in runs))
    assert np.mean(early) < 0.35          # it starts where the (wrong) scores point
    assert np.mean(late) > 0.65           # and ends among the truly good edges
    assert np.mean(found) >= 0.75         # near the true best within 20 of 81 edges


def test_a_weaker_trust_in_the_prior_drops_it_sooner():
    space, acc, scores = synthetic()

    def mid(trust_var):
        out = []
        for seed in range(8):
            runs = drive(prior_gp(space, scores, seed, prior_strength=2.0, trust_var=trust_var), space,
                         lambda p: acc[p.edges[0]], 12)
            out.append(np.mean([percentile(acc, p.edges[0]) for _, p in runs[6:12]]))
        return np.mean(out)

    assert mid(2.0) > mid(0.5) + 0.1


def test_a_suggestion_costs_little_on_625_edges():
    space = EdgeSpace(25)
    table = score_table(25)
    searcher, _ = make_searcher("prior-gp", config(), space, 40, 0, lambda: table)
    searcher.suggest("warm-up")
    start = time.perf_counter()
    drive(searcher, space, lambda p: accuracy(p, table), 20)
    per = (time.perf_counter() - start) / 20
    assert per < 0.25, f"{per:.3f} s per suggestion"  # ~0.02 s on an idle core; generous for shared CI


def test_the_searcher_object_itself_pickles():
    """Tune may pickle a searcher object whole (a Tuner's saved state), not only through save()."""
    space = EdgeSpace(5)
    table = score_table(5)
    searcher, _ = make_searcher("prior-gp", config(), space, 8, 2, lambda: table)
    drive(searcher, space, lambda p: accuracy(p, table), 3)
    copy = pickle.loads(pickle.dumps(searcher))
    assert copy.suggest("next") == searcher.suggest("next")


# ------------------------------------------------------------------ expected improvement per cost


def ei_searcher(space, costs, seed=0, cost_exponent=1.0, temperature=0.0, scores=None, **params):
    """prior-gp picking by expected improvement per unit cost, with a flat prior unless ``scores``
    (and no random share unless asked: these tests are about the model's own picks)."""
    params.setdefault("random_share", 0.0)
    feats = EdgeFeatures.build(space, scores or {e: 0.0 for e in space.edges})
    p = DEFAULT_PARAMS.replace(acquisition="ei", cost_exponent=cost_exponent, temperature=temperature,
                               transfer_weight=0.0, score_weight=1.0 if scores else 0.0, **params)
    return PriorGPSearcher(space, (1, 1), seed, 0, feats, np.zeros(len(space)), p, costs=costs)


def first_edge(searcher) -> Edge:
    return Placement.parse(searcher.suggest("t0")["placement"]).edges[0]


def test_with_a_flat_prior_the_first_pick_is_the_cheapest_edge():
    space = EdgeSpace(5)
    costs = np.linspace(2.0, 0.5, len(space)) * np.random.default_rng(0).uniform(0.9, 1.1, len(space))
    cheapest = space.edges[int(np.argmin(costs))]
    assert first_edge(ei_searcher(space, costs)) == cheapest
    # without the cost term every edge has the same expected improvement: the cost does not decide
    plain = first_edge(ei_searcher(space, costs, cost_exponent=0.0))
    assert plain == space.edges[0] != cheapest


def test_cost_trades_against_the_chance_of_improving():
    """A cheap edge the prior rates low loses to a dear edge the prior rates high when the cost
    exponent is small, and wins when it is large."""
    space = EdgeSpace(4)
    scores = {e: float(i) for i, e in enumerate(space.edges)}  # the last edge is the prior's best
    costs = np.ones(len(space))
    costs[-1] = 4.0                                             # ... and the dearest
    costs[-2] = 0.25                                            # its runner-up is the cheapest
    greedy = first_edge(ei_searcher(space, costs, cost_exponent=0.0, scores=scores, prior_strength=2.0))
    thrifty = first_edge(ei_searcher(space, costs, cost_exponent=2.0, scores=scores, prior_strength=2.0))
    assert greedy == space.edges[-1]
    assert thrifty == space.edges[-2]


def test_log_expected_improvement_matches_the_closed_form():
    from scipy.stats import norm

    space = EdgeSpace(5)
    s = ei_searcher(space, np.ones(len(space)), cost_exponent=0.0)
    idx, z, noise = [0, 7, 13], [-1.0, 0.0, 1.0], [1.0, 1.0, 1.0]
    mean, sd = s.model.posterior(idx, z, noise)
    best = mean[idx].max()
    u = (mean - best) / sd
    expected = sd * (u * norm.cdf(u) + norm.pdf(u))
    np.testing.assert_allclose(np.exp(s._ei_per_cost(idx, z, noise)), expected, rtol=1e-9, atol=1e-300)
    # and it stays finite where the closed form underflows to 0
    far = s._ei_per_cost(idx, [-40.0, 0.0, 40.0], [1e-4] * 3)
    assert np.isfinite(far).all()


def test_zero_temperature_is_deterministic_and_a_positive_one_draws_by_seed():
    space, acc, scores = synthetic()
    costs = np.ones(len(space))

    def first_three(seed, temperature):
        runs = drive(ei_searcher(space, costs, seed, temperature=temperature, scores=scores), space,
                     lambda p: acc[p.edges[0]], 3)
        return [str(p) for _, p in runs]

    assert len({tuple(first_three(seed, 0.0)) for seed in range(5)}) == 1
    drawn = {tuple(first_three(seed, 0.5)) for seed in range(8)}
    assert len(drawn) >= 3
    assert first_three(3, 0.5) == first_three(3, 0.5)


def test_the_searcher_built_for_a_config_reads_its_edge_costs():
    from placement_search.search.cost import table_for_config

    space = EdgeSpace(5)
    table = score_table(5)
    cfg = config()
    searcher, _ = make_searcher("prior-gp", cfg, space, 8, 0, lambda: table)
    inner = searcher.searcher if hasattr(searcher, "searcher") else searcher
    expected = [table_for_config(cfg, 5).relative(Placement.of([e])) for e in space.edges]
    np.testing.assert_allclose(np.exp(inner.log_costs), expected)
    assert np.ptp(expected) > 0  # the edges do cost differently


def test_bad_costs_and_acquisitions_are_refused():
    space = EdgeSpace(3)
    with pytest.raises(ValueError, match="one positive cost per edge"):
        ei_searcher(space, np.ones(len(space) - 1))
    with pytest.raises(ValueError, match="one positive cost per edge"):
        ei_searcher(space, np.zeros(len(space)))
    with pytest.raises(ValueError, match="acquisition 'ucb'"):
        DEFAULT_PARAMS.replace(acquisition="ucb")
    with pytest.raises(ValueError, match="random_share 1.5"):
        DEFAULT_PARAMS.replace(random_share=1.5)


def test_the_random_share_draws_that_share_of_first_picks_uniformly():
    space, acc, scores = synthetic()
    top = set(sorted(space.edges, key=lambda e: -scores[e])[: len(space.edges) // 5])

    def firsts(share):
        picks = [Placement.parse(prior_gp(space, scores, seed, prior_strength=2.0, acquisition="ei",
                                          random_share=share).suggest("t0")["placement"]).edges[0]
                 for seed in range(60)]
        return sum(e in top for e in picks) / len(picks)

    guided, uniform = firsts(0.0), firsts(1.0)
    assert guided >= 0.75                # the prior's top fifth
    assert uniform <= 0.45               # about a fifth: the prior is ignored
    assert uniform < firsts(0.5) < guided


def test_a_random_share_of_k_above_one_suggestions_is_still_valid_and_distinct():
    space = EdgeSpace(4)
    params = DEFAULT_PARAMS.replace(random_share=0.5)
    feats = EdgeFeatures.build(space, score_table(4), ("rank",))
    searcher = PriorGPSearcher(space, (2, 3), 0, 0, feats, np.zeros(len(space)), params)
    runs = drive(searcher, space, lambda p: accuracy(p, score_table(4)), 15)
    texts = [t["placement"] for t, _ in runs]
    assert len(texts) == 15 and len(set(texts)) == 15
    assert all(2 <= len(p) <= 3 for _, p in runs)


def test_row_and_column_terms_carry_a_result_to_far_edges_into_the_same_point():
    """With axis_var > 0 a good result on s->d raises every edge into d, however far its source
    (the destination decides most of a single edge's accuracy on the real maps); the local
    neighbourhood term alone barely reaches a source at the other end of the network."""
    space = EdgeSpace(13)
    feats = EdgeFeatures.build(space, {e: 1.0 for e in space.edges}, ("rank",))  # flat: no score slope
    seen, same_column, elsewhere = Edge(1, 6), Edge(11, 6), Edge(11, 9)
    ix = {e: i for i, e in enumerate(space.edges)}

    def lift(axis_var):
        params = DEFAULT_PARAMS.replace(axis_var=axis_var, random_share=0.0)
        model = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), params).model
        before, _ = model.posterior([], [], [], with_sd=False)
        after, _ = model.posterior([ix[seen]], [2.0], [params.noise_var], with_sd=False)
        return after - before

    plain, additive = lift(0.0), lift(1.0)
    # (the free level lifts every edge alike; what matters is the lift beyond it)
    assert additive[ix[same_column]] - additive[ix[elsewhere]] > 0.2
    assert abs(plain[ix[same_column]] - plain[ix[elsewhere]]) < 0.05
    with pytest.raises(ValueError, match="axis_var -1"):
        DEFAULT_PARAMS.replace(axis_var=-1.0)


def test_the_backbone_map_leads_the_first_picks_and_is_inert_at_weight_zero():
    """A backbone map that rates one corner best draws the first picks there when it is weighted;
    at backbone_weight 0 (or weight 0 from too few maps) the model is the one without it."""
    space = EdgeSpace(9)
    feats = EdgeFeatures.build(space, {e: 1.0 for e in space.edges}, ("rank",))
    corner = np.array([float(e.source >= 6 and e.destination <= 2) for e in space.edges])
    backbone_map = ((corner - corner.mean()) / corner.std(), 0.7)

    def firsts(params, bmap):
        return [Placement.parse(PriorGPSearcher(space, (1, 1), seed, 0, feats, np.zeros(len(space)), params,
                                                backbone_map=bmap).suggest("t0")["placement"]).edges[0]
                for seed in range(10)]

    on = DEFAULT_PARAMS.replace(backbone_weight=1.0, random_share=0.0)
    assert all(e.source >= 6 and e.destination <= 2 for e in firsts(on, backbone_map))
    off = DEFAULT_PARAMS.replace(backbone_weight=0.0, random_share=0.0)
    plain = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), off).model
    for params, bmap in ((off, backbone_map), (on, (backbone_map[0], 0.0))):
        model = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), params, backbone_map=bmap).model
        for obs in (([], [], []), ([3, 40], [1.0, -1.0], [1.0, 1.0])):
            assert np.allclose(model.posterior(*obs)[0], plain.posterior(*obs)[0])
            assert np.allclose(model.posterior(*obs)[1], plain.posterior(*obs)[1])
    with pytest.raises(ValueError, match="one value per edge"):
        PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), on, backbone_map=(np.zeros(3), 0.5))


def test_source_slopes_follow_the_source_map_the_trials_resemble_and_are_inert_at_zero():
    """Two source maps that disagree: after a few results that agree with the second, the posterior
    ranks edges as the second does; without the slopes (source_var 0, or no maps) the model is the
    one without them."""
    space = EdgeSpace(9)
    feats = EdgeFeatures.build(space, {e: 1.0 for e in space.edges}, ("rank",))
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(2, len(space)))
    maps = np.column_stack([first, second])
    on = DEFAULT_PARAMS.replace(source_var=2.0, struct_var=0.01)
    model = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), on, source_maps=maps).model
    tried = rng.choice(len(space), 12, replace=False)
    mean, _ = model.posterior(list(tried), list(second[tried]), [0.2] * len(tried))
    assert spearmanr(mean, second)[0] > 0.8 and abs(spearmanr(mean, first)[0]) < 0.3
    plain = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), on.replace(source_var=0.0)).model
    for params, source_maps in ((on.replace(source_var=0.0), maps), (on, np.zeros((len(space), 0))), (on, None)):
        other = PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), params, source_maps=source_maps).model
        obs = ([3, 40], [1.0, -1.0], [1.0, 1.0])
        assert np.allclose(other.posterior(*obs)[0], plain.posterior(*obs)[0])
        assert np.allclose(other.posterior(*obs)[1], plain.posterior(*obs)[1])
    with pytest.raises(ValueError, match="one row per edge"):
        PriorGPSearcher(space, (1, 1), 0, 0, feats, np.zeros(len(space)), on, source_maps=np.zeros((3, 2)))


def prior_gp_from_config(backbone: str = "minilm-l6", **search_keys) -> PriorGPSearcher:
    """The prior-gp a config builds on a 13-point space (the shipped prior's MiniLM-L6 size), with
    ``search_keys`` set in its search section."""
    cfg = config()
    cfg.backbone.name = backbone
    for key, value in search_keys.items():
        setattr(cfg.search, key, value)
    table = score_table(13)
    searcher, _ = make_searcher("prior-gp", cfg, EdgeSpace(13), 8, 0, lambda: table)
    return searcher.searcher if hasattr(searcher, "searcher") else searcher


def test_a_config_turns_the_backbone_map_on_for_a_backbone_with_three_source_maps():
    def model(weight, backbone="minilm-l6"):
        inner = prior_gp_from_config(backbone, backbone_map_weight=weight)
        return inner.params.backbone_weight, inner.model.mu0

    default_weight, plain = model(None)
    assert default_weight == DEFAULT_PARAMS.backbone_weight == 0.0
    weight, leaning = model(1.0)
    assert weight == 1.0 and not np.allclose(leaning, plain)
    # a backbone without three source maps in the shipped prior: the option changes nothing
    assert np.allclose(model(1.0, "some-other-backbone")[1], model(None, "some-other-backbone")[1])


def test_a_config_sets_the_source_map_slopes_of_the_searched_backbone():
    def model(variance, backbone="minilm-l6"):
        inner = prior_gp_from_config(backbone, source_map_var=variance)
        return inner.params.source_var, inner.model.X.shape[1]

    assert model(None) == (DEFAULT_PARAMS.source_var, 6)
    assert model(0.0) == (0.0, 6)
    # the shipped prior holds four MiniLM-L6 maps; the search's own task (TREC-6) is left out
    assert model(2.0) == (2.0, 9)
    assert model(2.0, "some-other-backbone") == (2.0, 6)
