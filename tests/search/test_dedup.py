"""The duplicate-reusing searcher wrapper (search/dedup.py), driven in-process without Ray.

A scripted inner searcher suggests exactly the configs a case needs, so each rule is pinned:
a duplicate of a completed placement is handed out with ``reuse`` and the stored metrics; a
duplicate of a running one is held (``suggest`` returns None) until the first copy finishes; the
inner searcher sees every one of its suggestions completed, under its own trial ids; the budget
counts reused trials; get_state/set_state and save/restore carry a half-run search over.
"""

from __future__ import annotations

import pickle

import pytest
from ray.tune.search import Searcher

from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.searchers import make_searcher

SPACE = EdgeSpace(5)
A, B, C = "0->1", "1->2,3->3", "4->0"
#: what a finished trial reports: metrics, and things that are not metrics
RESULT_A = {"val_accuracy": 0.75, "val_loss": 0.5, "test_accuracy": 0.7, "training_iteration": 3,
            "config": {"placement": A}, "placement": A}


class Scripted(Searcher):
    """Suggests the given configs in order (then FINISHED) and records every completion."""

    def __init__(self, configs):
        super().__init__(metric="val_accuracy", mode="max")
        self.configs = [dict(c) for c in configs]
        self.suggested: dict[str, dict] = {}
        self.completed: list[tuple[str, dict | None, bool]] = []

    def suggest(self, trial_id):
        if not self.configs:
            return Searcher.FINISHED
        config = self.configs.pop(0)
        self.suggested[trial_id] = config
        return dict(config)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))

    def get_state(self):
        return {"configs": self.configs, "suggested": self.suggested, "completed": self.completed}

    def set_state(self, state):
        self.__dict__.update(state)

    def save(self, path):
        with open(path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, path):
        with open(path, "rb") as f:
            self.set_state(pickle.load(f))


def text(placement: str) -> dict:
    return {"placement": placement}


def slots(placement: str, **extra) -> dict:
    """The TPE slot encoding of a placement (K fixed)."""
    config = {"k": len(Placement.parse(placement)), **extra}
    for i, e in enumerate(Placement.parse(placement)):
        config[f"src_{i}"], config[f"dst_{i}"] = e.source, e.destination
    return config


def wrap(configs, budget=10, seed=0):
    inner = Scripted(configs)
    return DeduplicatingSearcher(inner, SPACE, default_seed=seed, budget=budget), inner


def result_for(placement: str, acc: float) -> dict:
    return {"val_accuracy": acc, "val_loss": 1.0 - acc, "placement": placement}


# --------------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    "first, second",
    [
        (text(A), text(A)),
        (text(B), text("3->3,1->2")),               # same edges, another order
        (text(B), slots(B)),                        # the two encodings of one placement
        (slots(B), text(" 1->2 , 3->3 ")),
        (text(A), {"placement": A, "seed": 0}),     # the default seed, written out
    ],
    ids=["same-text", "reordered", "text-then-slots", "slots-then-text", "explicit-default-seed"],
)
def test_duplicate_of_a_completed_placement_is_reused_with_its_metrics(first, second):
    searcher, inner = wrap([first, second])
    placement = str(searcher.key_of(first)[0])
    c1 = searcher.suggest("t1")
    assert "reuse" not in c1 and c1["seed"] == 0
    searcher.on_trial_complete("t1", result={**RESULT_A, "placement": placement})
    c2 = searcher.suggest("t2")
    reuse = c2["reuse"]
    assert reuse["of"] == "t1" and reuse["placement"] == placement and c2["seed"] == 0
    # the stored metrics, and nothing that is not a metric
    assert {k: reuse["metrics"].get(k) for k in ("val_accuracy", "val_loss", "test_accuracy")} == {
        "val_accuracy": 0.75, "val_loss": 0.5, "test_accuracy": 0.7}
    assert not {"config", "placement", "trial_id", "training_iteration"} & set(reuse["metrics"])
    # Tune runs the reused trial, which reports the stored metrics; the inner searcher hears of it
    searcher.on_trial_complete("t2", result={**reuse["metrics"], "placement": placement})
    assert [tid for tid, _, _ in inner.completed] == ["t1", "t2"]
    assert inner.completed[1][1]["val_accuracy"] == 0.75


