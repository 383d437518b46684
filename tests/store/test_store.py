"""The results store on both back-ends: a SQLite file and a real (throwaway) PostgreSQL server."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
from postgres_fixture import free_port, postgres_server, postgres_url  # noqa: F401 (fixtures)

from placement_search.errors import PlacementSearchError
from placement_search.store import ResultsStore, TrialRecord, default_store_url, open_store

BENCH = "bench0123456789ab"
BENCH_DESC = {"backbone": {"name": "tiny-bert"}, "task": {"name": "tiny-text"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url):
    with ResultsStore(url) as s:
        s.ensure_benchmark(BENCH, BENCH_DESC)
        yield s


def metrics(val: float, test: float, **more) -> dict:
    return {"placement": "ignored", "val_accuracy": val, "best_val_accuracy": val + 0.01,
            "test_accuracy": test, "val_loss": 1.0 - val, "test_loss": 1.0 - test, "train_loss": 0.5,
            "num_trainable_params": 1234, "num_adapter_params": 1000, "steps": 20, "wall_time_s": 1.5,
            **more}


CURVE = [
    {"step": 10, "epoch": 0.5, "train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.4, "lr": 1e-3},
    {"step": 20, "epoch": 1.0, "train_loss": 0.6, "val_loss": 0.7, "val_accuracy": 0.6, "lr": 5e-4},
]


def test_record_and_read_back_trials_and_curves(store):
    from placement_search.training import EvalPoint

    store.create_search("s", BENCH, "random", 4, {"space": {"k": 2}}, {"seed": 3, "replay": False})
    assert store.record_trial("s", "t1", "12->2, 0->3", 0, "completed", metrics(0.6, 0.55), CURVE,
                              node="10.0.0.7")
    curve2 = [EvalPoint(step=5, epoch=0.25, train_loss=1.0, val_loss=1.1, val_accuracy=0.3, lr=1e-3)]
    assert store.record_trial("s", "t2", "", 1, "completed", metrics(0.4, 0.35), curve2)

    trials = store.trials_frame("s")
    assert list(trials["trial_key"]) == ["t1", "t2"]
    t1 = trials.iloc[0]
    assert t1["placement"] == "0->3,12->2"  # canonical text
    counts = (t1["k"], t1["n_long_range"], t1["n_recurrent"], t1["n_sequential"], t1["n_parallel"])
    assert counts == (2, 1, 1, 0, 0)
    assert t1["search"] == "s" and t1["searcher"] == "random" and t1["benchmark_key"] == BENCH
    assert t1["val_accuracy"] == pytest.approx(0.6) and t1["test_accuracy"] == pytest.approx(0.55)
    assert t1["steps"] == 20 and t1["num_adapter_params"] == 1000 and t1["node"] == "10.0.0.7"
    assert t1["status"] == "completed" and t1["seed"] == 0
    assert trials.iloc[1]["placement"] == "" and trials.iloc[1]["k"] == 0

    curves = store.curves_frame("s")
    assert len(curves) == 3
    c1 = curves[curves["trial_key"] == "t1"]
    assert list(c1["step"]) == [10, 20] and list(c1["val_accuracy"]) == pytest.approx([0.4, 0.6])
    assert c1["placement"].iloc[0] == "0->3,12->2"
    assert curves[curves["trial_key"] == "t2"]["lr"].iloc[0] == pytest.approx(1e-3)

    search = store.get_search("s")
    assert search.config == {"space": {"k": 2}} and search.options == {"seed": 3, "replay": False}
    assert search.status == "running" and search.num_samples == 4 and search.benchmark_key == BENCH


def test_non_finite_metrics_are_stored_as_null(store):
    store.create_search("s", BENCH, "random", 1, {"x": float("inf")}, {})
    store.record_trial("s", "t", "1->1", 0, "completed", metrics(float("nan"), 0.5, train_loss=float("inf")))
    row = store.trials_frame("s").iloc[0]
    assert math.isnan(row["val_accuracy"]) and math.isnan(row["train_loss"])
    assert store.get_search("s").config == {"x": None}


def test_second_record_of_a_trial_key_is_a_no_op(url, store):
    store.create_search("s", BENCH, "random", 4, {}, {})
    assert store.record_trial("s", "t1", "0->1", 0, "completed", metrics(0.5, 0.5), CURVE)
    assert not store.record_trial("s", "t1", "0->1", 0, "completed", metrics(0.9, 0.9), CURVE)
    # a second store instance (a resumed driver) on the same database
    with ResultsStore(url) as other:
        assert not other.record_trial("s", "t1", "5->5", 1, "failed", {}, error="retry")
        assert other.record_trials([
            TrialRecord("s", "t1", "0->1", 0, "completed", metrics(0.1, 0.1)),
            TrialRecord("s", "t2", "0->2", 0, "completed", metrics(0.7, 0.6), CURVE),
            {"search_name": "s", "trial_key": "t2", "placement_text": "0->2", "seed": 0,
             "status": "completed"},
        ]) == [False, True, False]
        assert other.recorded_trial_keys("s") == {"t1", "t2"}
    trials = store.trials_frame("s")
    assert len(trials) == 2 and trials.set_index("trial_key").loc["t1", "val_accuracy"] == pytest.approx(0.5)
    assert len(store.curves_frame("s")) == 4
    # the same trial key in another search is another trial
    store.create_search("s2", BENCH, "random", 4, {}, {})
    assert store.record_trial("s2", "t1", "0->1", 0, "completed", metrics(0.5, 0.5))


def test_a_bad_record_writes_nothing_of_its_batch(store):
    store.create_search("s", BENCH, "random", 4, {}, {})
    with pytest.raises(PlacementSearchError, match="malformed edge"):
        store.record_trials([TrialRecord("s", "ok", "0->1", 0, "completed", metrics(0.5, 0.5)),
                             TrialRecord("s", "bad", "0-1", 0, "completed", metrics(0.5, 0.5))])
    with pytest.raises(ValueError, match="status"):
        store.record_trial("s", "x", "0->1", 0, "done", {})
    assert store.recorded_trial_keys("s") == set()


def _write_trials(url: str, worker: int, keys: list[str]) -> list[bool]:
    """One concurrent writer: its own store, one transaction per trial (as the driver's callback)."""
    with ResultsStore(url) as s:
        return [s.record_trial("s", k, f"{int(k[1:]) % 7}->{int(k[1:]) % 5}", 0, "completed",
                               metrics(0.5, 0.5), CURVE, node=f"w{worker}") for k in keys]


def test_concurrent_writers_write_each_trial_once(url, store):
    store.create_search("s", BENCH, "random", 60, {}, {})
    keys = [f"t{i}" for i in range(30)]
    # every worker attempts every key, each starting at a different place
    jobs = [(url, w, keys[w * 10:] + keys[: w * 10]) for w in range(3)]
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(_write_trials, jobs)
    assert sum(sum(r) for r in results) == len(keys)
    trials = store.trials_frame("s")
    assert sorted(trials["trial_key"]) == sorted(keys) and trials["trial_key"].is_unique
    assert len(store.curves_frame("s")) == 2 * len(keys)


def test_failed_trial_keeps_its_error_text(store):
    store.create_search("s", BENCH, "random", 2, {}, {})
    error = "RuntimeError: CUDA out of memory\n  at train step 3"
    assert store.record_trial("s", "t", "3->1", 2, "failed", {}, error=error, node="gpu-7")
    row = store.trials_frame("s").iloc[0]
    assert row["status"] == "failed" and row["error"] == error and row["node"] == "gpu-7"
    assert pd.isna(row["val_accuracy"]) and pd.isna(row["steps"])
    assert store.recorded_trial_keys("s") == {"t"}
    assert store.recorded_trial_keys("s", include_failed=False) == set()
    assert store.find_trial("s", "3->1", 2) is None


def test_duplicate_placements_are_reused(store):
    store.create_search("s", BENCH, "random", 3, {}, {})
    store.record_trial("s", "a", "0->2,1->1", 0, "completed", metrics(0.6, 0.5))
    first = store.find_trial("s", "1->1, 0->2", 0)
    assert first["trial_key"] == "a" and first["val_accuracy"] == pytest.approx(0.6)
    assert store.find_trial("s", "0->2,1->1", 1) is None
    assert store.find_trial("s", "0->2,1->1", None)["trial_key"] == "a"
    store.record_trial("s", "b", "0->2,1->1", 0, "reused", first, reused_from=first["trial_id"])
    trials = store.trials_frame("s").set_index("trial_key")
    assert trials.loc["b", "reused_from"] == first["trial_id"] and trials.loc["b", "status"] == "reused"
    assert trials.loc["b", "test_accuracy"] == pytest.approx(0.5)


def _exhaustive(store, name: str, seed: int, accs: dict[str, tuple[float, float]], bench: str = BENCH):
    store.create_search(name, bench, "exhaustive", len(accs), {}, {"seed": seed})
    for i, (placement, (val, test)) in enumerate(accs.items()):
        store.record_trial(name, f"{name}-{i}", placement, seed, "completed", metrics(val, test), CURVE)
    store.set_search_status(name, "completed")


def test_ground_truth_aggregates_single_edges_over_seeds(store):
    assert not store.has_ground_truth(BENCH)
    assert store.ground_truth(BENCH).empty
    _exhaustive(store, "ex0", 0, {"0->0": (0.50, 0.40), "3->1": (0.70, 0.60), "": (0.1, 0.1)})
    _exhaustive(store, "ex1", 1, {"0->0": (0.60, 0.50), "3->1": (0.80, 0.70)})
    # not ground truth: a failed single edge, a K=2 trial, another searcher, another benchmark key
    store.record_trial("ex1", "boom", "2->2", 1, "failed", {}, error="x")
    store.record_trial("ex1", "pair", "0->0,1->1", 1, "completed", metrics(0.99, 0.99))
    store.create_search("rnd", BENCH, "random", 1, {}, {})
    store.record_trial("rnd", "r", "0->0", 2, "completed", metrics(0.99, 0.99))
    store.ensure_benchmark("other", {})
    _exhaustive(store, "ex-other", 0, {"0->0": (0.99, 0.99)}, bench="other")
    # the same edge and seed trained again in a later exhaustive search does not count twice
    _exhaustive(store, "ex0-again", 0, {"0->0": (0.90, 0.90)})

    assert store.has_ground_truth(BENCH)
    assert store.ground_truth_keys() == [BENCH, "other"]  # in the order their sweeps began; "rnd" is none
    gt = store.ground_truth(BENCH)
    assert list(gt["placement"]) == ["0->0", "3->1"]
    assert list(gt["source"]) == [0, 3] and list(gt["destination"]) == [0, 1]
    assert list(gt["type"]) == ["sequential", "recurrent"]
    assert list(gt["n_seeds"]) == [2, 2]
    assert list(gt["val_accuracy_mean"]) == pytest.approx([0.55, 0.75])
    assert list(gt["test_accuracy_mean"]) == pytest.approx([0.45, 0.65])
    assert list(gt["val_accuracy_std"]) == pytest.approx([0.0707107, 0.0707107], rel=1e-5)
    assert list(gt["test_accuracy_std"]) == pytest.approx([0.0707107, 0.0707107], rel=1e-5)
    # the trials behind it: one per (edge, seed), the earlier one where an exhaustive search repeated it
    raw = store.ground_truth_trials(BENCH).sort_values(["placement", "seed"])
    assert list(zip(raw["placement"], raw["seed"], strict=True)) == [("0->0", 0), ("0->0", 1), ("3->1", 0), ("3->1", 1)]
    assert list(raw["val_accuracy"]) == pytest.approx([0.50, 0.60, 0.70, 0.80])


def test_lookup_prefers_exact_seed_then_exhaustive(store):
    store.create_search("rnd", BENCH, "random", 2, {}, {})
    store.record_trial("rnd", "r0", "0->3,1->1", 5, "completed", metrics(0.3, 0.3))
    _exhaustive(store, "ex", 0, {"4->4": (0.61, 0.51)})
    store.record_trial("rnd", "r1", "4->4", 0, "completed", metrics(0.9, 0.9))
    store.record_trial("rnd", "r2", "4->4", 7, "completed", metrics(0.7, 0.7))

    hit = store.lookup(BENCH, "4->4", seed=0, with_curve=True)
    assert hit["search"] == "ex" and hit["seed"] == 0 and hit["val_accuracy"] == pytest.approx(0.61)
    assert [p["step"] for p in hit["curve"]] == [10, 20]
    assert store.lookup(BENCH, "4->4", seed=7)["val_accuracy"] == pytest.approx(0.7)
    assert store.lookup(BENCH, "4->4", seed=99)["search"] == "ex"  # no seed 99: any seed, exhaustive first
    assert store.lookup(BENCH, "4->4")["search"] == "ex"
    assert store.lookup(BENCH, "1->1,0->3")["val_accuracy"] == pytest.approx(0.3)
    assert store.lookup(BENCH, "2->2") is None
    assert store.lookup("other-key", "4->4") is None
    # a replayed trial records the looked-up metrics
    store.create_search("replay", BENCH, "random", 1, {}, {"replay": True})
    assert store.record_trial("replay", "x", "4->4", 0, "replayed", hit, hit["curve"])
    assert store.trials_frame("replay").iloc[0]["test_accuracy"] == pytest.approx(0.51)


def test_list_searches_and_status(store):
    store.create_search("a", BENCH, "random", 3, {}, {})
    store.create_search("b", BENCH, "optuna", 5, {}, {})
    store.record_trial("a", "1", "0->1", 0, "completed", metrics(0.6, 0.58))
    store.record_trial("a", "2", "1->1", 0, "completed", metrics(0.8, 0.52))
    store.record_trial("a", "3", "2->1", 0, "failed", {}, error="x")
    store.set_search_status("a", "interrupted", experiment_path="/tmp/ray/a")
    listing = store.list_searches().set_index("name")
    assert list(listing.index) == ["a", "b"]
    a = listing.loc["a"]
    assert (a["searcher"], a["status"], a["trials_done"], a["trials_failed"], a["num_samples"]) == (
        "random", "interrupted", 3, 1, 3)
    assert a["best_val_accuracy"] == pytest.approx(0.8) and a["test_at_best_val"] == pytest.approx(0.52)
    assert a["best_placement"] == "1->1" and a["experiment_path"] == "/tmp/ray/a"
    assert pd.notna(a["finished_at"]) and a["created_at"] <= a["updated_at"]
    b = listing.loc["b"]
    assert b["trials_done"] == 0 and pd.isna(b["best_val_accuracy"]) and pd.isna(b["finished_at"])

    store.set_search_status("a", "running")  # resumed
    rec = store.get_search("a")
    assert rec.status == "running" and rec.finished_at is None and rec.experiment_path == "/tmp/ray/a"
    with pytest.raises(ValueError):
        store.set_search_status("a", "paused")
    assert len(store.trials_frame(benchmark_key=BENCH)) == 3 and store.trials_frame(benchmark_key="x").empty


def test_name_collision_and_missing_search_errors(store):
    store.create_search("mine", BENCH, "random", 1, {}, {})
    with pytest.raises(PlacementSearchError) as err:
        store.create_search("mine", BENCH, "optuna", 2, {}, {})
    message = str(err.value)
    assert "\n" not in message and "'mine' already exists" in message
    assert "placement-search resume mine" in message
    with pytest.raises(PlacementSearchError) as err:
        store.get_search("nope")
    assert "\n" not in str(err.value) and "placement-search list" in str(err.value)
    with pytest.raises(PlacementSearchError):
        store.record_trial("nope", "t", "0->0", 0, "completed", {})


def test_scores_round_trip_and_replace(store):
    assert store.load_scores("sk") is None
    frame = pd.DataFrame({
        "source": [0, 0, 1], "destination": [0, 1, 0], "type": ["sequential", "parallel", "recurrent"],
        "rank": [3, 2, 0], "sigma_max": [1.5, 0.5, 0.0], "stable_rank": [1.2, 1.1, float("nan")],
        "effective_rank": [2.5, 1.9, 1.0], "nuclear_norm": [3.0, 0.9, 0.0],
        "rank_rtol_0.1": [2, 1, 0], "rank_rtol_0.01": [3, 2, 0],
    })
    frame.attrs["rtol"] = 0.01
    store.save_scores("sk", {"backbone": "tiny-bert"}, frame)
    back = store.load_scores("sk")
    assert list(back.columns) == list(frame.columns) and back.attrs == {"rtol": 0.01}
    pd.testing.assert_frame_equal(back, frame, check_dtype=True)
    store.save_scores("sk", {"backbone": "tiny-bert"}, frame.iloc[:1])
    assert len(store.load_scores("sk")) == 1


def test_scores_of_a_real_score_table(store):
    import torch

    from placement_search.scoring import EdgeScores

    scores = EdgeScores(torch.rand(3, 3, 4).sort(-1, descending=True).values, rtol=1e-2)
    frame = scores.to_frame()
    store.save_scores("real", {}, frame)
    pd.testing.assert_frame_equal(store.load_scores("real"), frame)


def test_sqlite_reader_and_writer_coexist(tmp_path):
    path = tmp_path / "store.sqlite"
    with ResultsStore(str(path)) as writer:
        writer.ensure_benchmark(BENCH, {})
        writer.create_search("s", BENCH, "random", 2, {}, {})
        reader = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM trials").fetchone()[0] == 0  # holds a read snapshot
        start = time.perf_counter()
        assert writer.record_trial("s", "t", "0->0", 0, "completed", metrics(0.5, 0.5))
        assert time.perf_counter() - start < 2
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM trials").fetchone()[0] == 1
        assert reader.execute("PRAGMA foreign_keys").fetchone()[0] == 0  # per connection: the store sets it
        reader.close()
        with writer.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _assert_one_line_error(url: str, *must_contain: str, limit_s: float = 6.0) -> str:
    start = time.perf_counter()
    with pytest.raises(PlacementSearchError) as err:
        ResultsStore(url)
    elapsed = time.perf_counter() - start
    message = str(err.value)
    assert "\n" not in message and elapsed < limit_s
    for text in must_contain:
        assert text in message, message
    return message


def test_refused_port_is_a_fast_one_line_error():
    port = free_port()
    message = _assert_one_line_error(f"postgresql://me:hunter2@127.0.0.1:{port}/results",
                                     f"127.0.0.1:{port}", "server is running")
    assert "hunter2" not in message and "***" in message


def test_missing_sqlite_directory_is_an_error_and_creates_nothing(tmp_path):
    target = tmp_path / "missing" / "dir" / "store.sqlite"
    _assert_one_line_error(str(target), str(target.parent), "mkdir -p")
    _assert_one_line_error(f"sqlite:///{target}", "does not exist")
    assert not (tmp_path / "missing").exists()
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    _assert_one_line_error(str(a_file / "store.sqlite"), "not a directory")
    _assert_one_line_error(str(a_file), "not a SQLite database")
    assert a_file.read_text() == "x"


def test_bad_dialect_is_an_error():
    _assert_one_line_error("mysql://u:pw@localhost/db", "unsupported", "postgresql://")
    _assert_one_line_error("nosuchdb://x", "unsupported")


def test_default_store_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_store_url() == f"sqlite:///{tmp_path / 'runs' / 'placement_search.sqlite'}"
    assert default_store_url("x/y.db") == f"sqlite:///{tmp_path / 'x' / 'y.db'}"
    assert default_store_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert default_store_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert default_store_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert default_store_url("sqlite:///rel.db") == "sqlite:///rel.db"
    # only the default location's directory is created for the user
    with open_store() as s:
        assert Path(tmp_path / "runs" / "placement_search.sqlite").exists()
        assert s.list_searches().empty
    with pytest.raises(PlacementSearchError):
        open_store("elsewhere/store.sqlite")
    assert not (tmp_path / "elsewhere").exists()
