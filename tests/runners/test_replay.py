"""The replay runner on a hand-made ground truth: curves played back as Tune would, and ASHA.

No training and no Ray instance: a 4-point edge space (no backbone loaded), an exhaustive search
written straight into a store with 3-epoch learning curves, and a list searcher that records what
it is told. ASHA's decisions are checked against rungs computed by hand (Tune's ASHA: rung cutoff =
the (1 - 1/rf) quantile, numpy's linear interpolation, of the values recorded at that rung before).
"""

from __future__ import annotations

import numpy as np
import pytest

from placement_search.analysis.regret import regret_curves, target_summary
from placement_search.config import Config
from placement_search.placement.edges import EdgeSpace
from placement_search.runners.base import RunnerOptions, SearchJob
from placement_search.runners.replay import ReplayRunner, with_epochs
from placement_search.search.searchers import PlacementListSearcher
from placement_search.store import ResultsStore, TrialRecord, benchmark_description, benchmark_key

SPACE = EdgeSpace(4)
# epoch-1 val accuracies, in the order the searcher suggests them, and the final ones
EPOCH1 = {"0->0": 0.50, "1->1": 0.60, "2->2": 0.55, "3->3": 0.58, "0->1": 0.40, "1->2": 0.70}
FINAL = {"0->0": 0.70, "1->1": 0.80, "2->2": 0.92, "3->3": 0.78, "0->1": 0.60, "1->2": 0.90}
ORDER = list(EPOCH1)


class Recording(PlacementListSearcher):
    """A list searcher that notes every intermediate and final result it is given."""

    def __init__(self, trials):
        super().__init__(trials)
        self.results: list[tuple[str, dict]] = []
        self.completed: list[tuple[str, dict]] = []

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result))


def make_cfg(scheduler: str = "fifo", grace: int = 1, rf: int = 3) -> Config:
    cfg = Config()
    cfg.training.epochs = 3
    cfg.search.scheduler, cfg.search.asha_grace_period, cfg.search.asha_reduction_factor = scheduler, grace, rf
    return cfg


def curve(placement: str, v1_style: bool = False) -> list[dict]:
    """Three evaluations, 10 steps an epoch; a version-1 store left the last point's epoch empty."""
    e1, fin = EPOCH1[placement], FINAL[placement]
    points = [(10, 1.0, e1), (20, 2.0, (e1 + fin) / 2), (30, None if v1_style else 3.0, fin)]
    return [{"step": s, "epoch": e, "val_accuracy": v, "val_loss": 1 - v, "train_loss": 1.1 - v, "lr": 0.001}
            for s, e, v in points]


@pytest.fixture
def store(tmp_path):
    s = ResultsStore(str(tmp_path / "gt.sqlite"))
    cfg = make_cfg()
    key = benchmark_key(cfg)
    s.ensure_benchmark(key, benchmark_description(cfg))
    s.create_search("gt", key, "exhaustive", len(ORDER), cfg.to_dict())
    s.record_trials([TrialRecord("gt", f"t{i}", p, 0, "completed",
                                 {"val_accuracy": FINAL[p], "best_val_accuracy": FINAL[p], "test_accuracy": FINAL[p] - 0.01,
                                  "test_loss": 0.3, "wall_time_s": 12.0, "epochs": 3.0, "steps": 30,
                                  "num_adapter_params": 100},
                                 curve(p, v1_style=(i % 2 == 1)))
                     for i, p in enumerate(ORDER)])
    yield s
    s.close()


def run(store, cfg, trials, name="replay", stop=None):
    searcher = Recording([(p, 0) for p in trials])
    store.ensure_benchmark(benchmark_key(cfg), benchmark_description(cfg))
    store.create_search(name, benchmark_key(cfg), "list", len(trials), cfg.to_dict())
    ReplayRunner(RunnerOptions(verbose=0), stop=stop).run(SearchJob(cfg, store, name, searcher, len(trials), SPACE))
    return searcher, store.trials_frame(name).set_index("placement")


def test_fifo_replay_plays_the_curve_and_counts_epochs(store):
    searcher, t = run(store, make_cfg(), ORDER)
    assert (t["status"] == "replayed").all()
    # version-1 curves (last epoch empty) still give 3 epochs: step 30 / 10 steps per epoch
    assert (t["epochs"] == 3.0).all()
    assert t.loc["1->1", "test_accuracy"] == pytest.approx(FINAL["1->1"] - 0.01)
    # every evaluation but the last goes to on_trial_result, with Tune's training_iteration
    assert [(tid, r["epoch"], r["training_iteration"]) for tid, r in searcher.results[:2]] == [
        ("replay_00000", 1.0, 1), ("replay_00000", 2.0, 2)]
    assert len(searcher.results) == 2 * len(ORDER)
    assert [r["val_accuracy"] for _, r in searcher.completed] == [FINAL[p] for p in ORDER]
    c = store.curves_frame("replay")
    assert c.groupby("trial_id").size().tolist() == [3] * len(ORDER) and c["epoch"].notna().all()


