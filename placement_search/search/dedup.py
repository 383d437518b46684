"""Duplicate placements inside one search are trained once (a Searcher wrapper on the driver).

Searchers such as TPE may suggest a placement the search has already trained. The wrapper decodes
every suggestion; a placement already completed is handed to Tune with ``reuse`` in its config (the
trainable reports the stored metrics at once and the store marks the trial ``reused``); a placement
still running is held back (``suggest`` returns None, Tune asks again later) until the first copy
finishes: then it is handed out with ``reuse`` when the first copy completed, or to train when it
failed (there are no metrics to reuse), the next held copy of that placement waiting behind it in
turn. The wrapped searcher still sees every one of its suggestions completed, with the real
metrics, so its model is not skewed.

It stops suggesting after ``FAIL_FAST`` failures without a single success (a data set the
workers cannot load fails every trial alike). It owns the trial budget: it never hands out more
trials than ``budget``, reused trials and released held copies included. A held copy it can no
longer hand out (the budget is spent, or the search failed fast) gets no trial: as soon as its
first copy has ended, the inner searcher is answered directly, with the first copy's metrics when
it completed and as an error when it failed (the way a restored search answers from the store),
and ``suggest`` returns FINISHED once no copy is held. Tune stops calling ``suggest`` after its
own ``num_samples`` trials, so these answers are also given when the first copy ends.

It also reconciles with the results store when Tune restores it after the driver died: a trial Tune started and finished between two of its experiment snapshots is in
the store but not in the restored state. Such trials count against the budget and their results
answer the searcher again without a new Tune trial, so a resumed search neither loses nor repeats
a completed trial and ends with exactly its number of trials.
"""

from __future__ import annotations

import os
import pickle
import tempfile

from ray.tune.search import Searcher

from placement_search.placement.edges import EdgeSpace
from placement_search.search.encoding import decode_placement
from placement_search.store import METRICS

#: after this many failed trials and no successful one, the search stops suggesting (the service
#: then marks it failed with the most common error)
FAIL_FAST = 3


