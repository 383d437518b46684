"""The trial-config encodings of a placement (search/encoding.py), without Ray.

Two encodings share one decoder: the canonical text (``{"placement": "0->3,5->5"}``) and TPE's
slot encoding (``{"k": K, "src_0": i, "dst_0": j, ...}``). Table-driven over tiny edge spaces:
every placement of up to three edges round-trips through both, the define-by-run space asks
Optuna for exactly the parameters the encoder writes, repairs of duplicate or excluded slots land
on the documented nearest free edge, and invalid configs are refused.
"""

from __future__ import annotations

import itertools

import optuna
import pytest

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.search.encoding import DefineByRunSpace, decode_placement, encode_placement

#: tiny spaces: (id, space); n = 3 is a 1-block backbone, n = 5 a 2-block one
SPACES = [
    ("all-n3", EdgeSpace(3)),
    ("seq+par-n5", EdgeSpace(5, ("sequential", "parallel"))),
    ("recurrent-n4", EdgeSpace(4, ("recurrent",))),
    ("long-range-n5", EdgeSpace(5, ("long-range",))),
]
SPACE_IDS = [name for name, _ in SPACES]
SPACE_TABLE = [space for _, space in SPACES]


def placements(space: EdgeSpace, k: int) -> list[Placement]:
    return [Placement.of(c) for c in itertools.combinations(space.edges, k)]


def slot_config(placement: Placement, vary_k: bool) -> dict:
    """What a TPE trial's config holds: the encoded slots, and K (the space returns it when fixed)."""
    return {**encode_placement(placement, vary_k), "k": len(placement)}


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_placement_round_trips_through_both_encodings(space, k):
    for p in placements(space, k):
        assert decode_placement({"placement": str(p)}, space) == p
        for vary_k in (False, True):
            encoded = encode_placement(p, vary_k)
            assert ("k" in encoded) == vary_k
            assert decode_placement(slot_config(p, vary_k), space) == p


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
def test_slots_are_written_in_canonical_order(space):
    p = Placement.of(reversed(space.edges[:3]))
    encoded = encode_placement(p, vary_k=True)
    assert encoded == {"k": 3, **{key: value for i, e in enumerate(sorted(space.edges[:3]))
                                  for key, value in ((f"src_{i}", e.source), (f"dst_{i}", e.destination))}}


def test_text_encoding_is_canonical_and_keeps_the_empty_placement():
    space = EdgeSpace(5)
    assert str(decode_placement({"placement": " 4->1 , 0->0,2->3"}, space)) == "0->0,2->3,4->1"
    assert decode_placement({"placement": ""}, space) == Placement()
    assert decode_placement({"placement": "empty"}, space) == Placement()
    # the text encoding wins when a config carries both (a reused trial keeps its slots too)
    assert str(decode_placement({"placement": "1->2", "k": 1, "src_0": 0, "dst_0": 0}, space)) == "1->2"


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k_range", [(1, 1), (2, 2), (1, 3)])
def test_define_by_run_space_asks_for_what_the_encoder_writes(space, k_range):
    """Optuna's FixedTrial answers exactly the encoded parameters: the names, the bounds and K
    (a parameter only when it varies; otherwise the space returns it as a constant)."""
    define = DefineByRunSpace(space.num_points, k_range)
    vary_k = k_range[0] != k_range[1]
    for k in range(k_range[0], k_range[1] + 1):
        for p in placements(space, k)[:20]:
            params = encode_placement(p, vary_k)
            trial = optuna.trial.FixedTrial(params)
            constants = define(trial) or {}
            assert trial.params == params  # every parameter asked for, none missing or extra
            assert decode_placement({**trial.params, **constants}, space) == p
    # the bounds are the backbone's points
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    define(trial)
    for name, dist in trial.distributions.items():
        bounds = k_range if name == "k" else (0, space.num_points - 1)
        assert (dist.low, dist.high) == bounds, name


@pytest.mark.parametrize(
    "space, slots, expected",
    [
        # a duplicate slot moves to the nearest free edge: L1 distance, ties to smaller source, then destination
        (EdgeSpace(3), [(1, 1), (1, 1)], "1->1,0->1"),
        (EdgeSpace(3), [(0, 0), (0, 0), (0, 0)], "0->0,0->1,1->0"),
        # an excluded type moves to the nearest allowed edge
        (EdgeSpace(5, ("parallel",)), [(2, 2)], "1->2"),
        (EdgeSpace(5, ("parallel",)), [(2, 2), (2, 2)], "1->2,2->3"),
        (EdgeSpace(4, ("recurrent",)), [(0, 3)], "1->0"),
        (EdgeSpace(5, ("long-range",)), [(4, 0), (3, 3)], "0->2,1->3"),
    ],
)
def test_invalid_slots_are_repaired_to_the_nearest_free_allowed_edge(space, slots, expected):
    config = {"k": len(slots)}
    for i, (s, d) in enumerate(slots):
        config[f"src_{i}"], config[f"dst_{i}"] = s, d
    p = decode_placement(config, space)
    assert p == Placement.parse(expected)
    assert len(p) == len(slots) and all(e in space for e in p)


@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
def test_repaired_placements_are_always_valid(space):
    """Every slot assignment over the point grid decodes to K distinct allowed edges."""
    points = range(space.num_points)
    grid = list(itertools.product(points, points))
    for k in (1, 2, 3):
        for slots in itertools.islice(itertools.product(grid, repeat=k), 0, None, 7):
            config = {"k": k, **{f"{n}_{i}": v for i, (s, d) in enumerate(slots)
                                  for n, v in (("src", s), ("dst", d))}}
            p = decode_placement(config, space)
            assert len(p) == k and all(e in space for e in p)
            # slots that were already valid and distinct are kept
            if len(set(slots)) == k and all(Edge(*e) in space for e in slots):
                assert set(p) == {Edge(*e) for e in slots}


