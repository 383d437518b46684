"""Edges, placements and edge spaces (DESIGN.md §3).

An edge ``(i, j)`` is one adapter that reads residual-stream point ``i`` and adds its output to
point ``j``. A placement is a set of distinct edges; its canonical text (sorted, ``0->3,5->5``) is
its identity in the CLI, the store and the reports. An edge space is the set of edges a search may
use: all n^2 edges of a backbone with n points, or only some types.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from placement_search.config import EDGE_TYPES
from placement_search.errors import PlacementSearchError

_EDGE_RE = re.compile(r"^\s*(-?\d+)\s*->\s*(-?\d+)\s*$")


@dataclass(frozen=True, order=True)
class Edge:
    source: int
    destination: int

    @property
    def type(self) -> str:
        """sequential (i == j), parallel (j == i + 1), long-range (j >= i + 2) or recurrent (i > j)."""
        return edge_type(self.source, self.destination)

    @property
    def is_recurrent(self) -> bool:
        return self.source > self.destination

    def __str__(self) -> str:
        return f"{self.source}->{self.destination}"

    @classmethod
    def parse(cls, text: str) -> Edge:
        match = _EDGE_RE.match(text)
        if not match:
            raise PlacementSearchError(f"malformed edge {text.strip()!r}; write SOURCE->DESTINATION, e.g. 0->3")
        return cls(int(match.group(1)), int(match.group(2)))


def edge_type(source: int, destination: int) -> str:
    if source == destination:
        return "sequential"
    if destination == source + 1:
        return "parallel"
    if destination > source:
        return "long-range"
    return "recurrent"


@dataclass(frozen=True)
class Placement:
    """A sorted tuple of distinct edges. ``str(placement)`` is the canonical text form."""

    edges: tuple[Edge, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.edges))
        if len(set(ordered)) != len(ordered):
            dup = next(e for e in ordered if ordered.count(e) > 1)
            raise PlacementSearchError(f"edge {dup} appears twice in the placement; list each edge once")
        object.__setattr__(self, "edges", ordered)

    @classmethod
    def of(cls, edges: Iterable[Edge | tuple[int, int]]) -> Placement:
        return cls(tuple(e if isinstance(e, Edge) else Edge(*e) for e in edges))

    @classmethod
    def parse(cls, text: str) -> Placement:
        """Parse ``0->3,5->5``; the empty string (or ``empty``) is the linear probe."""
        text = text.strip()
        if text in ("", "empty"):
            return cls()
        return cls.of(Edge.parse(part) for part in text.split(","))

    def __str__(self) -> str:
        return ",".join(str(e) for e in self.edges)

    def __len__(self) -> int:
        return len(self.edges)

    def __iter__(self) -> Iterator[Edge]:
        return iter(self.edges)

    @property
    def has_recurrent(self) -> bool:
        return any(e.is_recurrent for e in self.edges)

    def type_counts(self) -> dict[str, int]:
        counts = {t: 0 for t in EDGE_TYPES}
        for e in self.edges:
            counts[e.type] += 1
        return counts


@dataclass(frozen=True)
class EdgeSpace:
    """The edges of a backbone with ``num_points`` points whose type is in ``edge_types``."""

    num_points: int
    edge_types: tuple[str, ...] = EDGE_TYPES

    def __post_init__(self) -> None:
        bad = [t for t in self.edge_types if t not in EDGE_TYPES]
        if bad:
            raise PlacementSearchError(f"unknown edge type {bad[0]!r}; allowed values: {', '.join(EDGE_TYPES)}")
        object.__setattr__(self, "edge_types", tuple(t for t in EDGE_TYPES if t in self.edge_types))

    @cached_property
    def edges(self) -> tuple[Edge, ...]:
        """All allowed edges in canonical (source, destination) order."""
        n = self.num_points
        return tuple(
            Edge(i, j) for i in range(n) for j in range(n) if edge_type(i, j) in self.edge_types
        )

    def __len__(self) -> int:
        return len(self.edges)

    def __contains__(self, edge: Edge) -> bool:
        return self._in_range(edge) and edge.type in self.edge_types

    def _in_range(self, edge: Edge) -> bool:
        return 0 <= edge.source < self.num_points and 0 <= edge.destination < self.num_points

    def counts_by_type(self) -> dict[str, int]:
        counts = {t: 0 for t in self.edge_types}
        for e in self.edges:
            counts[e.type] += 1
        return counts

    def stratified_sample(self, size: int, min_per_type: int = 3, seed: int = 0) -> list[Edge]:
        """A fixed subset of ``size`` edges that stands for the whole space (benchmarks): each
        type gets its share of ``size`` in proportion to its count (but at least
        ``min_per_type``), drawn evenly through the canonical order, one seeded pick per equal
        stretch, so sources and destinations spread over the network."""
        counts = {t: c for t, c in self.counts_by_type().items() if c}
        if size >= len(self):
            return list(self.edges)
        ideal = {t: size * c / len(self) for t, c in counts.items()}
        take = {t: min(c, max(min_per_type, int(ideal[t]))) for t, c in counts.items()}
        while sum(take.values()) < size:  # largest shortfall first
            t = max((t for t in counts if take[t] < counts[t]), key=lambda t: ideal[t] - take[t])
            take[t] += 1
        while sum(take.values()) > size:  # the minimums overshot: trim the largest excess
            t = max((t for t in counts if take[t] > 1), key=lambda t: take[t] - ideal[t])
            take[t] -= 1
        rng = random.Random(seed)
        chosen: list[Edge] = []
        for t, k in take.items():
            edges = [e for e in self.edges if e.type == t]
            stretch = len(edges) / k
            chosen += [edges[int(i * stretch + rng.random() * stretch)] for i in range(k)]
        return chosen

    def validate(self, placement: Placement) -> Placement:
        """Reject edges outside 0..n-1 or of an excluded type, naming the edge and the fix."""
        last = self.num_points - 1
        for e in placement:
            if not self._in_range(e):
                raise PlacementSearchError(
                    f"edge {e} is out of range; points run from 0 to {last} for this backbone "
                    f"({self.num_points} points)"
                )
            if e.type not in self.edge_types:
                raise PlacementSearchError(
                    f"edge {e} is {e.type}, which this search space excludes; allowed types: "
                    f"{', '.join(self.edge_types)} (set space.edge_types to include it)"
                )
        return placement

    def parse(self, text: str) -> Placement:
        return self.validate(Placement.parse(text))
