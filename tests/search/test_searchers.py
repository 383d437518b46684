"""The searchers (search/searchers.py) driven in-process, the way replay drives them: no Ray
instance, no Tuner, only ``suggest`` / ``on_trial_complete``.

Table-driven over tiny edge spaces, K in {1, 2, 3} and every searcher name: each suggestion
decodes to a valid placement of the right size in the allowed edge types; a seed fixes the
sequence; exhaustive enumerates each edge once per training seed and then finishes; gga-tpe
opens with the GGA placements of a hand-made score table; a baseline is its named placement
once per seed; the trial count ``make_searcher`` returns is what a budgeted search runs. Scores
come from a provider that counts its calls: only the searchers that need scores may call it.
"""

from __future__ import annotations

import math
import random

import pytest
from ray.tune.search import Searcher

from placement_search.config import Config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.placement.selection import gga
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.encoding import decode_placement
from placement_search.search.searchers import make_searcher, parse_searcher

# K varying uses TPE's ``group`` option, which Optuna flags as experimental
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

SPACES = [
    ("all-n3", EdgeSpace(3)),                                  # 9 edges, a 1-block backbone
    ("seq+par-n5", EdgeSpace(5, ("sequential", "parallel"))),  # 9 edges: the usual places
    ("recurrent-n4", EdgeSpace(4, ("recurrent",))),            # 6 edges
    ("long-range-n5", EdgeSpace(5, ("long-range",))),          # 6 edges
]
SPACE_IDS = [name for name, _ in SPACES]
SPACE_TABLE = [space for _, space in SPACES]
KS = [1, 2, 3]
#: searcher names whose placements have K edges; ``{k}`` is filled in per case
SIZED = ["random", "tpe", "gga-tpe", "baseline:gga:{k}", "baseline:top-k:{k}", "baseline:random-k:{k}"]
NEEDS_SCORES = ("gga-tpe", "baseline:gga", "baseline:top-k")


def score_table(space: EdgeSpace) -> dict[Edge, float]:
    """Distinct seeded scores for every edge of the backbone (a stand-in for gradient ranks)."""
    rng = random.Random(space.num_points)
    n = space.num_points
    return {Edge(i, j): rng.random() for i in range(n) for j in range(n)}


class ScoreProvider:
    """The ``scores`` callable make_searcher takes; counts how often scoring was asked for."""

    def __init__(self, table):
        self.table, self.calls = table, 0

    def __call__(self):
        self.calls += 1
        return self.table


def config(k: int = 1, k_max: int | None = None, seeds=None, warm_starts=None) -> Config:
    cfg = Config()
    cfg.space.k, cfg.space.k_max = k, k_max
    cfg.search.seeds, cfg.search.warm_starts = seeds, warm_starts
    return cfg


def accuracy(placement: Placement, table) -> float:
    """A deterministic stand-in for validation accuracy, correlated with the scores."""
    return sum(table[e] for e in placement) / max(1, len(placement))


def drive(searcher, space, table, limit: int) -> tuple[list[dict], list[Placement], object]:
    """Suggest and complete one trial at a time, up to ``limit``; returns the configs, their
    placements and what ended the loop (None, FINISHED, or "limit")."""
    configs, placements = [], []
    for i in range(limit):
        trial_id = f"t{i:03d}"
        suggested = searcher.suggest(trial_id)
        if suggested is None or suggested == Searcher.FINISHED:
            return configs, placements, suggested
        p = decode_placement(suggested, space)
        configs.append(suggested)
        placements.append(p)
        searcher.on_trial_complete(trial_id, result={"val_accuracy": accuracy(p, table), "val_loss": 1.0})
    return configs, placements, "limit"


def build(name: str, space: EdgeSpace, cfg: Config, num_samples: int = 8, seed: int = 0):
    table = score_table(space)
    provider = ScoreProvider(table)
    searcher, count = make_searcher(name, cfg, space, num_samples, seed, provider)
    return searcher, count, provider, table


# ----------------------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe", "exhaustive", "baseline:gga:3", "baseline:0->1",
                                  "baseline:parallel-all"])
def test_parse_searcher_accepts_every_documented_form(name):
    assert parse_searcher(name) == name


@pytest.mark.parametrize("name", ["grid", "TPE", "", "baseline:", "baseline", "gga"])
def test_parse_searcher_rejects_unknown_names_in_one_line(name):
    with pytest.raises(PlacementSearchError, match="unknown searcher") as info:
        parse_searcher(name)
    message = str(info.value)
    assert "\n" not in message and all(s in message for s in ("random", "tpe", "gga-tpe", "exhaustive", "baseline:"))


@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe", "exhaustive", "baseline:gga:3", "baseline:top-k:3"])
def test_k_larger_than_the_space_is_refused_before_any_scoring(name):
    space = EdgeSpace(3, ("parallel",))  # 2 edges
    provider = ScoreProvider(score_table(space))
    with pytest.raises(PlacementSearchError, match="K=3"):
        make_searcher(name, config(k=3), space, 8, 0, provider)
    assert provider.calls == 0