def test_another_seed_is_not_a_duplicate():
    searcher, _ = wrap([{"placement": A, "seed": 1}, {"placement": A, "seed": 2}, text(A)])
    configs = []
    for i in range(3):
        configs.append(searcher.suggest(f"t{i}"))
    assert [c["seed"] for c in configs] == [1, 2, 0]
    assert not any("reuse" in c for c in configs)  # three different trials, all running at once


def test_duplicate_of_a_running_placement_is_held_until_the_first_finishes():
    searcher, inner = wrap([text(A), text(A), text(B)])
    assert searcher.suggest("t1")["placement"] == A
    assert searcher.suggest("t2") is None          # A is running: hold the copy
    assert searcher.suggest("t3")["placement"] == B  # other work goes on meanwhile
    assert searcher.suggest("t4") is None          # inner finished, but a copy is still held
    searcher.on_trial_complete("t1", result=RESULT_A)
    c5 = searcher.suggest("t5")                     # released as a reuse of t1, under Tune's new id
    assert c5["placement"] == A and c5["reuse"]["of"] == "t1"
    assert c5["reuse"]["metrics"]["val_accuracy"] == 0.75
    searcher.on_trial_complete("t5", result={**c5["reuse"]["metrics"]})
    searcher.on_trial_complete("t3", result=result_for(B, 0.5))
    assert searcher.suggest("t6") == Searcher.FINISHED
    # the inner searcher saw each of its own suggestions complete, under its own ids
    assert sorted(tid for tid, _, _ in inner.completed) == sorted(inner.suggested) == ["t1", "t2", "t3"]
    held_result = next(r for tid, r, _ in inner.completed if tid == "t2")
    assert held_result["val_accuracy"] == 0.75


def test_intermediate_results_reach_the_inner_searcher_under_its_own_id():
    class Recording(Scripted):
        def __init__(self, configs):
            super().__init__(configs)
            self.results = []

        def on_trial_result(self, trial_id, result):
            self.results.append((trial_id, result["val_accuracy"]))

    inner = Recording([text(A), text(A)])
    searcher = DeduplicatingSearcher(inner, SPACE, default_seed=0, budget=5)
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None
    searcher.on_trial_result("t1", {"val_accuracy": 0.1})
    searcher.on_trial_complete("t1", result=RESULT_A)
    searcher.suggest("t9")  # the held copy, inner id t2
    searcher.on_trial_result("t9", {"val_accuracy": 0.75})
    assert inner.results == [("t1", 0.1), ("t2", 0.75)]


def test_a_failed_trial_is_not_reused():
    searcher, inner = wrap([text(A), text(A)])
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", result=None, error=True)
    c2 = searcher.suggest("t2")
    assert c2["placement"] == A and "reuse" not in c2  # trained again
    assert inner.completed == [("t1", None, True)]


def test_a_copy_held_behind_a_failed_trial_is_released():
    searcher, inner = wrap([text(A), text(A)])
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None
    searcher.on_trial_complete("t1", result=None, error=True)
    c3 = searcher.suggest("t3")
    assert c3 not in (None, Searcher.FINISHED) and c3["placement"] == A and "reuse" not in c3
    searcher.on_trial_complete("t3", result=result_for(A, 0.6))
    assert searcher.suggest("t4") == Searcher.FINISHED
    assert sorted(tid for tid, _, _ in inner.completed) == ["t1", "t2"]


def test_copies_held_behind_a_failed_trial_train_one_at_a_time():
    """Two copies held behind a failing first copy: the first is released to train, the second
    waits behind it and is then reused from its metrics."""
    searcher, inner = wrap([text(A), text(A), text(A)])
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None and searcher.suggest("t3") is None
    searcher.on_trial_complete("t1", result=None, error=True)
    c4 = searcher.suggest("t4")
    assert c4["placement"] == A and "reuse" not in c4
    assert searcher.suggest("t5") is None          # the second copy now waits behind t4
    searcher.on_trial_complete("t4", result=result_for(A, 0.6))
    c6 = searcher.suggest("t6")
    assert c6["reuse"]["of"] == "t4" and c6["reuse"]["metrics"]["val_accuracy"] == 0.6
    searcher.on_trial_complete("t6", result={**c6["reuse"]["metrics"]})
    assert searcher.suggest("t7") == Searcher.FINISHED
    assert [tid for tid, _, _ in inner.completed] == ["t1", "t2", "t3"]
    assert [e for _, _, e in inner.completed] == [True, False, False]


