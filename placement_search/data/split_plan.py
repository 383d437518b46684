"""Deterministic, stratified train / validation / test index plans, seeded by ``task.split_seed``.

A split the source lacks (or whose rows are all unlabeled) is carved from the labeled rows of the
train split: test first (``test_fraction`` of that pool), then validation (``validation_fraction``),
each stratified by class with largest-remainder rounding. Then each split is shuffled with its own
seeded stream and cut to its sample limit, stratified so that a limit of at least the number of
classes keeps every class. Each stage draws from ``numpy.random.default_rng([seed, stage])``, so
the plan depends only on the seed, the recipe and the labels - never on the process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placement_search.errors import PlacementSearchError

ROLES = ("train", "validation", "test")
_STAGE = {"carve": 1, "train": 2, "validation": 3, "test": 4}


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), _STAGE[stage]])


def allocate(available: np.ndarray, total: int, keep_all: bool = False) -> np.ndarray:
    """Per-class counts summing to ``min(total, available.sum())``, proportional to ``available``.

    keep_all: when ``total`` allows it, every class that has examples gets at least one.
    """
    available = np.asarray(available, dtype=np.int64)
    n = int(available.sum())
    if total >= n:
        return available.copy()
    quota = total * available / n
    counts = np.floor(quota).astype(np.int64)
    frac = quota - counts
    for c in np.lexsort((np.arange(len(counts)), -frac)):  # largest remainder first, ties: class id
        if counts.sum() >= total:
            break
        if counts[c] < available[c]:
            counts[c] += 1
    present = available > 0
    if keep_all and total >= int(present.sum()):
        for c in np.flatnonzero(present & (counts == 0)):
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[c] += 1
    return counts


def take_stratified(order: np.ndarray, labels: np.ndarray, total: int, keep_all: bool = False):
    """Split ``order`` (row indices) into the first ``total`` per a stratified allocation, and the rest.

    Within each class the rows are taken in ``order``'s order; both parts keep ``order``'s order.
    """
    lab = labels[order]
    num_classes = int(lab.max()) + 1 if len(lab) else 0
    counts = np.bincount(lab, minlength=num_classes)
    quota = allocate(counts, total, keep_all)
    by_class = np.argsort(lab, kind="stable")
    rank = np.empty(len(lab), dtype=np.int64)
    rank[by_class] = np.arange(len(lab)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = rank < quota[lab]
    return order[keep], order[~keep]


@dataclass
class SplitPlan:
    """For each role, the source split it reads and the row indices, plus the recipe that made it."""

    sources: dict[str, str]
    indices: dict[str, np.ndarray]
    recipe: dict


def plan_splits(cfg, labels: dict[str, np.ndarray], roles: dict[str, str | None], task: str) -> SplitPlan:
    """Plan the three splits; ``roles`` maps a role to its labeled source split (None: carve it).

    ``labels`` holds each source split's class ids (-1 = unlabeled, such rows are never used).
    """
    seed = cfg.split_seed
    train_source = roles["train"]
    pool = np.flatnonzero(labels[train_source] >= 0)
    carve = [r for r in ("test", "validation") if roles[r] is None]
    indices, sources, recipe = {}, {}, {"seed": seed}
    remaining = stage_rng(seed, "carve").permutation(pool)
    for role in carve:
        fraction = getattr(cfg, f"{role}_fraction")
        size = max(1, int(round(fraction * len(pool))))
        indices[role], remaining = take_stratified(remaining, labels[train_source], size)
        sources[role] = train_source
        recipe[role] = {"carved_from": train_source, "fraction": fraction}
    indices["train"], sources["train"] = remaining, train_source
    recipe["train"] = {"from": train_source}
    for role in ROLES:
        if roles[role] is not None and role != "train":
            sources[role] = roles[role]
            indices[role] = np.flatnonzero(labels[roles[role]] >= 0)
            recipe[role] = {"from": roles[role]}
    for role in ROLES:
        order = stage_rng(seed, role).permutation(indices[role])
        limit = getattr(cfg, f"{role}_samples")
        if limit is not None:
            order, _ = take_stratified(order, labels[sources[role]], limit, keep_all=True)
        recipe[role]["limit"] = limit
        if len(order) == 0:
            raise PlacementSearchError(
                f"task {task} leaves the {role} split empty ({len(pool)} labeled training rows); "
                f"use a larger data set or set task.{role}_split"
            )
        indices[role] = order
    return SplitPlan(sources, indices, recipe)
