"""Driver-side Tune callback: every finished trial goes into the results store exactly once.

Writes happen on the driver (never in workers), one transaction per finished trial, keyed by
Tune's trial id: a trial re-run after ``resume`` or a retry writes nothing the second time.
Learning curves are collected from the intermediate reports as they arrive, by step, so a retried
trial that resumed from a checkpoint (and reports only the later steps again) keeps one full curve.
A trial a scheduler (ASHA) stopped never reached its final report: it is recorded ``stopped``,
with the metrics and epochs of its last evaluation.

The callback is pickled into Tune's experiment state, so it holds the store's masked URL only;
the driver that opened the store (``run``, ``resume --store``) can unmask it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ray import tune

from placement_search.placement.edges import EdgeSpace
from placement_search.runners.outcome import identify, reused_record, trial_record
from placement_search.store import CURVE_FIELDS, open_store, unmask

_POINT_FIELDS = ("step", *CURVE_FIELDS)


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
            self._store = open_store(unmask(self.store_url))
        return self._store

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "step" in result and "val_accuracy" in result and "reused_from" not in result:
            # merge: the final report repeats the last evaluation's step without its epoch and lr
            point = self._curves[trial.trial_id].setdefault(int(result["step"]), {})
            point.update({f: result[f] for f in _POINT_FIELDS if result.get(f) is not None})

    def _curve(self, trial, result: dict) -> list[dict]:
        """The trial's curve, in step order. A trial that resumed from a checkpoint after the driver
        itself was restored reported only its later points here; the earlier ones come from the
        curve its last checkpoint holds."""
        points = self._curves.pop(trial.trial_id, {})
        if result.get("resumed_from_step") and trial.checkpoint is not None:
            from placement_search.runners.tune_trainable import load_train_state

            with trial.checkpoint.as_directory() as folder:
                state = load_train_state(folder)
            saved = {p.step: {f: getattr(p, f) for f in _POINT_FIELDS} for p in state.curve} if state else {}
            points = {**saved, **points}
        return [points[step] for step in sorted(points)]

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        result = trial.last_result or {}
        identity = identify(trial.config, self.space, self.default_seed)
        if "reused_from" in result:
            record = reused_record(self.store, self.search_name, trial.trial_id, identity, result)
        else:
            status = "completed" if "test_accuracy" in result else "stopped"
            record = trial_record(self.search_name, trial.trial_id, identity, status, result,
                                  self._curve(trial, result))
        self.store.record_trials([record])

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        identity = identify(trial.config, self.space, self.default_seed)
        # Tune has just written the error to the trial's local folder (storage sync comes later)
        path = trial.error_file
        text = Path(path).read_text() if path and Path(path).is_file() else None
        result = trial.last_result or {}
        self.store.record_trials([trial_record(self.search_name, trial.trial_id, identity, "failed", result,
                                               self._curve(trial, result), error=text)])
