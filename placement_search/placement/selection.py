"""Choosing placements without training: GGA and the named baselines (DESIGN.md §7).

Every command that accepts a placement accepts these names too (``resolve_placement``):

    0->3,5->5            explicit edges (canonical text form)
    empty                the linear probe (no adapters)
    parallel-all         the 2L parallel edges (i, i+1)
    sequential-all       the 2L self-loops at points 1..2L
    first-k:K, last-k:K  the K lowest / highest parallel edges
    top-k:K              the K highest gradient-rank edges of the space
    gga:K[:gamma=G]      GGA with K edges (gamma defaults to 0.6)
    random-k:K[:seed=S]  K distinct edges drawn uniformly from the space (seed defaults to 0)

Names that need scores (top-k, gga) take them from a callable so scoring runs only when needed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement

Scores = Mapping[Edge, float]

BASELINE_SYNTAX = (
    "empty, parallel-all, sequential-all, first-k:K, last-k:K, top-k:K, gga:K[:gamma=G], "
    "random-k:K[:seed=S], or explicit edges like 0->3,5->5"
)


def _check_k(k: int, available: int, what: str) -> None:
    if k < 1:
        raise PlacementSearchError(f"K must be at least 1, got {k}")
    if k > available:
        raise PlacementSearchError(f"K={k} is larger than the {available} {what}; choose K <= {available}")


def gga(scores: Scores, space: EdgeSpace, k: int, gamma: float = 0.6) -> Placement:
    """Greedy gradient-guided selection of K edges from ``space``.

    Repeatedly take the highest-scoring remaining edge (ties: smaller source, then smaller
    destination), then discount each remaining edge e by s_e *= 1 - gamma ** dist(e, chosen),
    dist = |i - i*| + |j - j*|, so the next picks spread out. gamma = 0 is plain top-k.
    """
    if not 0.0 <= gamma < 1.0:
        raise PlacementSearchError(f"gamma must be in [0, 1), got {gamma}")
    _check_k(k, len(space), "edges in the search space")
    missing = [e for e in space.edges if e not in scores]
    if missing:
        raise PlacementSearchError(f"no score for edge {missing[0]}; score the whole space first")
    remaining = {e: float(scores[e]) for e in space.edges}
    chosen: list[Edge] = []
    for _ in range(k):
        best = min(remaining, key=lambda e: (-remaining[e], e.source, e.destination))
        chosen.append(best)
        del remaining[best]
        if gamma > 0.0:
            for e in remaining:
                dist = abs(e.source - best.source) + abs(e.destination - best.destination)
                remaining[e] *= 1.0 - gamma**dist
    return Placement.of(chosen)


def top_k(scores: Scores, space: EdgeSpace, k: int) -> Placement:
    return gga(scores, space, k, gamma=0.0)


def parallel_all(space: EdgeSpace) -> Placement:
    n = space.num_points
    return space.validate(Placement.of((i, i + 1) for i in range(n - 1)))


def sequential_all(space: EdgeSpace) -> Placement:
    n = space.num_points
    return space.validate(Placement.of((i, i) for i in range(1, n)))


def first_k(space: EdgeSpace, k: int) -> Placement:
    _check_k(k, space.num_points - 1, "parallel edges")
    return space.validate(Placement.of((i, i + 1) for i in range(k)))


def last_k(space: EdgeSpace, k: int) -> Placement:
    n = space.num_points
    _check_k(k, n - 1, "parallel edges")
    return space.validate(Placement.of((i, i + 1) for i in range(n - 1 - k, n - 1)))


def random_k(space: EdgeSpace, k: int, seed: int = 0) -> Placement:
    _check_k(k, len(space), "edges in the search space")
    return Placement.of(random.Random(seed).sample(space.edges, k))


def _parse_options(name: str, parts: list[str], allowed: dict[str, type]) -> dict:
    options = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in allowed:
            raise PlacementSearchError(
                f"bad option {part!r} in placement {name!r}; allowed: "
                + ", ".join(f"{k}=<{t.__name__}>" for k, t in allowed.items())
            )
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise PlacementSearchError(f"option {key} in placement {name!r} must be a {allowed[key].__name__}") from None
    return options


def _parse_k(name: str, text: str | None) -> int:
    if text is None:
        raise PlacementSearchError(f"placement {name!r} needs K, e.g. {name.split(':')[0]}:3")
    try:
        return int(text)
    except ValueError:
        raise PlacementSearchError(f"K in placement {name!r} must be an integer, got {text!r}") from None


def resolve_placement(
    text: str, space: EdgeSpace, scores: Callable[[], Scores] | Scores | None = None
) -> Placement:
    """Turn explicit edges or a baseline name (see module doc) into a validated placement."""
    text = text.strip()
    head, *rest = text.split(":")
    if "->" in text or text[:1].isdigit() or text in ("", "empty"):
        return space.parse(text)
    if head in ("parallel-all", "sequential-all"):
        if rest:
            raise PlacementSearchError(f"placement {head!r} takes no options")
        return parallel_all(space) if head == "parallel-all" else sequential_all(space)
    if head in ("first-k", "last-k", "top-k", "gga", "random-k"):
        k = _parse_k(text, rest[0] if rest else None)
        if head == "first-k":
            return first_k(space, k)
        if head == "last-k":
            return last_k(space, k)
        if head == "random-k":
            return random_k(space, k, **_parse_options(text, rest[1:], {"seed": int}))
        _check_k(k, len(space), "edges in the search space")  # before any scoring work
        if scores is None:
            raise PlacementSearchError(f"placement {text!r} needs gradient-rank scores, which are not available here")
        table = scores() if callable(scores) else scores
        if head == "top-k":
            _parse_options(text, rest[1:], {})
            return top_k(table, space, k)
        return gga(table, space, k, **_parse_options(text, rest[1:], {"gamma": float}))
    raise PlacementSearchError(f"unknown placement {text!r}; use {BASELINE_SYNTAX}")
