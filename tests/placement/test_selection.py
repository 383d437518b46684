import pytest

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace
from placement_search.placement.selection import gga, resolve_placement


def scores_for(space, values):
    return {e: float(values.get((e.source, e.destination), 0.0)) for e in space.edges}


def test_gga_gamma_zero_is_top_k_with_documented_tie_break():
    space = EdgeSpace(5)
    scores = scores_for(space, {(2, 3): 9, (4, 0): 9, (1, 1): 9, (0, 4): 5, (3, 3): 7})
    # ties at 9 go to the smaller source first, then the smaller destination
    assert str(gga(scores, space, 3, gamma=0.0)) == "1->1,2->3,4->0"
    assert str(gga(scores, space, 4, gamma=0.0)) == "1->1,2->3,3->3,4->0"


def test_gga_discount_spreads_the_picks():
    space = EdgeSpace(5)
    scores = scores_for(space, {(2, 2): 10, (2, 3): 9.5, (0, 4): 6})
    # top-k takes the neighbour 2->3; GGA discounts it (dist 1: 9.5 * 0.4 = 3.8) below 0->4
    assert str(gga(scores, space, 2, gamma=0.0)) == "2->2,2->3"
    assert str(gga(scores, space, 2, gamma=0.6)) == "0->4,2->2"


def test_gga_matches_a_hand_computed_discount():
    space = EdgeSpace(3, ("sequential",))  # edges 0->0, 1->1, 2->2
    scores = {Edge(0, 0): 10.0, Edge(1, 1): 8.0, Edge(2, 2): 5.0}
    # after 0->0: 1->1 (dist 2) -> 8 * (1 - .25) = 6, 2->2 (dist 4) -> 5 * (1 - .0625) = 4.6875
    assert str(gga(scores, space, 2, gamma=0.5)) == "0->0,1->1"
    scores[Edge(2, 2)] = 6.5  # 6.5 * .9375 = 6.09 > 6
    assert str(gga(scores, space, 2, gamma=0.5)) == "0->0,2->2"


def test_gga_only_picks_from_the_space():
    space = EdgeSpace(5, ("parallel",))
    scores = scores_for(EdgeSpace(5), {(4, 0): 100, (1, 2): 3})
    assert str(gga(scores, space, 1)) == "1->2"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("parallel-all", "0->1,1->2,2->3,3->4,4->5,5->6,6->7,7->8,8->9,9->10,10->11,11->12"),
        ("sequential-all", ",".join(f"{i}->{i}" for i in range(1, 13))),
        ("first-k:2", "0->1,1->2"),
        ("last-k:2", "10->11,11->12"),
        ("empty", ""),
        ("12->0,0->3", "0->3,12->0"),
    ],
)
def test_named_baselines(name, expected):
    assert str(resolve_placement(name, EdgeSpace(13))) == expected


def test_random_k_is_seeded_and_in_space():
    space = EdgeSpace(13, ("long-range", "recurrent"))
    a = resolve_placement("random-k:4:seed=1", space)
    assert a == resolve_placement("random-k:4:seed=1", space) != resolve_placement("random-k:4:seed=2", space)
    assert len(a) == 4 and all(e in space for e in a)


def test_score_based_names_compute_scores_lazily():
    space = EdgeSpace(5)
    calls = []

    def scores():
        calls.append(1)
        return scores_for(space, {(3, 1): 4, (0, 0): 3})

    assert str(resolve_placement("parallel-all", space, scores)) and not calls
    assert str(resolve_placement("top-k:1", space, scores)) == "3->1"
    assert str(resolve_placement("gga:2:gamma=0", space, scores)) == "0->0,3->1"
    assert len(calls) == 2


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("top-k:626", "K=626 is larger than the 625 edges"),
        ("random-k:0", "K must be at least 1"),
        ("first-k", "needs K"),
        ("first-k:x", "must be an integer"),
        ("random-k:2:sed=1", "bad option 'sed=1'"),
        ("everything", "unknown placement 'everything'"),
        ("parallel-all:3", "takes no options"),
    ],
)
def test_bad_names(name, fragment):
    space = EdgeSpace(25)
    with pytest.raises(PlacementSearchError, match=fragment):
        resolve_placement(name, space, lambda: scores_for(space, {}))
