"""Which searches a scheduler may stop early: every trial runs to the end by default, ASHA when a
search asks for it; ground truth, baselines and planned placement lists always run to the end."""

from __future__ import annotations

import pytest

from placement_search.config import Config, SearchConfig, load_config
from placement_search.search.service import RunOptions, fold_options, planned_search
from placement_search.store import open_store


def test_default_search_runs_every_trial_to_the_end():
    assert SearchConfig().scheduler == "fifo"
    cfg, _, _ = fold_options(Config(), RunOptions())
    assert cfg.search.scheduler == "fifo"


@pytest.mark.parametrize("searcher", ["exhaustive", "baseline:probe", "baseline:parallel-all"])
def test_ground_truth_and_baselines_run_every_trial_to_the_end(searcher):
    cfg, _, _ = fold_options(Config(), RunOptions(searcher=searcher))
    assert cfg.search.searcher == searcher and cfg.search.scheduler == "fifo"


@pytest.mark.parametrize("searcher", ["random", "tpe", "gga-tpe", "prior-gp"])
def test_searchers_keep_the_configured_scheduler(searcher):
    assert fold_options(Config(), RunOptions(searcher=searcher))[0].search.scheduler == "fifo"
    asha = Config()
    asha.search.scheduler = "asha"
    assert fold_options(asha, RunOptions(searcher=searcher))[0].search.scheduler == "asha"


def test_planned_trials_run_to_the_end(tmp_path):
    cfg = load_config("tiny")
    cfg.search.scheduler = "asha"
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    job = planned_search(store, cfg, "sweep", "exhaustive", [("0->1", 0)], {})
    assert job.cfg.search.scheduler == "fifo" and cfg.search.scheduler == "asha"  # the caller's config untouched
    store.close()
