"""What the live pages show, as JSON-ready dicts built from the store's public reads.

Every request costs a fixed number of queries, whatever the number of trials: the index reads
``list_searches()`` (one aggregate query plus one trials read) and, only when a search changed
since the last request, ``trials_frame()`` once for all searches and one ``ground_truth`` per
benchmark key; a search page reads ``get_search`` and ``trials_frame(name)``, and, only when the
search changed, ``curves_frame(name)``. Everything else is pandas on those frames.

Progress. The store holds finished trials only (completed, stopped, failed, reused, replayed).
``running`` is therefore the budget minus the finished trials of a search whose status is
``running``: trials that are training *or still queued* (the pages say so). Elapsed time runs
from the search's creation to now (to ``finished_at`` once it ended); the rate is taken over the
last ``RATE_WINDOW`` finished trials, from the finished trial before them (or the search's start)
to now, so the ETA grows while nothing lands and a long pause before a resume does not count.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from placement_search.analysis.maps import single_edge_heatmap
from placement_search.placement.edges import Edge, Placement, edge_type
from placement_search.store import SCORED_STATUSES, ResultsStore, best_per_search, best_trial
from placement_search.store.reference import Reference, ReferenceFinder

#: how long a search page reuses the ground truth it compared the search with
REFERENCE_TTL_S = 10.0
#: finished trials the rate (and so the ETA) is measured over
RATE_WINDOW = 20
#: rows of the trial table a search page gets (newest first)
TABLE_ROWS = 200
#: learning curves drawn: the best and the most recent trials
CURVES_BEST, CURVES_RECENT = 10, 10
#: distinct placements drawn on the residual stream for a multi-adapter search
ARC_PLACEMENTS = 5
#: blocks of the registered backbones (points = 2 x blocks + 1), so a page never loads a model;
#: a backbone not listed gets one more point than the largest point index its trials use
KNOWN_BLOCKS = {"minilm-l6": 6, "dinov2-s14": 12, "tiny-bert": 2, "tiny-roberta": 2, "tiny-dinov2": 2, "tiny-vit": 2}
RUNNING_NOTE = ("the store records finished trials only: running = budget minus finished trials of a running "
                "search, i.e. trials training now or still queued")


def num(value: Any, digits: int | None = None) -> float | int | None:
    """A JSON-safe number: None for missing / NaN / inf."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def text(value: Any) -> str | None:
    """A JSON-safe string: None for missing (object columns hold NaN where a row had NULL)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def plain(value: Any) -> Any:
    """A deep copy with every non-finite float as None (the last line of defence before JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def stamp(value: Any) -> pd.Timestamp | None:
    """A tz-aware UTC timestamp (SQLite hands back naive UTC values, PostgreSQL aware ones), or None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def when(value: Any) -> str | None:
    """An ISO-8601 UTC timestamp, or None."""
    ts = stamp(value)
    return None if ts is None else ts.isoformat()


def now_utc() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def _seconds(later: Any, earlier: Any) -> float | None:
    later, earlier = stamp(later), stamp(earlier)
    if later is None or earlier is None:
        return None
    return max((later - earlier).total_seconds(), 0.0)


def progress(row: pd.Series | dict, trial_times: pd.Series | None, now: pd.Timestamp) -> dict[str, Any]:
    """Progress, elapsed time, rate and ETA of one search (a ``list_searches`` row, see module doc).

    ``trial_times``: created_at of the search's finished trials, any order.
    """
    budget = num(row["num_samples"])
    done = int(row["trials_done"])
    failed = int(row["trials_failed"])
    stopped = int(row["trials_stopped"])
    running_now = row["status"] == "running"
    remaining = max(budget - done, 0) if budget is not None else None
    end = now if running_now or stamp(row.get("finished_at")) is None else row["finished_at"]
    elapsed = _seconds(end, row["created_at"])
    times = (trial_times.sort_values().reset_index(drop=True) if trial_times is not None
             else pd.Series([], dtype="datetime64[ns, UTC]"))
    last_age = _seconds(now, times.iloc[-1]) if len(times) else None
    rate = eta = None
    if len(times):
        window = min(len(times), RATE_WINDOW)
        start = times.iloc[len(times) - window - 1] if len(times) > window else row["created_at"]
        span = _seconds(now if running_now else times.iloc[-1], start)
        if span:
            rate = window / span  # trials per second
    if running_now and remaining is not None:
        eta = 0.0 if remaining == 0 else (remaining / rate if rate else None)
    return {
        "budget": budget,
        "done": done,
        "ok": done - failed - stopped,
        "failed": failed,
        "stopped": stopped,
        "running": remaining if running_now else 0,
        "remaining": remaining,
        "created_at": when(row["created_at"]),
        "finished_at": when(row.get("finished_at")),
        "elapsed_s": num(elapsed, 1),
        "last_trial_age_s": num(last_age, 1),
        "trials_per_hour": num(rate * 3600.0, 2) if rate else None,
        "eta_s": num(eta, 1),
    }


def _best(best: pd.Series | dict | None, ref: Reference | None) -> dict[str, Any] | None:
    if best is None:
        return None
    val = num(best["val_accuracy"])
    out = {
        "placement": str(best["placement"]),
        "val_accuracy": val,
        "test_accuracy": num(best.get("test_accuracy")),
        "trial_id": num(best.get("trial_id")),
        "regret": None, "percentile": None, "reference": None,
    }
    standing = ref.standing(val) if ref is not None else None
    if standing:
        out.update(regret=standing["regret"], percentile=standing["percentile"])
        out["reference"] = {k: standing[k] for k in ("edges", "edges_beaten", "optimum", "optimum_placement", "source")}
    return out


class LiveData:
    """Builds the JSON of the live pages from one open store; caches what did not change.

    Thread-safe: the caches are keyed by what the store says changed (per search: trials done,
    status and last write), so a cached answer is never older than the store.
    """

    def __init__(self, store: ResultsStore, finder: ReferenceFinder | None = None) -> None:
        self.store = store
        self.finder = finder or ReferenceFinder(store)
        self._lock = threading.Lock()
        self._overview_key: tuple | None = None
        self._overview_parts: tuple | None = None
        self._detail: dict[str, tuple] = {}
        self._refs: dict[str, tuple[float, Reference | None]] = {}
        self._generation = 0

    # ------------------------------------------------------------------------------- index

    def overview(self, now: pd.Timestamp | None = None) -> dict[str, Any]:
        now = now or now_utc()
        searches = self.store.list_searches()
        key = tuple(zip(searches["name"], searches["trials_done"], searches["status"],
                        searches["updated_at"].astype(str), strict=True))
        with self._lock:
            cached = self._overview_parts if self._overview_key == key else None
        if cached is None:
            trials = self.store.trials_frame()
            times = {name: g["created_at"] for name, g in trials.groupby("search", sort=False)}
            refs = self.finder.find_many(searches["benchmark_key"])
            best = {name: b for name, b in best_per_search(trials).iterrows()}
            cached = (times, refs, best)
            with self._lock:
                self._overview_key, self._overview_parts = key, cached
        times, refs, best = cached
        rows = []
        for _, row in searches.iterrows():
            ref = refs.get(row["benchmark_key"])
            rows.append({
                "name": row["name"],
                "searcher": row["searcher"],
                "status": row["status"],
                "benchmark_key": row["benchmark_key"],
                **progress(row, times.get(row["name"]), now),
                "best": _best(best.get(row["name"]), ref),
            })
        return {"store": self.store.url, "now": when(now), "running_note": RUNNING_NOTE, "searches": rows}

    # -------------------------------------------------------------------------- one search

    def has_search(self, name: str) -> bool:
        return self.store.has_search(name)

    def reference(self, benchmark_key: str) -> Reference | None:
        """The key's reference, read again at most every ``REFERENCE_TTL_S`` seconds; an unchanged
        one keeps its identity (so what was drawn from it stays cached)."""
        with self._lock:
            hit = self._refs.get(benchmark_key)
        if hit is not None and time.monotonic() - hit[0] < REFERENCE_TTL_S:
            return hit[1]
        ref = self.finder.find(benchmark_key)
        if hit is not None and hit[1] is not None and ref is not None and hit[1].source == ref.source \
                and hit[1].frame.equals(ref.frame):
            ref = hit[1]
        with self._lock:
            self._refs[benchmark_key] = (time.monotonic(), ref)
        return ref

    def search(self, name: str, now: pd.Timestamp | None = None) -> dict[str, Any]:
        """One search's page data; raises PlacementSearchError for an unknown name.

        ``get_search`` is the only read while nothing changed: every trial write stamps the
        search's ``updated_at``, so (status, updated_at) says whether its trials must be read again.
        """
        now = now or now_utc()
        record = self.store.get_search(name)
        ref = self.reference(record.benchmark_key)
        key = (record.status, str(record.updated_at), str(record.finished_at), id(ref))
        with self._lock:
            hit = self._detail.get(name)
        if hit is not None and hit[0] == key:
            static, counts, times, generation = hit[1:]
        else:
            trials = self.store.trials_frame(name)
            static = self._search_static(record, trials, ref)
            counts = {"trials_done": len(trials), "trials_failed": int((trials["status"] == "failed").sum()),
                      "trials_stopped": int((trials["status"] == "stopped").sum())}
            times = trials["created_at"]
            with self._lock:
                self._generation += 1
                generation = self._generation
                self._detail[name] = (key, static, counts, times, generation)
        row = {"num_samples": record.num_samples, "status": record.status, "created_at": record.created_at,
               "finished_at": record.finished_at, **counts}
        summary = {"name": record.name, "searcher": record.searcher, "status": record.status,
                   "benchmark_key": record.benchmark_key, **progress(row, times, now), "best": static["best"]}
        return {"store": self.store.url, "now": when(now), "running_note": RUNNING_NOTE, "search": summary,
                "version": generation,
                **{k: v for k, v in static.items() if k != "best"}}

    def _search_static(self, record, trials: pd.DataFrame, ref: Reference | None) -> dict[str, Any]:
        """The parts of a search page that change only when a trial lands, the status moves or the
        reference changes."""
        best = best_trial(trials)
        config = record.config or {}
        backbone = str((config.get("backbone") or {}).get("name") or "")
        space = config.get("space") or {}
        n_points, exact = self._points(backbone, trials, ref)
        max_k = int(trials["k"].max()) if len(trials) else int(space.get("k_max") or space.get("k") or 1)
        return {
            "best": _best(best, ref),
            "config": {
                "backbone": backbone or None,
                "task": (config.get("task") or {}).get("name"),
                "k": space.get("k"), "k_max": space.get("k_max"),
                "edge_types": space.get("edge_types"),
                "runner": (record.options or {}).get("runner"),
            },
            "n_points": n_points,
            "n_points_exact": exact,
            "multi_adapter": max_k > 1,
            "trials": self._table(trials),
            "top": self._top(trials),
            "heatmap": self._heatmap(trials, n_points, ref),
            "curves": self._curves(record.name, trials),
            "placements": self._placements(trials) if max_k > 1 else [],
        }

    @staticmethod
    def _points(backbone: str, trials: pd.DataFrame, ref: Reference | None) -> tuple[int, bool]:
        if backbone in KNOWN_BLOCKS:
            return 2 * KNOWN_BLOCKS[backbone] + 1, True
        largest = -1
        for text in trials["placement"].dropna().unique():
            for e in Placement.parse(text):
                largest = max(largest, e.source, e.destination)
        if ref is not None and len(ref.frame):
            largest = max(largest, int(ref.frame["source"].max()), int(ref.frame["destination"].max()))
        return largest + 1, False

    @staticmethod
    def _table(trials: pd.DataFrame) -> dict[str, Any]:
        shown = trials.sort_values("trial_id", ascending=False).head(TABLE_ROWS)
        rows = [{
            "trial_id": int(t.trial_id), "placement": t.placement or "", "k": int(t.k), "seed": int(t.seed),
            "status": t.status, "val_accuracy": num(t.val_accuracy), "test_accuracy": num(t.test_accuracy),
            "epochs": num(t.epochs), "wall_time_s": num(t.wall_time_s, 1), "device": text(t.device), "node": text(t.node),
            "label": text(t.label), "error": text(t.error), "finished_at": when(t.created_at),
        } for t in shown.itertuples(index=False)]
        return {"total": int(len(trials)), "rows": rows}

    @staticmethod
    def _scored(trials: pd.DataFrame) -> pd.DataFrame:
        return trials[trials["status"].isin(SCORED_STATUSES) & trials["val_accuracy"].notna()]

    def _top(self, trials: pd.DataFrame, n: int = 10) -> list[dict[str, Any]]:
        """The best distinct placements, in ``best_trial``'s order (val accuracy, then earliest)."""
        ranked = self._scored(trials).sort_values(["val_accuracy", "trial_id"], ascending=[False, True])
        ranked = ranked.drop_duplicates("placement").head(n)
        return [{"trial_id": int(t.trial_id), "placement": t.placement or "", "seed": int(t.seed),
                 "status": t.status, "val_accuracy": num(t.val_accuracy), "test_accuracy": num(t.test_accuracy)}
                for t in ranked.itertuples(index=False)]

    def _heatmap(self, trials: pd.DataFrame, n_points: int, ref: Reference | None) -> dict[str, Any] | None:
        """Mean val accuracy of this search's single-edge trials per (source, destination); a search
        without any shows its reference ground truth instead (marked as such)."""
        single = self._scored(trials)
        single = single[single["k"] == 1]
        if len(single):
            grouped = single.groupby("placement")["val_accuracy"].agg(["mean", "size"]).reset_index()
            edges = [Edge.parse(p) for p in grouped["placement"]]
            frame = pd.DataFrame({"source": [e.source for e in edges], "destination": [e.destination for e in edges],
                                  "val_accuracy_mean": grouped["mean"], "n_seeds": grouped["size"]})
            origin = "this search"
        elif ref is not None:
            frame = ref.frame
            origin = f"ground truth ({ref.source})"
        else:
            return None
        n = max(n_points, int(max(frame["source"].max(), frame["destination"].max())) + 1)
        grid = single_edge_heatmap(frame, "val_accuracy_mean", n_points=n).to_numpy()
        seeds = single_edge_heatmap(frame, "n_seeds", n_points=n).to_numpy()
        values = [[num(v, 5) for v in row] for row in grid]
        counts = [[num(v) for v in row] for row in seeds]
        measured = int(np.isfinite(grid).sum())
        best = None
        if measured:
            s, d = np.unravel_index(np.nanargmax(grid), grid.shape)
            best = [int(s), int(d)]
        return {"origin": origin, "n": n, "values": values, "seeds": counts, "measured": measured,
                "min": num(np.nanmin(grid)) if measured else None, "max": num(np.nanmax(grid)) if measured else None,
                "best": best}

    def _curves(self, name: str, trials: pd.DataFrame) -> dict[str, Any]:
        """Val accuracy per epoch of the best and the most recent trials (all of them, if few)."""
        scored = self._scored(trials).sort_values(["val_accuracy", "trial_id"], ascending=[False, True])
        best_ids = list(scored["trial_id"].head(CURVES_BEST))
        recent_ids = list(trials.sort_values("trial_id", ascending=False)["trial_id"].head(CURVES_RECENT))
        chosen = list(dict.fromkeys(best_ids + recent_ids))
        if not chosen:
            return {"trials": [], "note": "no trial has finished yet"}
        curves = self.store.curves_frame(name)
        curves = curves[curves["trial_id"].isin(chosen) & curves["val_accuracy"].notna()]
        by_id = trials.set_index("trial_id")
        top = best_ids[0] if best_ids else None
        out = []
        for trial_id, g in curves.groupby("trial_id", sort=False):
            x = g["epoch"].where(g["epoch"].notna(), g["step"].astype(float))
            t = by_id.loc[trial_id]
            out.append({"trial_id": int(trial_id), "placement": t["placement"] or "", "status": t["status"],
                        "best": bool(trial_id == top), "x_is_epoch": bool(g["epoch"].notna().all()),
                        "points": [[num(a, 4), num(b, 5)] for a, b in zip(x, g["val_accuracy"], strict=True)]})
        total = int(len(trials))
        chosen_text = (f"all {total} trials" if len(chosen) == total
                       else f"the {len(best_ids)} best and the {len(recent_ids)} most recent of {total} trials")
        note = f"{len(out)} curves ({chosen_text}; failed and reused trials have none)"
        return {"trials": out, "note": note}

    def _placements(self, trials: pd.DataFrame) -> list[dict[str, Any]]:
        """The best distinct placements with their edges, for the residual-stream drawing."""
        out = []
        for t in self._top(trials, ARC_PLACEMENTS):
            edges = [[e.source, e.destination, edge_type(e.source, e.destination)]
                     for e in Placement.parse(t["placement"])]
            out.append({**t, "edges": edges})
        return out
