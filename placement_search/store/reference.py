"""Which ground truth a search is measured against, and where its best trial stands in it.

A search's *reference* is the exhaustive single-edge ground truth (``ResultsStore.ground_truth``)
of its benchmark key: the one in the search's own store when that store holds one, else one that
ships with placement-search (the committed exhaustive sweeps of its presets, ``analysis/results/
*.sqlite`` in a source checkout, or ``placement_search/ground_truths/*.sqlite`` if a wheel carries
them). The user never has to point to it.

Against a reference, the best trial (``best_trial``'s rule) gets

* ``regret`` = optimum - best val accuracy, the optimum being the best mean (over seeds) val
  accuracy of any single edge: the number ``show`` already prints (it can be negative when one
  seed of the best trial beat the optimum's mean);
* ``percentile`` = 100 x the share of the reference's single edges whose mean val accuracy the
  best trial equals or beats (100: at least as good as every single edge).

A shipped sweep may be a stratified sample of the edges (``sweep_local.py --every N``, as the
DINOv2 x digits ground truth is on CPU): the line printed names how many edges it holds, and the
regret is then against the best of them.

Shipped stores are read from a snapshot: the file is copied with SQLite's backup API (a consistent
copy even while a sweep writes it) into a temporary folder, and that copy is opened with
``open_store`` (which migrates an older schema version, so the committed files are never written).
The file of the store being served is never opened a second time this way: a second descriptor
of a SQLite file closed in a process drops that process's locks on it (store/engine.py).
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from placement_search.errors import PlacementSearchError
from placement_search.store import GROUND_TRUTH_SEARCHER, ResultsStore, best_trial, open_store
from placement_search.store.engine import sqlite_snapshot

_PACKAGE = Path(__file__).resolve().parents[1]  # placement_search/
#: folders whose ``*.sqlite`` files are shipped ground truths, in order of preference
SHIPPED_DIRS = (_PACKAGE / "ground_truths", _PACKAGE.parent / "analysis" / "results")


@dataclass(frozen=True)
class Reference:
    """The single-edge ground truth a search is compared with."""

    benchmark_key: str
    #: ``ResultsStore.ground_truth`` of the key: one row per measured single edge
    frame: pd.DataFrame
    #: "this store" or the shipped file it came from
    source: str

    @property
    def optimum(self) -> float:
        return float(self.frame["val_accuracy_mean"].max())

    @property
    def optimum_placement(self) -> str:
        best = self.frame.sort_values(["val_accuracy_mean", "source", "destination"], ascending=[False, True, True])
        return str(best["placement"].iloc[0])

    def standing(self, val_accuracy: float | None) -> dict | None:
        """Regret and percentile of a val accuracy against this reference (see the module doc)."""
        if val_accuracy is None or not math.isfinite(float(val_accuracy)):
            return None
        values = self.frame["val_accuracy_mean"].dropna().to_numpy(dtype=float)
        if not len(values):
            return None
        at_or_below = int((values <= float(val_accuracy)).sum())
        return {
            "regret": self.optimum - float(val_accuracy),
            "percentile": 100.0 * at_or_below / len(values),
            "edges_beaten": at_or_below,
            "edges": int(len(values)),
            "optimum": self.optimum,
            "optimum_placement": self.optimum_placement,
            "source": self.source,
        }


def store_file(store: ResultsStore) -> Path | None:
    """The SQLite file behind a store (None for PostgreSQL or memory)."""
    url = str(store.url)
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).resolve()


def shipped_files(dirs: Iterable[Path] = SHIPPED_DIRS) -> list[Path]:
    """The shipped ground-truth stores that exist here (a wheel may carry none)."""
    found: list[Path] = []
    for folder in dirs:
        if folder.is_dir():
            found.extend(sorted(p.resolve() for p in folder.glob("*.sqlite") if p.is_file()))
    return found


def _signature(path: Path) -> tuple:
    """Changes when the file (or its WAL, while a sweep writes it) changes."""
    out = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _read_ground_truths(path: Path) -> dict[str, pd.DataFrame]:
    """Every benchmark key with an exhaustive ground truth in a shipped store file."""
    folder = Path(tempfile.mkdtemp(prefix="placement-search-reference-"))
    try:
        copy = sqlite_snapshot(path, folder)
        store = open_store(copy, must_exist=True)
        try:
            searches = store.list_searches()
            keys = sorted(set(searches.loc[searches["searcher"] == GROUND_TRUTH_SEARCHER, "benchmark_key"]))
            out = {}
            for key in keys:
                gt = store.ground_truth(key)
                if len(gt):
                    out[key] = gt
            return out
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ReferenceFinder:
    """Finds a benchmark key's reference: the store's own ground truth, else a shipped one.

    The store's own is read on every call (an exhaustive search may be filling it in); shipped
    files are read once and again only when they change, looked at no more than every
    ``recheck_s`` seconds. Thread-safe (the server answers requests in threads).
    """

    def __init__(self, store: ResultsStore, shipped: Iterable[Path] | None = None, recheck_s: float = 60.0) -> None:
        self.store = store
        own = store_file(store)
        self._files = [p for p in (shipped_files() if shipped is None else [Path(p).resolve() for p in shipped])
                       if p != own]
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._checked_at = -math.inf
        self._signatures: dict[Path, tuple] = {}
        self._by_file: dict[Path, dict[str, pd.DataFrame]] = {}
        #: shipped files that could not be read, with why (shown once per change, never fatal)
        self.problems: dict[Path, str] = {}

    def _shipped(self) -> dict[str, Reference]:
        with self._lock:
            if time.monotonic() - self._checked_at >= self._recheck_s:
                self._checked_at = time.monotonic()
                for path in self._files:
                    sig = _signature(path)
                    if self._signatures.get(path) == sig:
                        continue
                    self._signatures[path] = sig
                    try:
                        self._by_file[path] = _read_ground_truths(path)
                        self.problems.pop(path, None)
                    except (PlacementSearchError, SQLAlchemyError, sqlite3.Error, OSError) as exc:
                        self._by_file[path] = {}
                        self.problems[path] = " ".join(str(exc).split())[:300]
            found: dict[str, Reference] = {}
            for path in self._files:  # earlier folders and files win
                for key, gt in self._by_file.get(path, {}).items():
                    found.setdefault(key, Reference(key, gt, str(path)))
            return found

    def find(self, benchmark_key: str) -> Reference | None:
        gt = self.store.ground_truth(benchmark_key)
        if len(gt):
            return Reference(benchmark_key, gt, "this store")
        return self._shipped().get(benchmark_key)

    def find_many(self, keys: Iterable[str]) -> dict[str, Reference]:
        """References of several keys: one ground-truth query per key, shipped files read at most once."""
        out = {}
        for key in dict.fromkeys(keys):
            ref = self.find(key)
            if ref is not None:
                out[key] = ref
        return out


def search_standing(store: ResultsStore, name: str, finder: ReferenceFinder | None = None) -> dict | None:
    """For ``show`` and ``run``: the best trial's regret and percentile against the search's reference
    (``Reference.standing``), or None when the search has no scored trial or no reference exists.
    ``standing_line`` turns it into the line to print."""
    record = store.get_search(name)
    best = best_trial(store.trials_frame(name))
    if best is None:
        return None
    ref = (finder or ReferenceFinder(store)).find(record.benchmark_key)
    return None if ref is None else ref.standing(float(best["val_accuracy"]))


def standing_line(standing: dict | None) -> str | None:
    """The one line ``show`` / ``run`` print for a standing (None: nothing to print)."""
    if not standing:
        return None
    return (f"regret {standing['regret']:+.4f} vs the best single edge {standing['optimum_placement']} "
            f"({standing['optimum']:.4f}, ground truth from {standing['source']}); "
            f"{standing['percentile']:.1f} percentile among {standing['edges']} single edges "
            f"(at least as good as {standing['edges_beaten']})")