@pytest.mark.parametrize(
    "text, message",
    [
        ("0->5", "out of range"),          # points run 0..4
        ("-1->2", "out of range"),
        ("0->0", "excludes"),               # sequential, not in this space
        ("3->1", "excludes"),               # recurrent
        ("0->1,0->1", "appears twice"),
        ("0-1", "malformed"),
        ("a->b", "malformed"),
    ],
)
def test_text_encoding_rejects_invalid_edges(text, message):
    space = EdgeSpace(5, ("parallel", "long-range"))
    with pytest.raises(PlacementSearchError, match=message) as info:
        decode_placement({"placement": text}, space)
    assert "\n" not in str(info.value)


def test_slot_encoding_rejects_more_slots_than_the_space_has_edges():
    space = EdgeSpace(3, ("parallel",))  # 2 edges
    config = {"k": 3, "src_0": 0, "dst_0": 1, "src_1": 1, "dst_1": 2, "src_2": 0, "dst_2": 1}
    with pytest.raises(PlacementSearchError, match="no free edge"):
        decode_placement(config, space)


@pytest.mark.parametrize(
    "config",
    [
        {},                                           # neither encoding
        {"k": 2, "src_0": 0, "dst_0": 1},             # slot 1 missing
        {"k": 1, "src_0": "x", "dst_0": 1},           # not an integer
        {"k": 1, "src_0": 0, "dst_0": 1.5},           # not a whole number
        {"k": 1, "src_0": True, "dst_0": 1},          # a flag, not a point
        {"k": "two", "src_0": 0, "dst_0": 1},
    ],
    ids=["no-encoding", "missing-slot", "non-integer", "fraction", "bool", "non-integer-k"],
)
def test_slot_encoding_rejects_malformed_configs(config):
    with pytest.raises(PlacementSearchError) as info:
        decode_placement(config, EdgeSpace(3))
    message = str(info.value)
    assert "\n" not in message
    if config:  # the message names the offending key
        bad = next(k for k in ("k", "src_0", "dst_0", "src_1", "dst_1") if k not in config
                   or not isinstance(config[k], int) or isinstance(config[k], bool))
        assert repr(bad) in message, message
    else:
        assert "'placement'" in message and "'k'" in message


@pytest.mark.parametrize(
    "config",
    [
        {"k": 1, "src_0": 7, "dst_0": 0},             # point 7 of a 3-point backbone
        {"k": 1, "src_0": 0, "dst_0": -1},
        {"k": -1},
        {"k": 0},
    ],
    ids=["source-out-of-range", "negative-destination", "negative-k", "zero-k"],
)
def test_slot_encoding_rejects_out_of_range_slots_and_k(config):
    with pytest.raises(PlacementSearchError) as info:
        decode_placement(config, EdgeSpace(3))
    message = str(info.value)
    assert "\n" not in message
    if "src_0" in config:
        assert ("'src_0'" if config["src_0"] == 7 else "'dst_0'") in message and "0 to 2" in message
    else:
        assert "'k'" in message


def test_slot_encoding_accepts_whole_numbers_of_other_integer_types():
    space = EdgeSpace(3)
    numpy = pytest.importorskip("numpy")
    config = {"k": numpy.int64(1), "src_0": numpy.int32(2), "dst_0": 1.0}
    assert str(decode_placement(config, space)) == "2->1"


@pytest.mark.parametrize("k_range", [(0, 1), (-1, -1), (3, 2)])
def test_define_by_run_space_refuses_k_ranges_that_cannot_decode(k_range):
    with pytest.raises(PlacementSearchError):
        DefineByRunSpace(3, k_range)


def test_define_by_run_space_returns_the_training_seed_with_k():
    params = encode_placement(Placement.parse("0->1"), vary_k=False)
    assert DefineByRunSpace(3, (1, 1), training_seed=4)(optuna.trial.FixedTrial(params)) == {"k": 1, "seed": 4}
    params = encode_placement(Placement.parse("0->1"), vary_k=True)
    assert DefineByRunSpace(3, (1, 2), training_seed=4)(optuna.trial.FixedTrial(params)) == {"seed": 4}
    assert DefineByRunSpace(3, (1, 2))(optuna.trial.FixedTrial(params)) is None
    # a space pickled before the training seed existed still works, without a seed
    old = DefineByRunSpace(3, (1, 2), training_seed=4)
    del old.training_seed
    assert old(optuna.trial.FixedTrial(params)) is None


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # TPE's group option
@pytest.mark.parametrize("space", SPACE_TABLE, ids=SPACE_IDS)
@pytest.mark.parametrize("k_range", [(1, 1), (1, 3)])
def test_optuna_samples_of_the_space_always_decode(space, k_range):
    """Live searches are unaffected by the strict decoder: whatever TPE samples (warm starts
    included) is in range and decodes to K distinct allowed edges."""
    define = DefineByRunSpace(space.num_points, k_range, training_seed=0)
    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=5, multivariate=True, group=k_range[0] != k_range[1])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.enqueue_trial(encode_placement(Placement.of(space.edges[:k_range[0]]), k_range[0] != k_range[1]))
    for _ in range(25):
        trial = study.ask()
        constants = define(trial) or {}
        p = decode_placement({**trial.params, **constants}, space)
        assert k_range[0] <= len(p) <= k_range[1] and all(e in space for e in p)
        study.tell(trial, float(len(str(p)) % 7))
