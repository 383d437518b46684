"""A user's own sweeps as prior-gp sources (search/prior_sources.py): what joins, what never does,
and one-line errors for stores that cannot serve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from placement_search.config import Config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, EdgeSpace
from placement_search.search.prior_sources import store_sweeps, with_prior_sources
from placement_search.search.searchers import make_searcher
from placement_search.search.transfer_prior import PRIOR
from placement_search.store import open_store


def _sweep(store, key: str, backbone: str, task: str, accuracy: dict[Edge, float], searcher: str = "exhaustive") -> None:
    store.ensure_benchmark(key, {"backbone": {"name": backbone}, "task": {"name": task}})
    name = f"{backbone}-{task}-{searcher}"
    store.create_search(name, key, searcher, len(accuracy), {}, {"seed": 0})
    for i, (edge, acc) in enumerate(accuracy.items()):
        store.record_trial(name, f"t{i}", str(edge), 0, "completed",
                           {"val_accuracy": acc, "best_val_accuracy": acc, "test_accuracy": acc})
    store.set_search_status(name, "completed")


def _map(n: int, rng: np.random.Generator) -> dict[Edge, float]:
    return {e: float(0.8 + 0.01 * rng.normal()) for e in EdgeSpace(n).edges}


@pytest.fixture
def sibling_store(tmp_path):
    """A store with a MiniLM-L6 sibling sweep, a sweep of another backbone (sampled: its last point
    never measured), the searched task's own sweep and a random search (not a sweep)."""
    rng = np.random.default_rng(0)
    url = str(tmp_path / "mine.sqlite")
    with open_store(url) as store:
        _sweep(store, "k-sibling", "minilm-l6", "my-sibling", _map(13, rng))
        other = {e: a for e, a in _map(8, rng).items() if max(e.source, e.destination) < 7}
        _sweep(store, "k-other", "other-net", "pictures", other)
        _sweep(store, "k-own", "minilm-l6", "my-task", _map(13, rng))
        _sweep(store, "k-sibling", "minilm-l6", "my-sibling", _map(13, rng), searcher="random")
    return url


def test_a_stores_sweeps_join_the_prior_but_the_searched_tasks_own(sibling_store):
    sweeps = store_sweeps(sibling_store, "minilm-l6", 13, exclude_key="k-own")
    assert [(name, n, len(acc)) for name, acc, n in sweeps] == [("minilm-l6/my-sibling", 13, 169),
                                                                 ("other-net/pictures", 7, 49)]
    prior = with_prior_sources(PRIOR, [sibling_store], "minilm-l6", 13, "k-own", "minilm-l6/trec6")
    assert prior.sources == (*PRIOR.sources, "minilm-l6/my-sibling", "other-net/pictures")
    edges = list(EdgeSpace(13).edges)
    column = prior.source_maps(edges, 13, "minilm-l6")[:, -1]
    assert spearmanr(column, [sweeps[0][1][e] for e in edges])[0] > 0.99
    # named like the searched task: left out, whatever its key
    named = with_prior_sources(PRIOR, [sibling_store], "minilm-l6", 13, "k-own", "minilm-l6/my-sibling")
    assert "minilm-l6/my-sibling" not in named.sources


def test_a_config_names_stores_and_prior_gp_reads_their_sweeps(sibling_store):
    def searcher(sources):
        cfg = Config()
        cfg.search.prior_sources, cfg.search.source_map_var = sources, 2.0
        table = {e: 1.0 for e in EdgeSpace(13).edges}
        built, _ = make_searcher("prior-gp", cfg, EdgeSpace(13), 8, 0, lambda: table)
        return built.searcher if hasattr(built, "searcher") else built

    # the two MiniLM-L6 sweeps (neither is the config's own task, TREC-6), not the other backbone's
    assert searcher([sibling_store]).model.X.shape[1] == searcher([]).model.X.shape[1] + 2
    # the start line says which maps are the user's (the shipped prior less the config's own task, TREC-6)
    assert searcher([sibling_store]).prior_note == ("transfer prior: 5 shipped source maps + minilm-l6/my-sibling, "
                                                    "other-net/pictures, minilm-l6/my-task")
    assert searcher([]).prior_note is None


def test_stores_that_cannot_serve_get_one_line_errors(tmp_path, sibling_store):
    with pytest.raises(PlacementSearchError, match="search.prior_sources: .*missing.sqlite") as missing:
        store_sweeps(str(tmp_path / "missing.sqlite"), "minilm-l6", 13, "k")
    assert "\n" not in str(missing.value)
    empty = str(tmp_path / "empty.sqlite")
    open_store(empty).close()
    with pytest.raises(PlacementSearchError, match="holds no exhaustive single-edge sweep; run `placement-search run"):
        store_sweeps(empty, "minilm-l6", 13, "k")
    with open_store(empty) as store:
        _sweep(store, "k-own", "minilm-l6", "my-task", _map(13, np.random.default_rng(1)))
    with pytest.raises(PlacementSearchError, match="holds only a sweep of the searched task itself"):
        store_sweeps(empty, "minilm-l6", 13, "k-own")
    # a sweep that claims the searched backbone but has more points than it
    with pytest.raises(PlacementSearchError, match="has edges up to point 12, but minilm-l6 has 7 points"):
        store_sweeps(sibling_store, "minilm-l6", 7, "k-own")
    not_a_store = tmp_path / "notes.sqlite"
    not_a_store.write_text("not a database")
    with pytest.raises(PlacementSearchError, match="search.prior_sources: ") as garbage:
        store_sweeps(str(not_a_store), "minilm-l6", 13, "k")
    assert "\n" not in str(garbage.value)

