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

Repair covers only those two cases. A slot config that cannot come from this search's space is
refused with a ``PlacementSearchError`` naming the key: neither ``placement`` nor ``k``, K not an
integer >= 1, a missing or non-integer ``src_i`` / ``dst_i``, a point outside 0..n-1 (a config
from another backbone or a corrupt one must not be trained as some other placement).
``DefineByRunSpace`` asks Optuna only for K in the search's K range and points in 0..n-1, so a
live search never produces a refused config.
"""

from __future__ import annotations

import numbers
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


def _integer(config: dict[str, Any], key: str, what: str) -> int:
    """``config[key]`` as an int (an integral float too), or a PlacementSearchError naming the key."""
    if key not in config:
        raise PlacementSearchError(f"trial config lacks key {key!r} ({what}); a slot config with k=K needs "
                                   f"src_0, dst_0 .. src_(K-1), dst_(K-1)")
    value = config[key]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise PlacementSearchError(f"trial config key {key!r} ({what}) must be an integer, got {value!r}")


def decode_placement(config: dict[str, Any], space: EdgeSpace) -> Placement:
    """The placement a trial config stands for (either encoding), validated against ``space``.

    Raises ``PlacementSearchError`` naming the key for a malformed or out-of-range slot config
    (see the module doc); only duplicate and excluded-type slots are repaired."""
    if "placement" in config:
        return space.parse(str(config["placement"]))
    if "k" not in config:
        raise PlacementSearchError(
            "trial config has neither 'placement' (canonical text, e.g. 0->3,5->5) nor 'k' (the slot encoding)")
    k = _integer(config, "k", "the number of adapter slots")
    if k < 1:
        raise PlacementSearchError(f"trial config key 'k' is {k}; a slot config needs k >= 1 "
                                   f"(write the empty placement as {{'placement': ''}})")
    last = space.num_points - 1
    taken: list[Edge] = []
    for slot in range(k):
        points = []
        for key, role in zip(slot_names(slot), ("source", "destination")):
            point = _integer(config, key, f"slot {slot}'s {role} point")
            if not 0 <= point <= last:
                raise PlacementSearchError(
                    f"trial config key {key!r} is {point}, out of range; points run from 0 to {last} for this "
                    f"backbone ({space.num_points} points)")
            points.append(point)
        taken.append(_nearest_free(Edge(*points), space, set(taken)))
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

    Every parameter is an integer within the bounds ``decode_placement`` accepts: K in
    ``k_range`` (at least 1) and points in 0..num_points-1. The constants it returns (K when it is
    fixed, and ``seed``, the training seed, when given) go into the trial config as they are.

    A class rather than a closure so Tune can pickle the searcher into its experiment state.
    """

    def __init__(self, num_points: int, k_range: tuple[int, int], training_seed: int | None = None):
        k_min, k_max = k_range
        if num_points < 1 or not 1 <= k_min <= k_max:
            raise PlacementSearchError(
                f"slot space needs at least one point and 1 <= k <= k_max; got {num_points} points, k range {k_range}")
        self.num_points, self.k_range, self.training_seed = num_points, (k_min, k_max), training_seed

    def __call__(self, trial) -> dict[str, Any] | None:
        k_min, k_max = self.k_range
        k = trial.suggest_int("k", k_min, k_max) if k_min != k_max else k_min
        for slot in range(k):
            src, dst = slot_names(slot)
            trial.suggest_int(src, 0, self.num_points - 1)
            trial.suggest_int(dst, 0, self.num_points - 1)
        constants: dict[str, Any] = {"k": k} if k_min == k_max else {}
        # a space pickled before the training seed was added has no such attribute: no seed, as then
        seed = getattr(self, "training_seed", None)
        if seed is not None:
            constants["seed"] = seed
        return constants or None
