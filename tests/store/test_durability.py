"""Readers of a store never cost a row: not while a search writes, not when its driver is killed.

The failure these tests pin (issue 11): a second ResultsStore in the driver opened and closed the
SQLite file to check it, which drops every POSIX lock of the process; an outside reader then took
itself for the last connection, checkpointed and deleted the WAL, and later commits went to a
deleted file. Now a process has one engine per store and never opens the file behind SQLite.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from postgres_fixture import postgres_server, postgres_url  # noqa: F401 (fixtures)
from sqlalchemy import text

from placement_search.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"


def _new_search(store, name: str = "s") -> None:
    store.ensure_benchmark("k", {})
    store.create_search(name, "k", "random", None, {}, {})


def _outside_reader(path: Path) -> int:
    """What the sqlite3 shell or `show` in another terminal does: open, read, close (last out)."""
    out = subprocess.run(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "print(c.execute('select count(*) from trials').fetchone()[0]); c.close()", str(path)],
        capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout)


def _deleted_wal_open(path: Path) -> bool:
    """Does this process hold a descriptor of the store's WAL that was unlinked?"""
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(path) + "-wal") and target.endswith("(deleted)"):
            return True
    return False


@pytest.mark.parametrize("repeat", range(5))
def test_second_store_in_a_process_and_an_outside_reader_lose_nothing(tmp_path, repeat):
    path = tmp_path / "store.sqlite"
    first = open_store(str(path))
    _new_search(first)
    first.record_trial("s", "t0", "0->1", 0, "completed", {"val_accuracy": 0.5})
    second = open_store(str(path))  # the driver's callback and searcher open the same store
    assert second.engine is first.engine
    second.record_trial("s", "t1", "0->2", 0, "completed", {"val_accuracy": 0.6})
    assert _outside_reader(path) == 2
    for i in range(2, 6):  # commits after the outside reader closed
        first.record_trial("s", f"t{i}", f"0->{i + 1}", 0, "completed", {"val_accuracy": 0.5})
        assert _outside_reader(path) == i + 1
    assert not _deleted_wal_open(path)
    second.close()
    assert _outside_reader(path) == 6  # and once this process lets go of the file entirely
    first.close()
    assert _outside_reader(path) == 6


