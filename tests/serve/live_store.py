"""A small store written directly through ResultsStore (no Ray, no training), with hand-set numbers.

* ``gt-exhaustive`` (benchmark ``bench-gt``): every edge of a 5-point space, two seeds at +-0.005,
  so edge ``s->d`` has mean val accuracy exactly ``0.50 + 0.01 * (5 s + d)``: 25 distinct values
  from 0.50 (``0->0``) to 0.74 (``4->4``, the optimum).
* ``tpe-k2`` (same benchmark, still running, budget 8): two completed 2-edge placements (0.712 and
  0.706), a failed trial, a trial stopped early at 0.99 (never the best) and a reused copy. Best:
  ``0->3,2->1`` at 0.712, so regret = 0.74 - 0.712 = 0.028, and it beats the 22 edges
  with mean 0.50 .. 0.71 (no tie): percentile 100 * 22 / 25 = 88.
* ``other-random`` (benchmark ``bench-none``, no ground truth anywhere, completed, budget 2).
"""

from __future__ import annotations

from placement_search.store import ResultsStore, TrialRecord

N = 5
BACKBONE = {"backbone": {"name": "tiny-bert"}, "task": {"name": "tiny-text"}}


def gt_value(s: int, d: int) -> float:
    return 0.50 + 0.01 * (5 * s + d)


def curve(final: float, epochs: int = 3) -> list[dict]:
    return [{"step": 10 * (e + 1), "epoch": float(e + 1), "val_accuracy": final - 0.02 * (epochs - 1 - e),
             "train_loss": 1.0 / (e + 1)} for e in range(epochs)]


def write_store(path) -> None:
    store = ResultsStore(str(path))
    try:
        store.ensure_benchmark("bench-gt", {"x": "gt"})
        store.ensure_benchmark("bench-none", {"x": "none"})
        config = {**BACKBONE, "space": {"k": 1}}
        store.create_search("gt-exhaustive", "bench-gt", "exhaustive", 2 * N * N, config, {"runner": "local"})
        records = []
        for s in range(N):
            for d in range(N):
                for seed, noise in ((0, 0.005), (1, -0.005)):
                    v = gt_value(s, d) + noise
                    records.append(TrialRecord("gt-exhaustive", f"e{s}_{d}_{seed}", f"{s}->{d}", seed, "completed",
                                               {"val_accuracy": v, "test_accuracy": v - 0.01}, curve(v)))
        store.record_trials(records)
        store.set_search_status("gt-exhaustive", "completed")

        store.create_search("tpe-k2", "bench-gt", "tpe", 8, {**BACKBONE, "space": {"k": 2}}, {"runner": "tune"})
        store.record_trial("tpe-k2", "t1", "2->1,0->3", 0, "completed", {"val_accuracy": 0.712, "test_accuracy": 0.70},
                           curve(0.712))
        store.record_trial("tpe-k2", "t2", "1->1,3->4", 0, "completed", {"val_accuracy": 0.706, "test_accuracy": 0.69},
                           curve(0.706))
        store.record_trial("tpe-k2", "t3", "0->1,4->4", 0, "failed", error="TrainingDiverged: loss became nan")
        store.record_trial("tpe-k2", "t4", "0->2,1->3", 0, "stopped", {"val_accuracy": 0.99}, curve(0.99, 1))
        store.record_trial("tpe-k2", "t5", "0->3,2->1", 0, "reused", {"val_accuracy": 0.712, "test_accuracy": 0.70})

        store.create_search("other-random", "bench-none", "random", 2, {**BACKBONE, "space": {"k": 1}}, {})
        store.record_trial("other-random", "r1", "1->2", 0, "completed", {"val_accuracy": 0.6}, curve(0.6))
        store.set_search_status("other-random", "completed")
    finally:
        store.close()