class DeduplicatingSearcher(Searcher):
    def __init__(self, searcher: Searcher, space: EdgeSpace, default_seed: int, budget: int,
                 store_url: str | None = None, search_name: str | None = None):
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher, self.space, self.default_seed = searcher, space, default_seed
        self.budget, self.store_url, self.search_name = budget, store_url, search_name
        self.handed_out: set[str] = set()                  # outer trial ids Tune received
        self.orphans: dict[tuple[str, int], list] = {}     # stored trials Tune's state lacks, per key
        self.absorbed = 0                                  # how many stored trials Tune's state lacks
        self.completed: dict[tuple[str, int], dict] = {}   # (placement, seed) -> metrics + trial id
        self.running: dict[tuple[str, int], str] = {}      # (placement, seed) -> trial id
        self.held: list[tuple[str, dict, tuple[str, int]]] = []  # (inner trial id, config, key)
        self.inner_id: dict[str, str] = {}                 # outer trial id -> inner trial id
        self.keys: dict[str, tuple[str, int]] = {}         # outer trial id -> (placement, seed)
        self.finished = False
        self.succeeded = self.failed = 0                   # trials of this driver that ended, by outcome

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def key_of(self, config: dict) -> tuple[str, int]:
        return str(decode_placement(config, self.space)), int(config.get("seed", self.default_seed))

    def preload(self, key: tuple[str, int], metrics: dict) -> None:
        """Tell the wrapper a placement was completed earlier (e.g. before a resume)."""
        self.completed[key] = metrics

    def _hand_out(self, trial_id: str, inner_id: str, config: dict, key: tuple[str, int]) -> dict:
        self.handed_out.add(trial_id)
        self.inner_id[trial_id], self.keys[trial_id] = inner_id, key
        config = {**config, "seed": key[1]}  # every trial names its training seed
        if key in self.completed:
            done = self.completed[key]
            config = {**config, "reuse": {"of": done["trial_id"], "placement": key[0],
                                          "metrics": {m: done[m] for m in METRICS if m in done}}}
        else:
            self.running[key] = trial_id
        return config

    def _closed(self) -> bool:
        """No further trial may be handed out: the budget is spent, or the search failed fast."""
        spent = len(self.handed_out) + self.absorbed >= self.budget
        return spent or (self.failed >= FAIL_FAST and not self.succeeded)

    def _answer_held(self) -> None:
        """Answer the inner searcher, without a trial, for every held copy whose first copy has
        ended: its metrics when it completed, an error when it failed. Copies whose first copy
        still runs stay held until it ends."""
        waiting = []
        for inner_id, config, key in self.held:
            if key in self.running:
                waiting.append((inner_id, config, key))
            elif key in self.completed:
                done = self.completed[key]
                self.searcher.on_trial_complete(inner_id, result={m: done[m] for m in METRICS if m in done})
            else:
                self.searcher.on_trial_complete(inner_id, result=None, error=True)
        self.held = waiting

    def suggest(self, trial_id: str) -> dict | None:
        if self._closed():
            self.finished = True
            self._answer_held()
            return None if self.held else Searcher.FINISHED
        for index, (inner_id, config, key) in enumerate(self.held):
            if key not in self.running:  # the first copy ended: reuse its metrics, or train if it failed
                del self.held[index]
                return self._hand_out(trial_id, inner_id, config, key)
        inner_id, answered = trial_id, 0
        while True:
            if self.finished:  # the inner searcher is finished; held copies still get their trials
                return Searcher.FINISHED if not self.held else None
            config = self.searcher.suggest(inner_id)
            if config is None or config == Searcher.FINISHED:
                self.finished = config == Searcher.FINISHED
                return None if self.held else config
            key = self.key_of(config)
            if self.orphans.get(key):  # recorded before the driver died: answer from the store
                result = self.orphans[key].pop()
                self.searcher.on_trial_complete(inner_id, result=result, error=result is None)
                # the inner searcher's next suggestion is a new trial of its own (Optuna keys by id)
                answered += 1
                inner_id = f"{trial_id}~stored{answered}"
                continue
            if key in self.running:
                self.held.append((inner_id, config, key))
                return None
            return self._hand_out(trial_id, inner_id, config, key)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self.inner_id.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if error:
            self.failed += 1
        else:
            self.succeeded += 1
        if self.failed >= FAIL_FAST and not self.succeeded:
            self.finished = True  # the cause fails every trial (data, config): stop spending the budget
        key = self.keys.pop(trial_id, None)
        inner = self.inner_id.pop(trial_id, trial_id)
        if key is not None and self.running.get(key) == trial_id:
            del self.running[key]
            if not error and result and self.metric in result:
                self.completed[key] = {**result, "trial_id": trial_id}
        self.searcher.on_trial_complete(inner, result=result, error=error)
        if self._closed():
            self._answer_held()

    def reconcile_with_store(self) -> None:
        """Count and reuse trials the store holds but Tune's restored state does not know.

        Every such trial (completed, reused, stopped or failed) uses up one trial of the budget and
        answers the searcher once when it suggests that placement again; ``resume --retry-failed``
        deletes failed trials first, so they run again instead.
        """
        if not (self.store_url and self.search_name):
            return
        from placement_search.store import open_store, unmask

        with open_store(unmask(self.store_url)) as store:
            trials = store.trials_frame(self.search_name)
        unknown = trials[~trials["trial_key"].isin(self.handed_out)]
        self.absorbed = len(unknown)
        self.orphans = {}
        measured = unknown[unknown["status"] == "completed"]
        for row in measured.itertuples():
            metrics = {m: getattr(row, m) for m in METRICS} | {"trial_id": row.trial_key}
            self.completed[(row.placement, int(row.seed))] = metrics
        for row in unknown.itertuples():
            key = (row.placement, int(row.seed))
            answer = None if row.status == "failed" else self.completed.get(key)
            if answer is None and row.status != "failed":
                answer = {m: getattr(row, m) for m in METRICS}
            self.orphans.setdefault(key, []).append(answer)

    def get_state(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("searcher", "space")}

    def set_state(self, state: dict) -> None:
        """Restore a saved state, then reconcile with the store. Tune's ``Tuner.restore`` calls this
        (it saves and restores wrapper searchers through get_state/set_state, not save/restore)."""
        # states saved before a field existed restore with its fresh default
        self.__dict__.update({"absorbed": 0, "succeeded": 0, "failed": 0, **state})
        self.reconcile_with_store()

    def save(self, checkpoint_path: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            inner = os.path.join(tmp, "inner.pkl")
            self.searcher.save(inner)
            with open(inner, "rb") as f:
                blob = f.read()
        with open(checkpoint_path, "wb") as f:
            pickle.dump({"state": self.get_state(), "inner": blob}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            saved = pickle.load(f)
        self.set_state(saved["state"])
        with tempfile.TemporaryDirectory() as tmp:
            inner = os.path.join(tmp, "inner.pkl")
            with open(inner, "wb") as f:
                f.write(saved["inner"])
            self.searcher.restore(inner)
