"""Driver-side Tune callback: every finished trial goes into the results store exactly once.

Writes happen on the driver (never in workers), one transaction per finished trial, keyed by
Tune's trial id: a trial re-run after ``resume`` or a retry writes nothing the second time.
Learning curves are collected from the intermediate reports as they arrive, by step, so a retried
trial that resumed from a checkpoint (and reports only the later steps again) keeps one full curve.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ray import tune

from placement_search.placement.edges import EdgeSpace
from placement_search.search.encoding import decode_placement
from placement_search.store import open_store

CURVE_FIELDS = ("step", "epoch", "train_loss", "val_loss", "val_accuracy", "lr")


def error_summary(text: str | None) -> str:
    """The last meaningful line of a traceback (``TrainingDiverged: loss became nan ...``)."""
    if not text:
        return "trial failed without an error message"
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if ":" in line and not line.startswith(("File ", "During handling", "The above exception")):
            return line[:2000]
    return lines[-1][:2000]


class StoreCallback(tune.Callback):
    def __init__(self, store_url: str, search_name: str, space: EdgeSpace, default_seed: int):
        self.store_url, self.search_name = store_url, search_name
        self.space, self.default_seed = space, default_seed
        self._store = None
        self._curves: dict[str, dict[int, dict]] = defaultdict(dict)

    def __getstate__(self) -> dict:
        # Tune pickles callbacks with the experiment state (for resume): no live connection inside
        return {**self.__dict__, "_store": None, "_curves": defaultdict(dict)}

    @property
    def store(self):
        if self._store is None:
            self._store = open_store(self.store_url)
        return self._store

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "step" in result and "val_accuracy" in result and "reused_from" not in result:
            self._curves[trial.trial_id][int(result["step"])] = {f: result.get(f) for f in CURVE_FIELDS}

    def _curve(self, trial, result: dict) -> list[dict]:
        """The trial's curve, in step order. A trial that resumed from a checkpoint after the driver
        itself was restored reported only its later points here; the earlier ones come from the
        curve its last checkpoint holds."""
        points = self._curves.pop(trial.trial_id, {})
        if result.get("resumed_from_step") and trial.checkpoint is not None:
            from placement_search.search.trainable import load_train_state

            with trial.checkpoint.as_directory() as folder:
                state = load_train_state(folder)
            saved = {p.step: {f: getattr(p, f) for f in CURVE_FIELDS} for p in state.curve} if state else {}
            points = {**saved, **points}
        return [points[step] for step in sorted(points)]

    def _identity(self, trial) -> tuple[str, int]:
        result = trial.last_result or {}
        if "placement" in result:
            return result["placement"], int(result.get("seed", self.default_seed))
        config = trial.config
        try:
            text = str(decode_placement(config, self.space))
        except Exception:  # a config that cannot even be decoded is still recorded as failed
            text = ""
        return text, int(config.get("seed", self.default_seed))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        result = trial.last_result or {}
        placement, seed = self._identity(trial)
        reused_from = None
        status = "completed"
        if "reused_from" in result:
            status = "reused"
            first = self.store.find_trial(self.search_name, placement, seed)
            reused_from = first["trial_id"] if first else None
        curve = [] if status == "reused" else self._curve(trial, result)
        self.store.record_trial(self.search_name, trial.trial_id, placement, seed, status, metrics=result,
                                curve=curve, reused_from=reused_from, node=result.get("node"))

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        placement, seed = self._identity(trial)
        # Tune has just written the error to the trial's local folder (storage sync comes later)
        path = trial.error_file
        text = Path(path).read_text() if path and Path(path).is_file() else None
        curve = self._curve(trial, trial.last_result or {})
        self.store.record_trial(self.search_name, trial.trial_id, placement, seed, "failed",
                                metrics=trial.last_result or {}, curve=curve, error=error_summary(text),
                                node=(trial.last_result or {}).get("node"))