@pytest.mark.parametrize("name, space", [("baseline:parallel-all", EdgeSpace(4, ("recurrent",))),
                                         ("baseline:first-k:2", EdgeSpace(5, ("long-range",))),
                                         ("baseline:0->0", EdgeSpace(3, ("parallel",))),
                                         ("baseline:0->9", EdgeSpace(3)),
                                         ("baseline:no-such-baseline", EdgeSpace(3))])
def test_baselines_outside_the_space_are_refused(name, space):
    with pytest.raises(PlacementSearchError):
        make_searcher(name, config(), space, 8, 0, ScoreProvider(score_table(space)))


# ----------------------------------------------------------------------------- valid suggestions


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("template", SIZED)
def test_every_suggestion_is_a_valid_k_edge_placement(template, k, space):
    name = template.format(k=k)
    searcher, count, provider, table = build(name, space, config(k=k), num_samples=12)
    _, placements, _ = drive(searcher, space, table, limit=count)
    assert len(placements) == count  # nothing held back or finished early
    for p in placements:
        assert len(p) == k and len(set(p)) == k
        assert all(e in space for e in p), (name, str(p))
    assert provider.calls == (1 if name.startswith(NEEDS_SCORES) else 0)


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe"])
def test_varying_k_stays_in_its_range(name, space):
    searcher, count, provider, table = build(name, space, config(k=1, k_max=3), num_samples=16)
    _, placements, _ = drive(searcher, space, table, limit=count)
    assert len(placements) == 16
    assert all(1 <= len(p) <= 3 and all(e in space for e in p) for p in placements)
    assert len({len(p) for p in placements}) > 1, "K never varied"


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k", KS)
def test_random_never_repeats_while_unseen_placements_remain(space, k):
    searcher, _, _, table = build("random", space, config(k=k), num_samples=30)
    _, placements, _ = drive(searcher, space, table, limit=30)
    total = math.comb(len(space), k)
    first = [str(p) for p in placements[: min(total, 30)]]
    distinct = set(first)
    assert len(distinct) == len(first)
    if total <= 30:
        assert len(distinct) == total  # the whole space was drawn before any repeat


# ----------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe", "baseline:random-k:{k}"])
def test_same_seed_same_sequence(name, k, space):
    name = name.format(k=k)
    runs = []
    for _ in range(2):
        searcher, count, _, table = build(name, space, config(k=k), num_samples=12, seed=3)
        runs.append([str(p) for p in drive(searcher, space, table, limit=count)[1]])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", ["random", "tpe"])
def test_another_seed_another_sequence(name):
    space = EdgeSpace(3)  # 36 two-edge placements
    runs = []
    for seed in (0, 1):
        searcher, count, _, table = build(name, space, config(k=2), num_samples=12, seed=seed)
        runs.append([str(p) for p in drive(searcher, space, table, limit=count)[1]])
    assert runs[0] != runs[1]


@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe"])
def test_saved_state_continues_the_same_sequence(name, tmp_path):
    """save/restore (how Tune checkpoints a searcher) into a searcher built with another seed
    continues exactly where the saved one was."""
    space = EdgeSpace(5)
    searcher, _, _, table = build(name, space, config(k=2), num_samples=12, seed=0)
    drive(searcher, space, table, limit=5)
    path = tmp_path / "searcher.pkl"
    searcher.save(str(path))
    other, _, _, _ = build(name, space, config(k=2), num_samples=12, seed=99)
    other.restore(str(path))
    ahead = [str(p) for p in drive(searcher, space, table, limit=5)[1]]
    again = [str(p) for p in drive(other, space, table, limit=5)[1]]
    assert ahead == again


# ------------------------------------------------------------------------------------ exhaustive


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("seeds", [None, [3, 5]], ids=["training-seed", "two-seeds"])
@pytest.mark.parametrize("k", KS)
def test_exhaustive_enumerates_each_edge_once_per_seed_then_finishes(space, seeds, k):
    cfg = config(k=k, seeds=seeds)
    searcher, count, provider, table = build("exhaustive", space, cfg)
    expected_seeds = seeds or [cfg.training.seed]
    assert count == len(space) * len(expected_seeds)
    configs, placements, end = drive(searcher, space, table, limit=count + 1)
    assert end == Searcher.FINISHED and len(configs) == count
    trials = [(str(p), c["seed"]) for p, c in zip(placements, configs)]
    assert sorted(trials) == sorted((str(Placement.of([e])), s) for s in expected_seeds for e in space.edges)
    assert searcher.suggest("again") == Searcher.FINISHED  # and stays finished
    assert provider.calls == 0


# ---------------------------------------------------------------------------------------- gga-tpe


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k", KS)
def test_gga_tpe_opens_with_the_gga_placements_of_the_score_table(space, k):
    cfg = config(k=k, warm_starts=3)
    searcher, count, provider, table = build("gga-tpe", space, cfg, num_samples=8)
    _, placements, _ = drive(searcher, space, table, limit=count)
    assert provider.calls == 1  # scored once, at construction
    got = [str(p) for p in placements]
    if k == 1:
        # every gamma picks the best edge; then the next-best edges, in score order
        ranked = sorted(space.edges, key=lambda e: (-table[e], e.source, e.destination))
        assert got[:3] == [str(Placement.of([e])) for e in ranked[:3]]
    else:
        expected = list(dict.fromkeys(str(gga(table, space, k, g)) for g in cfg.search.gga_gammas))[:3]
        assert got[: len(expected)] == expected
        assert len(set(got[:3])) == 3  # further warm starts are new placements too
    assert all(len(p) == k and all(e in space for e in p) for p in placements)


