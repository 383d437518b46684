import pytest

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement


@pytest.mark.parametrize(
    "blocks, total, by_type",
    [
        (12, 625, {"sequential": 25, "parallel": 24, "long-range": 276, "recurrent": 300}),
        (6, 169, {"sequential": 13, "parallel": 12, "long-range": 66, "recurrent": 78}),
        (40, 6561, None),
    ],
)
def test_space_counts_match_the_paper(blocks, total, by_type):
    n = 2 * blocks + 1
    space = EdgeSpace(n)
    assert len(space) == total == n * n
    counts = space.counts_by_type()
    assert counts["sequential"] == n and counts["parallel"] == n - 1
    assert counts["long-range"] == (n - 1) * (n - 2) // 2 and counts["recurrent"] == n * (n - 1) // 2
    if by_type:
        assert counts == by_type


def test_standard_space_is_about_eight_percent():
    space = EdgeSpace(25, ("sequential", "parallel"))
    assert len(space) == 49 and 0.07 < len(space) / 625 < 0.09


@pytest.mark.parametrize(
    "edge, kind",
    [((3, 3), "sequential"), ((3, 4), "parallel"), ((3, 5), "long-range"), ((0, 12), "long-range"),
     ((4, 3), "recurrent"), ((12, 0), "recurrent")],
)
def test_edge_types(edge, kind):
    assert Edge(*edge).type == kind


def test_canonical_text_is_sorted_and_round_trips():
    p = Placement.parse(" 12->2, 0->3,5->5 ")
    assert str(p) == "0->3,5->5,12->2"
    assert Placement.parse(str(p)) == p
    assert str(Placement.parse("empty")) == "" and len(Placement.parse("")) == 0
    assert p.type_counts() == {"sequential": 1, "parallel": 0, "long-range": 1, "recurrent": 1}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0->13", "edge 0->13 is out of range; points run from 0 to 12"),
        ("-1->2", "out of range"),
        ("0->1,0->1", "appears twice"),
        ("0-1", "malformed edge '0-1'"),
        ("0->1;2->3", "malformed edge"),
        ("a->b", "malformed edge"),
    ],
)
def test_bad_placements_are_rejected_with_a_clear_message(text, fragment):
    with pytest.raises(PlacementSearchError, match=fragment.replace("(", r"\(")):
        EdgeSpace(13).parse(text)


def test_excluded_type_is_named():
    space = EdgeSpace(13, ("sequential", "parallel"))
    with pytest.raises(PlacementSearchError, match="edge 4->2 is recurrent, which this search space excludes"):
        space.parse("4->2")
    with pytest.raises(PlacementSearchError, match="unknown edge type 'diagonal'"):
        EdgeSpace(13, ("diagonal",))


def test_stratified_sample_is_proportional_fixed_and_spread():
    space = EdgeSpace(13)
    sample = space.stratified_sample(32)
    assert len(sample) == len(set(sample)) == 32 and sample == space.stratified_sample(32)
    counts = {t: sum(e.type == t for e in sample) for t in space.edge_types}
    assert counts == {"sequential": 3, "parallel": 3, "long-range": 12, "recurrent": 14}  # 13:12:66:78 of 169
    assert {e.destination for e in sample if e.type == "recurrent"} >= {0, 5}
    assert space.stratified_sample(500) == list(space.edges)