def test_asha_replay_stops_the_hand_computed_trials(store):
    """grace 1, rf 3, 3 epochs: Tune's rungs are epochs 1 and 3; at epoch 1 the cutoff is the
    66.7th percentile of the epoch-1 values recorded before:
        0->0 0.50  no one before                     -> continues
        1->1 0.60  cutoff 0.50                       -> continues
        2->2 0.55  cutoff of [.50 .60]      = 0.5667 -> stopped
        3->3 0.58  cutoff of [.50 .60 .55]  = 0.5667 -> continues
        0->1 0.40  cutoff of [.5 .6 .55 .58] = 0.58  -> stopped
        1->2 0.70  cutoff of 5 values        = 0.5767 -> continues
    """
    searcher, t = run(store, make_cfg("asha"), ORDER)
    stopped = {"2->2", "0->1"}
    assert set(t.index[t["status"] == "stopped"]) == stopped
    assert set(t.index[t["status"] == "replayed"]) == set(ORDER) - stopped
    for p in stopped:
        row = t.loc[p]
        assert row["epochs"] == 1.0 and row["steps"] == 10
        assert row["val_accuracy"] == pytest.approx(EPOCH1[p]) and row["best_val_accuracy"] == pytest.approx(EPOCH1[p])
        assert np.isnan(row["test_accuracy"]) and np.isnan(row["wall_time_s"])
        assert row["num_adapter_params"] == 100
    assert (t.loc[list(set(ORDER) - stopped), "epochs"] == 3.0).all()
    # the searcher is told a stopped trial's last result, and gets no intermediate result for it
    told = dict(searcher.completed)
    assert told["replay_00002"]["val_accuracy"] == pytest.approx(EPOCH1["2->2"])
    assert not [r for tid, r in searcher.results if tid == "replay_00002"]
    c = store.curves_frame("replay").groupby("placement").size()
    assert c["2->2"] == 1 and c["0->0"] == 3


def test_asha_cutoffs_match_numpy_percentile():
    """The hand-computed cutoffs in the docstring above, recomputed the way Tune computes them."""
    seen = []
    decisions = []
    for p in ORDER:
        cutoff = np.nanpercentile(seen, (1 - 1 / 3) * 100) if seen else None
        decisions.append(cutoff is not None and EPOCH1[p] < cutoff)
        seen.append(EPOCH1[p])
    assert decisions == [False, False, True, False, True, False]


def test_asha_grace_and_reduction_factor(store):
    # grace 2: the only rung is epoch 2 (values there halfway between epoch 1 and the end): 0->0 at
    # 0.60 is the first, 1->1 0.70 continues, 0->1 0.50 is below the 66.7th percentile of [0.6, 0.7]
    _, t = run(store, make_cfg("asha", grace=2, rf=3), ["0->0", "1->1", "0->1"])
    assert t.loc["0->1", "status"] == "stopped" and t.loc["0->1", "epochs"] == 2.0
    assert (t.loc[["0->0", "1->1"], "status"] == "replayed").all()
    with pytest.raises(Exception, match="grace_period"):
        run(store, make_cfg("asha", grace=4), ORDER[:1], name="too-long")


def test_stop_rule_ends_the_replay(store):
    _, t = run(store, make_cfg(), ORDER, stop=lambda records: len(records) == 2)
    assert list(t.index) == ORDER[:2]


def test_stopped_trials_are_never_found(store):
    """A placement only counts once run to the end: stopped trials (and copies of them) do not."""
    cfg = make_cfg("asha")
    run(store, cfg, ORDER)
    trials = store.trials_frame()
    trials = trials[trials["search"] == "replay"]
    gt = store.ground_truth(benchmark_key(cfg))
    curves = regret_curves(trials, gt)
    assert curves.loc[curves["placement"] == "2->2", "value"].isna().all()
    # 2->2 (final 0.92) would reach 0.85 at trial 3 but was stopped at epoch 1, so the first
    # find is 1->2 (0.90) at trial 6; compute = the epochs run: 3 + 3 + 1 + 3 + 1 + 3
    hit = target_summary(curves, 0.85)
    assert hit["trials_median"].item() == 6
    assert hit["compute_median"].item() == pytest.approx(3 + 3 + 1 + 3 + 1 + 3)


def test_with_epochs_fills_missing_epochs():
    cfg = make_cfg()
    pts = with_epochs([{"step": 10, "epoch": 1.0}, {"step": 25, "epoch": None}], cfg)
    assert pts[1]["epoch"] == 2.5
    # no point with an epoch: the last step is the recipe's epochs
    pts = with_epochs([{"step": 8, "epoch": None}, {"step": 16, "epoch": None}], cfg)
    assert [p["epoch"] for p in pts] == [1.5, 3.0]