# ------------------------------------------------------------------------------------- budget


def test_budget_counts_every_trial_handed_out_reused_ones_included():
    searcher, inner = wrap([text(A), text(A), text(B), text(C), text(A)], budget=3)
    handed = []
    for i in range(6):
        config = searcher.suggest(f"t{i}")
        if config == Searcher.FINISHED:
            break
        handed.append(config)
        searcher.on_trial_complete(f"t{i}", result=result_for(config["placement"], 0.5))
    assert [c["placement"] for c in handed] == [A, A, B]
    assert "reuse" in handed[1]
    assert searcher.suggest("again") == Searcher.FINISHED
    assert len(inner.suggested) == 3  # the wrapper stops asking once the budget is spent


def test_inner_finished_before_the_budget_finishes_the_search():
    searcher, _ = wrap([text(A)], budget=5)
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", result=RESULT_A)
    assert searcher.suggest("t2") == Searcher.FINISHED


def test_inner_none_is_passed_through():
    class Waiting(Scripted):
        def suggest(self, trial_id):
            return None  # e.g. a concurrency limiter

    searcher = DeduplicatingSearcher(Waiting([]), SPACE, default_seed=0, budget=2)
    assert searcher.suggest("t1") is None and not searcher.finished


def test_never_more_trials_than_the_budget_even_with_held_copies():
    searcher, _ = wrap([text(A), text(A), text(B), text(C)], budget=2)
    handed = [searcher.suggest("t1")]              # A
    assert searcher.suggest("t2") is None          # A again: held
    handed.append(searcher.suggest("t3"))          # B: the budget of 2 is spent
    assert searcher.suggest("t4") is None          # waiting for the held copy
    searcher.on_trial_complete("t1", result=RESULT_A)
    searcher.on_trial_complete("t3", result=result_for(B, 0.5))
    for i in range(5, 8):
        config = searcher.suggest(f"t{i}")
        if config == Searcher.FINISHED:
            break
        if config is not None:
            handed.append(config)
            searcher.on_trial_complete(f"t{i}", result=result_for(config["placement"], 0.5))
    assert len(handed) <= 2, [c["placement"] for c in handed]


# -------------------------------------------------------------------------------------- state


def test_get_state_set_state_round_trip_continues_the_same_search():
    """Tune pickles get_state() with its experiment; a fresh wrapper given that state (and the
    inner searcher's own state) behaves exactly as the original from there on."""
    configs = [text(A), text(A), text(B), text(A), text(C)]
    original, inner = wrap(configs, budget=5)
    original.suggest("t1")                       # A running
    assert original.suggest("t2") is None        # A held
    original.suggest("t3")                       # B running
    original.on_trial_complete("t3", result=result_for(B, 0.4))
    state = pickle.loads(pickle.dumps(original.get_state()))
    assert "searcher" not in state and "space" not in state

    restored_inner = Scripted([])
    restored_inner.set_state(pickle.loads(pickle.dumps(inner.get_state())))
    restored = DeduplicatingSearcher(restored_inner, SPACE, default_seed=0, budget=5)
    restored.set_state(state)                    # no store URL: nothing to reconcile

    def finish(searcher):
        out = []
        searcher.on_trial_complete("t1", result=RESULT_A)
        for i in range(4, 10):
            config = searcher.suggest(f"t{i}")
            out.append(config)
            if config == Searcher.FINISHED:
                break
            if config is not None:
                searcher.on_trial_complete(f"t{i}", result=result_for(config["placement"], 0.6))
        return out

    ahead, again = finish(original), finish(restored)
    assert ahead == again and again[-1] == Searcher.FINISHED
    assert [c["placement"] for c in again if isinstance(c, dict)] == [A, A, C]  # held A, then A reused, C
    assert restored_inner.completed == inner.completed
    assert sorted(tid for tid, _, _ in restored_inner.completed) == sorted(restored_inner.suggested)