def test_gga_tpe_with_varying_k_warm_starts_each_k():
    space = EdgeSpace(5)
    cfg = config(k=1, k_max=2, warm_starts=4)
    searcher, count, _, table = build("gga-tpe", space, cfg, num_samples=10)
    _, placements, _ = drive(searcher, space, table, limit=count)
    expected = list(dict.fromkeys(str(gga(table, space, k, g)) for k in (1, 2) for g in cfg.search.gga_gammas))
    assert [str(p) for p in placements[: min(4, len(expected))]] == expected[:4]


def test_gga_tpe_warm_starts_default_to_a_quarter_of_the_budget():
    space = EdgeSpace(5)
    searcher, count, _, table = build("gga-tpe", space, config(k=1), num_samples=12)  # 12 // 4 = 3
    _, placements, _ = drive(searcher, space, table, limit=count)
    ranked = sorted(space.edges, key=lambda e: (-table[e], e.source, e.destination))
    assert [str(p) for p in placements[:3]] == [str(e) for e in ranked[:3]]


# ------------------------------------------------------------------------------------- baselines


@pytest.mark.parametrize(
    "name, expected, scored",
    [
        ("baseline:empty", "", False),
        ("baseline:parallel-all", "0->1,1->2,2->3,3->4", False),
        ("baseline:sequential-all", "1->1,2->2,3->3,4->4", False),
        ("baseline:first-k:2", "0->1,1->2", False),
        ("baseline:last-k:2", "2->3,3->4", False),
        ("baseline:1->1,2->3", "1->1,2->3", False),
        ("baseline:top-k:2", "TOP2", True),
        ("baseline:gga:1", "TOP1", True),
    ],
)
def test_baseline_is_its_placement_once_per_seed(name, expected, scored):
    space = EdgeSpace(5, ("sequential", "parallel"))
    table = score_table(space)
    ranked = sorted(space.edges, key=lambda e: (-table[e], e.source, e.destination))
    expected = {"TOP2": str(Placement.of(ranked[:2])), "TOP1": str(ranked[0])}.get(expected, expected)
    searcher, count, provider, _ = build(name, space, config(seeds=[0, 7]))
    assert count == 2
    configs, placements, end = drive(searcher, space, table, limit=5)
    assert end == Searcher.FINISHED
    assert [(str(p), c["seed"]) for p, c in zip(placements, configs)] == [(expected, 0), (expected, 7)]
    assert provider.calls == int(scored)


# ---------------------------------------------------------------------------------------- budget


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe", "exhaustive", "baseline:top-k:2"])
def test_a_budgeted_search_runs_exactly_the_trials_make_searcher_counts(name, space):
    """The count make_searcher returns is the budget the dedup wrapper enforces: exactly that
    many trials (duplicates of a tiny space reused, not retrained, but still counted), then
    FINISHED, and every trial names its training seed."""
    cfg = config(k=2)
    cfg.training.seed = 4
    inner, count, _, table = build(name, space, cfg, num_samples=15)
    assert count == {"exhaustive": len(space), "baseline:top-k:2": 1}.get(name, 15)
    searcher = DeduplicatingSearcher(inner, space, default_seed=cfg.training.seed, budget=count)
    configs, placements, end = drive(searcher, space, table, limit=100)
    assert end == Searcher.FINISHED and len(configs) == count
    assert all(c["seed"] == 4 for c in configs)


@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe"])
def test_single_seed_searchers_train_with_the_first_search_seed(name):
    space = EdgeSpace(3)
    inner, count, _, table = build(name, space, config(k=1, seeds=[4, 6]), num_samples=6)
    configs, _, _ = drive(inner, space, table, limit=count)
    assert [c.get("seed") for c in configs] == [4] * count


@pytest.mark.parametrize("name", ["random", "tpe", "gga-tpe"])
def test_single_seed_searchers_default_to_the_training_seed_and_keep_it_through_the_wrapper(name):
    """Without search.seeds they train with training.seed; with it, the wrapper (whose default is
    training.seed) keeps the seed the searcher named."""
    space = EdgeSpace(3)
    cfg = config(k=1)
    cfg.training.seed = 9
    inner, count, _, table = build(name, space, cfg, num_samples=4)
    assert [c.get("seed") for c in drive(inner, space, table, limit=count)[0]] == [9] * count
    inner, count, _, table = build(name, space, config(k=1, seeds=[4, 6]), num_samples=4)
    wrapped = DeduplicatingSearcher(inner, space, default_seed=cfg.training.seed, budget=count)
    assert [c["seed"] for c in drive(wrapped, space, table, limit=count)[0]] == [4] * count
