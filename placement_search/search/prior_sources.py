"""A user's own exhaustive sweeps as more source maps of prior-gp's transfer prior (``search.prior_sources``).

The shipped prior (``transfer_prior.py``) holds the repository's six ground truths. What pays most
is a source task that resembles the searched one: TREC fine searched with TREC-6 (the same
questions, coarser labels) among the sources reached an edge within noise of the best in 0.14x
random's compute with the backbone map, 0.26x with the source slopes, 0.82x without either
(README, "The backbone's own maps" and "Resemblance learned from the trials"). A user who has
swept such a sibling names its store here. Every exhaustive single-edge sweep in it joins the
prior as one more source map, named ``backbone/task`` as the shipped ones are:

- a sweep of the searched benchmark key (the search's own answers) never does;
- a sweep named like a shipped source (the same backbone and task) replaces it;
- the kernel keeps the shipped hyper-parameters (``TransferPrior.adding``).

Sweeps of the searched backbone also feed the backbone map and the source slopes, when those are on.
"""

from __future__ import annotations

from collections.abc import Sequence

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge
from placement_search.search.features import TransferPrior


def store_sweeps(url: str, backbone: str, num_points: int | None,
                 exclude_key: str) -> list[tuple[str, dict[Edge, float], int]]:
    """``(backbone/task, edge -> mean val accuracy, points)`` of each exhaustive sweep in the store at
    ``url`` but ``exclude_key``'s. A sweep of ``backbone`` has its ``num_points``; another backbone's
    (or any, with ``num_points`` None) has as many as its highest measured point plus one (a sampled
    sweep without the last point would be read a point short). One-line errors for a store that
    cannot be read or holds no sweep."""
    from placement_search.search.surrogate import prior_task_name
    from placement_search.store import open_store

    try:
        store = open_store(url, must_exist=True)
        keys = store.ground_truth_keys()
    except Exception as exc:  # noqa: BLE001 - a missing file, an unreachable database, a file that is not a store
        # the store's own errors read "problem; fix", and their fix is about --store
        problem = str(exc).split(";")[0].splitlines()[0] if str(exc) else type(exc).__name__
        raise PlacementSearchError(f"search.prior_sources: cannot read {url} ({problem}); name a results store "
                                   f"that holds an exhaustive sweep of a related task") from None
    try:
        sweeps = []
        for key in keys:
            if key == exclude_key:
                continue
            description = store.get_benchmark(key) or {}
            source_backbone = str(description.get("backbone", {}).get("name", "unknown"))
            task = str(description.get("task", {}).get("name", key[:12]))
            truth = store.ground_truth(key)
            accuracy = {Edge(int(s), int(d)): float(a) for s, d, a in
                        zip(truth["source"], truth["destination"], truth["val_accuracy_mean"], strict=True)}
            top = max(max(e.source, e.destination) for e in accuracy) + 1
            own_backbone = source_backbone == backbone and num_points is not None
            if own_backbone and top > num_points:
                raise PlacementSearchError(
                    f"search.prior_sources: the {source_backbone}/{task} sweep in {url} has edges up to point "
                    f"{top - 1}, but {backbone} has {num_points} points; it is not a sweep of this backbone")
            sweeps.append((prior_task_name(source_backbone, task), accuracy,
                           num_points if own_backbone else top))
    finally:
        store.close()
    if not sweeps:
        what = "only a sweep of the searched task itself" if keys else "no exhaustive single-edge sweep"
        raise PlacementSearchError(f"search.prior_sources: {url} holds {what}; run `placement-search run CONFIG "
                                   f"--searcher exhaustive --store {url}` on a related task first")
    return sweeps


def with_prior_sources(prior: TransferPrior, urls: Sequence[str], backbone: str, num_points: int,
                       exclude_key: str, exclude_name: str) -> TransferPrior:
    """``prior`` with every sweep of the stores at ``urls`` added as a source map (module doc);
    a sweep named ``exclude_name`` (the searched backbone and task) is left out too."""
    sweeps = [s for url in urls for s in store_sweeps(url, backbone, num_points, exclude_key) if s[0] != exclude_name]
    return prior.adding(sweeps) if sweeps else prior


def check_prior_sources(cfg) -> None:
    """Refuse a config whose ``search.prior_sources`` cannot serve (module doc's errors) before a
    search opens its own store or starts Ray: nothing is written for a bad input."""
    from placement_search.store.keys import benchmark_key

    for url in cfg.search.prior_sources:
        store_sweeps(url, cfg.backbone.name, None, benchmark_key(cfg))