def test_save_restore_round_trip_carries_the_inner_searcher(tmp_path):
    """save/restore write the wrapper and its inner searcher into one checkpoint."""
    inner, count = make_searcher("random", _cfg(), SPACE, 6, 0, lambda: {})
    searcher = DeduplicatingSearcher(inner, SPACE, default_seed=0, budget=count)
    first = [searcher.suggest(f"t{i}") for i in range(3)]
    for i, config in enumerate(first):
        searcher.on_trial_complete(f"t{i}", result=result_for(config["placement"], 0.5))
    path = tmp_path / "dedup.pkl"
    searcher.save(str(path))

    other_inner, _ = make_searcher("random", _cfg(), SPACE, 6, 42, lambda: {})
    other = DeduplicatingSearcher(other_inner, SPACE, default_seed=0, budget=count)
    other.restore(str(path))
    assert other.handed_out == searcher.handed_out and other.completed == searcher.completed
    rest = [searcher.suggest(f"t{i}") for i in range(3, 7)]
    assert [other.suggest(f"t{i}") for i in range(3, 7)] == rest
    assert all(isinstance(c, dict) for c in rest[:3]) and rest[3] == Searcher.FINISHED


def test_set_state_accepts_a_state_saved_before_newer_fields_existed():
    searcher, _ = wrap([text(A)])
    state = searcher.get_state()
    for field in ("absorbed", "succeeded", "failed"):
        state.pop(field, None)
    fresh, _ = wrap([text(A)])
    fresh.set_state(state)
    assert fresh.absorbed == 0
    assert fresh.suggest("t1")["placement"] == A


def _cfg():
    from placement_search.config import Config

    cfg = Config()
    cfg.space.k = 1
    return cfg


# ------------------------------------------------------------- held copies the budget leaves out


def test_a_held_copy_beyond_the_budget_answers_the_inner_searcher_without_a_trial():
    """Tune stops calling suggest after its num_samples trials, so the answer comes when the first
    copy ends: the inner searcher hears of its held suggestion with the first copy's metrics."""
    searcher, inner = wrap([text(A), text(A), text(B)], budget=2)
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None
    searcher.suggest("t3")                                 # the budget of 2 is spent
    searcher.on_trial_complete("t1", result=RESULT_A)      # no suggest call in between
    assert [tid for tid, _, _ in inner.completed] == ["t1", "t2"]
    answer = inner.completed[1]
    assert answer[1]["val_accuracy"] == 0.75 and answer[2] is False
    assert not {"config", "placement", "trial_id", "training_iteration"} & set(answer[1])
    assert searcher.suggest("t4") == Searcher.FINISHED     # nothing held any more
    searcher.on_trial_complete("t3", result=result_for(B, 0.5))
    assert sorted(tid for tid, _, _ in inner.completed) == sorted(inner.suggested)
    assert searcher.handed_out == {"t1", "t3"}


def test_a_held_copy_beyond_the_budget_behind_a_failed_trial_is_answered_as_an_error():
    searcher, inner = wrap([text(A), text(A), text(B)], budget=2)
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None
    searcher.suggest("t3")
    assert searcher.suggest("t4") is None                  # spent, but a copy is still held
    searcher.on_trial_complete("t1", result=None, error=True)
    assert inner.completed == [("t1", None, True), ("t2", None, True)]
    assert searcher.suggest("t5") == Searcher.FINISHED
    assert searcher.handed_out == {"t1", "t3"}


def test_a_released_copy_counts_against_the_budget():
    searcher, _ = wrap([text(A), text(A), text(B), text(C)], budget=2)
    searcher.suggest("t1")
    assert searcher.suggest("t2") is None
    searcher.on_trial_complete("t1", result=None, error=True)
    c3 = searcher.suggest("t3")                            # the held copy trains: trial 2 of 2
    assert c3["placement"] == A and "reuse" not in c3
    searcher.on_trial_complete("t3", result=result_for(A, 0.6))
    assert searcher.suggest("t4") == Searcher.FINISHED


def test_failing_fast_gives_held_copies_no_trial():
    searcher, inner = wrap([text(A), text(B), text(C), text(A), text(B)], budget=10)
    for tid in ("t1", "t2", "t3"):
        searcher.suggest(tid)
    assert searcher.suggest("t4") is None                  # A again: held behind t1
    for tid in ("t1", "t2", "t3"):
        searcher.on_trial_complete(tid, result=None, error=True)
    assert searcher.suggest("t5") == Searcher.FINISHED
    assert [tid for tid, _, _ in inner.completed] == ["t1", "t2", "t3", "t4"]
    assert inner.completed[3] == ("t4", None, True)
    assert len(inner.suggested) == 4                       # the wrapper stopped asking
