"""End to end: ``placement-search serve`` on a store a writer fills while headless Chromium shows the
pages; new trials must appear in the open page without a reload (the same JS document all along).

The writer is a thread of this test calling ``record_trial`` (what every runner does on the driver);
the server is the real CLI in a subprocess; the browser is driven over the DevTools protocol.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from serve.cdp import CHROMIUM, Browser

from placement_search.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
NAME = "live-demo"
# (placement, val accuracy) in the order the writer lands them; 5 points (tiny-bert), k = 1
TRIALS = [("0->1", 0.61), ("2->2", 0.66), ("3->1", 0.64), ("1->4", 0.70), ("4->4", 0.68), ("2->0", 0.63)]


def _curve(v: float) -> list[dict]:
    return [{"step": e, "epoch": float(e), "val_accuracy": v - 0.03 * (3 - e)} for e in (1, 2, 3)]


def _record(store: ResultsStore, i: int) -> None:
    placement, v = TRIALS[i]
    store.record_trial(NAME, f"trial-{i}", placement, 0, "completed", {"val_accuracy": v, "test_accuracy": v - 0.01},
                       _curve(v), node="test", device="cpu")


def _start_server(store: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "placement_search.cli", "serve", "--store", str(store), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    deadline = time.monotonic() + 90  # imports on a busy 2-CPU machine
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("open http://"):
            return proc, line.split()[1]
    proc.kill()
    raise AssertionError(f"serve did not print its URL: {''.join(seen)!r}")


def _stop_server(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def _write_later(store: ResultsStore, indices: list[int], finish: bool = False) -> threading.Thread:
    def run() -> None:
        for i in indices:
            time.sleep(0.4)
            _record(store, i)
        if finish:
            store.set_search_status(NAME, "completed")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian package 'chromium' (apt-get install -y chromium)")
def test_new_trials_appear_without_a_reload(tmp_path):
    path = tmp_path / "live.sqlite"
    store = ResultsStore(str(path))
    store.ensure_benchmark("bench", {"x": 1})
    store.create_search(NAME, "bench", "random", len(TRIALS), {"backbone": {"name": "tiny-bert"}, "space": {"k": 1}},
                        {"runner": "local"})
    _record(store, 0)
    server, url = _start_server(path)
    assert url.startswith("http://127.0.0.1:")
    browser = None
    try:
        browser = Browser(url, tmp_path / "profile")
        row = f"document.querySelector('tr[data-search=\"{NAME}\"]')"
        done = f"({row} && {row}.querySelector('.n-done').textContent)"
        assert browser.wait_for(f"{done} === '1' && 'ok'") == "ok"
        browser.eval("window.__sameDocument = 'index'")
        polls = int(browser.eval("document.body.dataset.polls"))

        _write_later(store, [1, 2, 3]).join(10)
        assert browser.wait_for(f"{done} === '4' && 'ok'", timeout=30) == "ok"
        assert browser.eval("window.__sameDocument") == "index"  # no reload: the same document
        assert browser.eval("performance.getEntriesByType('navigation').length") == 1
        assert int(browser.eval("document.body.dataset.polls")) > polls
        assert browser.eval(f"{row}.querySelector('.best').textContent") == "1->4"
        assert browser.eval(f"{row}.querySelector('.n-running').textContent") == str(len(TRIALS) - 4)

        # the search page: heatmap cells, curves and table rows fill in as trials land
        browser.call("Page.navigate", url=url + f"search/{NAME}")
        cells = "document.querySelectorAll('#heatmap rect.cell').length"
        assert browser.wait_for(f"{cells} === 4 && 'ok'") == "ok"
        browser.eval("window.__sameDocument = 'search'")
        writer = _write_later(store, [4, 5], finish=True)
        writer.join(10)
        rows = "document.querySelectorAll('#trials tbody tr').length"
        badge = "document.querySelector('#summary .status').textContent"
        assert browser.wait_for(f"{cells} === 6 && {rows} === 6 && {badge} === 'completed' && 'ok'", timeout=30) == "ok"
        assert browser.eval("window.__sameDocument") == "search"
        assert browser.eval("document.querySelectorAll('#curves polyline.curve').length") == 6
        assert browser.eval("document.querySelector('#heatmap rect[data-edge=\"4->4\"] title').textContent").startswith(
            "4->4 (sequential): val acc 0.6800")
        assert browser.eval("document.body.dataset.state") == "live"

        # the server goes away: the page keeps its data and says so
        assert _stop_server(server) == 0
        assert "unreachable" in browser.wait_for("document.getElementById('banner').textContent", timeout=15)
        assert browser.eval(rows) == 6
    finally:
        if browser is not None:
            browser.close()
        _stop_server(server)
        store.close()
