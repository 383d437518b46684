"""``placement-search serve``: the JSON endpoints against hand-computed numbers, 404s, loopback,
an unreachable store, and the ground truth a search's regret is measured against."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
from serve.live_store import N, gt_value, write_store

from placement_search.cli import main
from placement_search.serve import ReferenceFinder, make_server, search_standing, standing_line
from placement_search.serve.data import progress
from placement_search.store import ResultsStore, open_store
from placement_search.store.reference import SHIPPED_DIRS, shipped_files


class Running:
    """A server on a free loopback port, serving in a thread."""

    def __init__(self, store) -> None:
        self.server = make_server(str(store), port=0)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def get(self, path: str, host: str | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            headers = {"Host": host} if host else {}
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            conn.close()

    def json(self, path: str) -> tuple[int, dict]:
        status, kind, body = self.get(path)
        assert kind.startswith("application/json")
        return status, json.loads(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def served(store_path):
    running = Running(store_path)
    yield running
    running.close()


def by_name(overview: dict) -> dict:
    return {s["name"]: s for s in overview["searches"]}


def test_api_searches_progress_best_regret_percentile(served):
    status, data = served.json("/api/searches")
    assert status == 200
    rows = by_name(data)
    assert list(rows) == ["gt-exhaustive", "tpe-k2", "other-random"]

    tpe = rows["tpe-k2"]
    assert tpe["status"] == "running"
    assert (tpe["budget"], tpe["done"], tpe["ok"], tpe["failed"], tpe["stopped"]) == (8, 5, 3, 1, 1)
    assert tpe["running"] == 8 - 5  # budget minus finished trials of a running search
    assert tpe["eta_s"] is not None and tpe["trials_per_hour"] > 0
    best = tpe["best"]
    # best_trial's rule: highest val among completed/reused/replayed (the stopped 0.99 does not count),
    # ties to the earliest (t1, not its reused copy t5)
    assert best["placement"] == "0->3,2->1" and best["val_accuracy"] == pytest.approx(0.712)
    assert best["regret"] == pytest.approx(0.74 - 0.712)
    assert best["percentile"] == pytest.approx(100 * 22 / 25)
    assert best["reference"]["edges"] == 25 and best["reference"]["edges_beaten"] == 22
    assert best["reference"]["optimum_placement"] == "4->4" and best["reference"]["source"] == "this store"

    gt = rows["gt-exhaustive"]
    assert (gt["done"], gt["running"], gt["eta_s"]) == (50, 0, None)
    # its best single trial is 4->4 with seed 0 (+0.005 above the mean optimum): regret -0.005
    assert gt["best"]["placement"] == "4->4"
    assert gt["best"]["regret"] == pytest.approx(-0.005)
    assert gt["best"]["percentile"] == pytest.approx(100.0)

    other = rows["other-random"]
    assert other["best"]["val_accuracy"] == pytest.approx(0.6)
    assert other["best"]["regret"] is None and other["best"]["percentile"] is None  # no ground truth anywhere


def test_api_search_detail(served):
    status, data = served.json("/api/search/gt-exhaustive")
    assert status == 200
    heat = data["heatmap"]
    assert heat["origin"] == "this search" and heat["n"] == N == data["n_points"] and data["n_points_exact"]
    assert heat["measured"] == N * N and heat["best"] == [4, 4]
    for s in range(N):
        for d in range(N):
            assert heat["values"][s][d] == pytest.approx(gt_value(s, d), abs=1e-5)
            assert heat["seeds"][s][d] == 2
    assert data["trials"]["total"] == 50 and len(data["trials"]["rows"]) == 50
    assert data["trials"]["rows"][0]["trial_id"] > data["trials"]["rows"][-1]["trial_id"]  # newest first
    curves = data["curves"]
    assert 10 <= len(curves["trials"]) <= 20 and "best" in curves["note"]
    top = [c for c in curves["trials"] if c["best"]]
    assert len(top) == 1 and top[0]["placement"] == "4->4" and top[0]["points"][-1][0] == 3.0
    assert data["multi_adapter"] is False and data["placements"] == []

    status, data = served.json("/api/search/tpe-k2")
    assert status == 200 and data["multi_adapter"] is True
    assert data["search"]["best"]["regret"] == pytest.approx(0.028)
    # no single-edge trial of its own: the heatmap is its reference, marked as such
    assert data["heatmap"]["origin"].startswith("ground truth") and data["heatmap"]["measured"] == 25
    first = data["placements"][0]
    assert first["placement"] == "0->3,2->1"
    assert first["edges"] == [[0, 3, "long-range"], [2, 1, "recurrent"]]
    assert [p["placement"] for p in data["placements"]] == ["0->3,2->1", "1->1,3->4"]  # distinct, scored only
    failed = [r for r in data["trials"]["rows"] if r["status"] == "failed"]
    assert failed[0]["error"].startswith("TrainingDiverged")


def test_pages_render_and_load_nothing_external(served):
    status, kind, page = served.get("/")
    assert status == 200 and kind.startswith("text/html")
    initial = json.loads(re.search(r'<script type="application/json" id="initial">(.*?)</script>', page).group(1))
    assert [s["name"] for s in initial["searches"]] == ["gt-exhaustive", "tpe-k2", "other-random"]
    status, _, page = served.get("/search/tpe-k2")
    assert status == 200 and "/api/search/" in page
    for html in (page, served.get("/")[2]):
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert "@import" not in html and "url(http" not in html


def test_unknown_search_is_a_404_page(served):
    status, kind, page = served.get("/search/no-such-search")
    assert status == 404 and kind.startswith("text/html")
    assert "no search named &#x27;no-such-search&#x27;" in page
    status, data = served.json("/api/search/no-such-search")
    assert status == 404 and "no-such-search" in data["error"]
    assert served.get("/nothing/here")[0] == 404


def test_binds_loopback_and_refuses_other_hosts(served, store_path):
    assert served.server.server_address[0] == "127.0.0.1"
    assert served.server.url.startswith("http://127.0.0.1:")
    assert served.get("/", host="evil.example:80")[0] == 421  # DNS rebinding
    assert served.get("/api/searches", host=f"localhost:{served.server.port}")[0] == 200
    from placement_search.cli import _parser

    args = _parser().parse_args(["serve", "--store", str(store_path)])
    assert (args.host, args.port) == ("127.0.0.1", 8767)


def test_unreachable_store_is_shown_then_recovers(tmp_path, monkeypatch):
    import placement_search.serve.app as app

    monkeypatch.setattr(app, "REOPEN_EVERY_S", 0.0)
    path = tmp_path / "later.sqlite"
    running = Running(path)
    try:
        status, data = running.json("/api/searches")
        assert status == 503 and "unreachable" in data["error"] and str(path) in data["error"]
        status, _, page = running.get("/")
        assert status == 503 and "unreachable" in page  # the page still renders, says so and polls
        write_store(path)
        status, data = running.json("/api/searches")
        assert status == 200 and len(data["searches"]) == 3
    finally:
        running.close()


def test_empty_store_and_a_search_without_trials(tmp_path):
    path = tmp_path / "empty.sqlite"
    ResultsStore(str(path)).close()
    running = Running(path)
    try:
        status, data = running.json("/api/searches")
        assert status == 200 and data["searches"] == []
        assert running.get("/")[0] == 200
        store = ResultsStore(str(path))
        store.ensure_benchmark("b", {})
        store.create_search("fresh", "b", "random", None, {}, {})  # no budget recorded
        row = by_name(running.json("/api/searches")[1])["fresh"]
        assert (row["done"], row["budget"], row["running"], row["eta_s"], row["best"]) == (0, None, None, None, None)
        data = running.json("/api/search/fresh")[1]
        assert data["heatmap"] is None and data["curves"]["trials"] == [] and data["trials"]["rows"] == []
        assert running.get("/search/fresh")[0] == 200
        store.close()
    finally:
        running.close()


def test_query_failure_is_503_not_a_crash(served, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(*a, **k):
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    live = served.server.link.data()
    monkeypatch.setattr(live.store, "list_searches", broken)
    status, data = served.json("/api/searches")
    assert status == 503 and "server closed the connection" in data["error"]
    monkeypatch.undo()
    assert served.json("/api/searches")[0] == 200


def test_new_trials_show_up_in_the_api(tmp_path):
    path = tmp_path / "live.sqlite"
    store = ResultsStore(str(path))
    store.ensure_benchmark("b", {})
    store.create_search("live", "b", "random", 4, {"backbone": {"name": "tiny-bert"}}, {})
    running = Running(path)
    try:
        assert running.json("/api/search/live")[1]["search"]["done"] == 0
        store.record_trial("live", "a", "0->1", 0, "completed", {"val_accuracy": 0.5}, [])
        store.record_trial("live", "b", "2->2", 0, "completed", {"val_accuracy": 0.7}, [])
        data = running.json("/api/search/live")[1]
        assert data["search"]["done"] == 2 and data["search"]["running"] == 2
        assert data["search"]["best"]["placement"] == "2->2" and data["heatmap"]["measured"] == 2
        assert by_name(running.json("/api/searches")[1])["live"]["done"] == 2
        store.set_search_status("live", "interrupted")
        assert running.json("/api/search/live")[1]["search"]["running"] == 0
    finally:
        running.close()
        store.close()


def test_progress_eta_from_the_recent_rate():
    t0 = pd.Timestamp("2026-01-01T00:00:00Z")
    row = {"num_samples": 10, "trials_done": 4, "trials_failed": 1, "trials_stopped": 0, "status": "running",
           "created_at": t0, "finished_at": None}
    times = pd.Series([t0 + pd.Timedelta(seconds=10 * i) for i in (1, 2, 3, 4)])
    p = progress(row, times, t0 + pd.Timedelta(seconds=50))
    assert (p["elapsed_s"], p["running"], p["ok"], p["last_trial_age_s"]) == (50, 6, 3, 10)
    assert p["eta_s"] == pytest.approx(6 / (4 / 50))  # 4 trials in 50 s, 6 to go
    # more trials than the window: the rate runs from the trial before the last 20
    row25 = {**row, "num_samples": 30, "trials_done": 25, "trials_failed": 0}
    times = pd.Series([t0 + pd.Timedelta(seconds=10 * i) for i in range(1, 26)])
    p = progress(row25, times, t0 + pd.Timedelta(seconds=260))
    assert p["eta_s"] == pytest.approx(5 / (20 / 210))
    p = progress({**row25, "status": "completed", "finished_at": t0 + pd.Timedelta(seconds=255)}, times,
                 t0 + pd.Timedelta(seconds=999))
    assert (p["elapsed_s"], p["eta_s"], p["running"]) == (255, None, 0)


# ------------------------------------------------------------------ regret for `show` and the pages

def test_search_standing_for_show(store_path):
    store = open_store(str(store_path), must_exist=True)
    try:
        s = search_standing(store, "tpe-k2")
        assert s["regret"] == pytest.approx(0.028) and s["percentile"] == pytest.approx(88.0)
        line = standing_line(s)
        assert "regret +0.0280" in line and "4->4" in line and "88.0 percentile among 25 single edges" in line
        assert search_standing(store, "other-random") is None and standing_line(None) is None
    finally:
        store.close()


def test_shipped_ground_truth_is_found_without_being_pointed_to(tmp_path, store_path):
    """A store without a ground truth gets the one of a shipped store with the same benchmark key,
    read from a snapshot: the shipped file is not changed."""
    shipped = tmp_path / "shipped.sqlite"
    shipped.write_bytes(store_path.read_bytes())
    before = hashlib.sha256(shipped.read_bytes()).hexdigest()
    user = ResultsStore(str(tmp_path / "user.sqlite"))
    try:
        user.ensure_benchmark("bench-gt", {"x": "gt"})
        user.create_search("mine", "bench-gt", "random", 2, {}, {})
        user.record_trial("mine", "a", "3->4", 0, "completed", {"val_accuracy": 0.693})
        assert search_standing(user, "mine", ReferenceFinder(user, shipped=[])) is None
        s = search_standing(user, "mine", ReferenceFinder(user, shipped=[shipped]))
        assert s["source"] == str(shipped.resolve())
        assert s["regret"] == pytest.approx(0.047) and s["edges_beaten"] == 20  # 0.50 .. 0.69
    finally:
        user.close()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == before
    assert not Path(str(shipped) + "-wal").exists() and not Path(str(shipped) + "-shm").exists()


COMMITTED = SHIPPED_DIRS[1] / "minilm_trec6.sqlite"


@pytest.mark.skipif(not COMMITTED.is_file(), reason="not a source checkout with analysis/results/")
def test_committed_minilm_ground_truth_is_the_presets_reference(tmp_path):
    from placement_search.config import load_config
    from placement_search.store import benchmark_key

    key = benchmark_key(load_config(str(SHIPPED_DIRS[1].parents[1] / "search_spaces" / "minilm_trec6.yaml"), []))
    before = hashlib.sha256(COMMITTED.read_bytes()).hexdigest()
    assert COMMITTED.resolve() in shipped_files()
    store = ResultsStore(str(tmp_path / "fresh.sqlite"))
    try:
        ref = ReferenceFinder(store, shipped=[COMMITTED]).find(key)
        assert ref is not None and ref.source == str(COMMITTED.resolve()) and len(ref.frame) == 169
    finally:
        store.close()
    assert hashlib.sha256(COMMITTED.read_bytes()).hexdigest() == before


def test_cli_checks_port_and_store_url(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be from 0 to 65535" in capsys.readouterr().err
    assert main(["serve", "--store", "mysql://u:secret@h/db"]) == 2
    err = capsys.readouterr().err
    assert "unsupported results store URL" in err and "secret" not in err
