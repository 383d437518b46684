"""Stores written by schema versions 1 and 2 (the committed ground truths among them) open migrated,
in place, with every trial, curve and score kept, priced (version 3), and stay resumable."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from placement_search.store import SCHEMA_VERSION, open_store
from placement_search.store.engine import sqlite_snapshot
from placement_search.store.migrations import legacy_label

#: the committed ground truths as schema versions 1 and 2 wrote them (frozen copies: the stores in
#: analysis/results move on to newer versions as they are used); v2_minilm_trec6 is v1_minilm_trec6
#: migrated by the version-2 code
V1 = Path(__file__).resolve().parent / "data"
COMMITTED = sorted(V1.glob("v[0-9]_*.sqlite")) + sorted((V1.parents[2] / "analysis" / "results").glob("*.sqlite"))


def _counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("searches", "trials", "curves", "scores", "score_sets", "benchmarks")}
    finally:
        con.close()


def _version(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("select value from store_meta where key = 'schema_version'").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("store_file", COMMITTED, ids=[f"{p.parent.name}/{p.stem}" for p in COMMITTED])
def test_committed_stores_migrate_with_nothing_lost(tmp_path, store_file):
    copy = sqlite_snapshot(store_file, tmp_path)
    old_version, before = _version(copy), _counts(copy)
    with open_store(str(copy), must_exist=True) as store:
        trials = store.trials_frame()
        searches = store.list_searches()
    assert _version(copy) == str(SCHEMA_VERSION) and _counts(copy) == before
    con = sqlite3.connect(copy)
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert con.execute("pragma foreign_key_check").fetchall() == []
    con.close()
    assert len(trials) == before["trials"] and (searches["trials_done"] > 0).all()
    if store_file.parent == V1:
        assert old_version == store_file.name[1]
    done = trials[trials["status"] == "completed"]
    assert done["epochs"].notna().all()  # what each trial cost, from its curve
    # the price of every trained trial, from its placement and its search's config (registered
    # backbones): the linear probe costs exactly the frozen backbone, every adapter adds to it
    priced = trials[trials["num_trainable_params"].notna()]
    assert priced[["inference_flops", "inference_cost", "train_flops"]].notna().all().all()
    probe = priced["placement"] == ""
    assert (priced.loc[probe, "inference_cost"] == 1.0).all()
    assert (priced.loc[~probe, "inference_cost"] > 1.0).all() and (priced["inference_cost"] < 2.01).all()  # 12->0 re-runs everything
    recurrent = priced["n_recurrent"] > 0
    assert priced.loc[recurrent, "inference_cost"].min() > priced.loc[~recurrent, "inference_cost"].max()
    con = sqlite3.connect(copy)
    assert con.execute("select count(*) from curves where epoch is null").fetchone()[0] == 0
    con.close()
    local = trials[trials["trial_key"].str.startswith("local:")]
    assert (local["device"].notna() & ~local["node"].str.contains(":", na=False)).all()
    with open_store(str(copy)) as again:  # opening a migrated store again changes nothing
        assert len(again.trials_frame()) == before["trials"]


def test_migrated_plan_resumes_without_running_anything(tmp_path):
    """The DINOv2 GGA experiments were recorded under version-1 keys; planning them again finds all."""
    from placement_search.config import config_from_dict
    from placement_search.search.service import planned_search

    copy = tmp_path / "dinov2s_fashion.sqlite"
    shutil.copy(V1 / "v1_dinov2s_fashion.sqlite", copy)
    with open_store(str(copy)) as store:
        record = store.get_search("dinov2s_fashion-gga")
        trials = store.trials_frame("dinov2s_fashion-gga")
        assert set(trials["label"]) == {"gga gamma 0.0", "gga gamma 0.6"}
        items = [(p, int(s), label) for p, s, label in zip(trials["placement"], trials["seed"], trials["label"])]
        job = planned_search(store, config_from_dict(record.config), record.name, record.searcher, items, {})
        assert job.searcher.suggest("next") == "FINISHED"
        assert len(store.trials_frame("dinov2s_fashion-gga")) == len(trials)


@pytest.mark.parametrize("label, searcher, expected", [
    ("K3:g0.6", "gga", "gga gamma 0.6"),
    ("K6:g0.0", "gga", "gga gamma 0.0"),
    ("K2:r7", "random", None),
    ("sequential-all", "baseline", "sequential-all"),
    ("probe", "baseline", "probe"),
    (None, "exhaustive", None),
])
def test_version_1_local_key_labels(label, searcher, expected):
    assert legacy_label(label, searcher) == expected
