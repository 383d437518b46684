"""How a placement becomes a trial's config and back.

Two encodings, one decoder (``decode_placement``) for both:

- ``{"placement": "0->3,5->5"}``: searchers that enumerate or draw placements themselves
  (random, exhaustive, baselines) put the canonical text in the config.
- ``{"k": K, "src_0": i, "dst_0": j, ...}``: the TPE encoding. Each of the K adapter slots is a
  (source, destination) pair of integer parameters, so TPE's per-parameter densities can learn
  "sources near 3, destinations near 10" rather than treating 625 edges as unrelated categories.
  K is a parameter too when the search varies it. A sampled slot that is a duplicate, or whose
  type the space excludes, is repaired to the nearest free allowed edge (L1 distance in
  (source, destination), ties to the smaller source then destination), so every suggestion is a
  valid K-edge placement.
"""

from __future__ import annotations

from typing import Any

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace, Placement


def slot_names(slot: int) -> tuple[str, str]:
    return f"src_{slot}", f"dst_{slot}"


def _nearest_free(edge: Edge, space: EdgeSpace, taken: set[Edge]) -> Edge:
    if edge in space and edge not in taken:
        return edge
    candidates = [e for e in space.edges if e not in taken]
    if not candidates:
        raise PlacementSearchError(f"no free edge left in a space of {len(space)} edges; lower K")
    return min(
        candidates,
        key=lambda e: (abs(e.source - edge.source) + abs(e.destination - edge.destination), e.source, e.destination),
    )


def decode_placement(config: dict[str, Any], space: EdgeSpace) -> Placement:
    """The placement a trial config stands for (either encoding), validated against ``space``."""
    if "placement" in config:
        return space.parse(str(config["placement"]))
    k = int(config["k"])
    taken: list[Edge] = []
    for slot in range(k):
        src, dst = slot_names(slot)
        edge = _nearest_free(Edge(int(config[src]), int(config[dst])), space, set(taken))
        taken.append(edge)
    return Placement.of(taken)


def encode_placement(placement: Placement, vary_k: bool) -> dict[str, int]:
    """TPE parameters that decode to ``placement`` (for warm starts); slots in canonical order."""
    params: dict[str, int] = {"k": len(placement)} if vary_k else {}
    for slot, edge in enumerate(placement):
        src, dst = slot_names(slot)
        params[src], params[dst] = edge.source, edge.destination
    return params


class DefineByRunSpace:
    """Optuna define-by-run space: K (when it varies) and K (source, destination) slots.

    A class rather than a closure so Tune can pickle the searcher into its experiment state.
    """

    def __init__(self, num_points: int, k_range: tuple[int, int]):
        self.num_points, self.k_range = num_points, k_range

    def __call__(self, trial) -> dict[str, Any] | None:
        k_min, k_max = self.k_range
        k = trial.suggest_int("k", k_min, k_max) if k_min != k_max else k_min
        for slot in range(k):
            src, dst = slot_names(slot)
            trial.suggest_int(src, 0, self.num_points - 1)
            trial.suggest_int(dst, 0, self.num_points - 1)
        return {"k": k} if k_min == k_max else None