def test_reader_sees_rows_as_they_land_and_never_takes_the_write_lock(tmp_path):
    path = tmp_path / "store.sqlite"
    writer = open_store(str(path))
    _new_search(writer)
    reader = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    reader.execute("BEGIN")  # a long read transaction held by the outside reader
    reader.execute("select count(*) from trials").fetchone()
    writer.record_trial("s", "t0", "0->1", 0, "completed", {"val_accuracy": 0.5})  # not blocked
    reader.execute("COMMIT")
    assert reader.execute("select count(*) from trials").fetchone()[0] == 1  # a new read sees it
    # opening a current store to read takes no write lock, even while a writer holds it
    with writer._write() as session:
        session.execute(text("UPDATE searches SET updated_at = updated_at"))  # holds the write lock
        out = subprocess.run([sys.executable, "-m", "placement_search.cli", "list", "--store", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "s" in out.stdout.split()
    reader.close()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class _Poller(threading.Thread):
    """A reader that polls the store the whole time, through the CLI and a raw sqlite3 connection,
    and remembers every trial key it ever saw."""

    def __init__(self, store: str, name: str, sqlite_path: Path | None):
        super().__init__(daemon=True)
        self.store, self.name, self.sqlite_path = store, name, sqlite_path
        self.seen: set[str] = set()
        self.polls = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            subprocess.run([sys.executable, "-m", "placement_search.cli", "show", self.name, "--store", self.store],
                           capture_output=True, text=True, timeout=120)
            if self.sqlite_path is not None and self.sqlite_path.exists():
                try:
                    con = sqlite3.connect(self.sqlite_path, timeout=5)
                    self.seen |= {k for (k,) in con.execute("select trial_key from trials")}
                    con.close()
                except sqlite3.Error:
                    pass
            self.polls += 1
            self.stop.wait(0.2)


def _kill_mid_search_and_resume(tmp_path: Path, store: str, sqlite_path: Path | None, runner: str) -> None:
    name, budget = "durable", 6
    cmd = [sys.executable, "-m", "placement_search.cli", "run", str(TINY), "--searcher", "random",
           "--num-samples", str(budget), "--name", name, "--store", store, "--set", "space.k=2",
           "--set", "training.epochs=8", "--set", f"search.storage_path={tmp_path / 'tune'}"]
    if runner == "local":
        cmd += ["--runner", "local", "--workers", "2"]
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    poller = _Poller(store, name, sqlite_path)
    try:
        def stored() -> int:
            try:
                with open_store(store, must_exist=True) as s:
                    return len(s.trials_frame(name)) if s.has_search(name) else 0
            except Exception:  # noqa: BLE001 - the store may not exist yet
                return 0

        _wait_for(lambda: proc.poll() is not None or stored() >= 1, 300, "the first trial")
        poller.start()
        _wait_for(lambda: proc.poll() is not None or stored() >= 3, 300, "three trials")
        assert proc.poll() is None, "the search ended before the kill"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything in its process group
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        poller.stop.set()
        if poller.is_alive():
            poller.join(timeout=120)
    with open_store(store, must_exist=True) as s:
        before = s.trials_frame(name)
    assert poller.polls >= 1
    assert poller.seen <= set(before["trial_key"]), "a row a reader saw is gone"
    resumed = subprocess.run([sys.executable, "-m", "placement_search.cli", "resume", name, "--store", store],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open_store(store, must_exist=True) as s:
        after = s.trials_frame(name)
        assert s.get_search(name).status == "completed"
    assert len(after) == budget and after["trial_key"].is_unique
    assert set(before["trial_key"]) <= set(after["trial_key"])
    assert (after["status"] == "completed").all() and after["placement"].is_unique


@pytest.mark.parametrize("repeat", range(2))
def test_reader_during_driver_kill_then_resume_sqlite(tmp_path, repeat):
    path = tmp_path / "store.sqlite"
    _kill_mid_search_and_resume(tmp_path, str(path), path, "tune")


def test_reader_during_driver_kill_then_resume_local_runner(tmp_path):
    path = tmp_path / "store.sqlite"
    _kill_mid_search_and_resume(tmp_path, str(path), path, "local")


def test_reader_during_driver_kill_then_resume_postgresql(tmp_path, postgres_url):  # noqa: F811
    _kill_mid_search_and_resume(tmp_path, postgres_url, None, "tune")


def test_resume_runs_what_the_store_lacks_even_when_tune_counts_it_finished(tmp_path):
    """Tune's experiment state says every trial terminated, the store lost two: resume fills it."""
    path, name = tmp_path / "store.sqlite", "lossy"
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    run = subprocess.run([sys.executable, "-m", "placement_search.cli", "run", str(TINY), "--searcher", "random",
                          "--num-samples", "4", "--name", name, "--store", str(path), "--set", "space.k=2",
                          "--set", f"search.storage_path={tmp_path / 'tune'}"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open_store(str(path)) as s:
        full = s.trials_frame(name)
        lost = list(full["trial_id"][:2])
        with s._write() as session:
            session.execute(text(f"DELETE FROM trials WHERE id IN ({lost[0]}, {lost[1]})"))
        s.set_search_status(name, "interrupted")
    resumed = subprocess.run([sys.executable, "-m", "placement_search.cli", "resume", name, "--store", str(path)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open_store(str(path)) as s:
        after = s.trials_frame(name)
        assert s.get_search(name).status == "completed"
    assert len(after) == 4 and after["trial_key"].is_unique and after["placement"].is_unique
    assert set(full["trial_key"][2:]) <= set(after["trial_key"])
