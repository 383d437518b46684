"""A trial that fails is retried from its last checkpoint and ends as if it had never failed.

The tiny task has 210 training examples in batches of 16: 14 steps per epoch, the last one short.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from placement_search.config import load_config
from placement_search.experiment import load_experiment
from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.runners.tune_trainable import INJECT_CRASH_ENV, load_train_state, save_train_state
from placement_search.store import open_store
from placement_search.training import train_placement, trainable_state

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"
STEPS_PER_EPOCH = 14
CRASH_PLACEMENT, CRASH_STEP = "1->2", 2 * STEPS_PER_EPOCH


def tiny(*overrides: str):
    return load_config(TINY, ["training.device=cpu", *overrides])


def train(cfg, placement: str, resume=None):
    """Train with a saved state (round-tripped through a checkpoint folder) at every evaluation."""
    backbone, task = load_experiment(cfg)
    states = {}

    def keep(point, model, state):
        with tempfile.TemporaryDirectory() as folder:
            save_train_state(state(), {}, folder)
            states[point.step] = load_train_state(folder)

    result, model = train_placement(cfg, Placement.parse(placement), backbone, task, on_eval=keep, resume=resume)
    return result, trainable_state(model), states


def same_run(a, b) -> None:
    ma, mb = a.metrics(), b.metrics()
    ma.pop("wall_time_s"), mb.pop("wall_time_s")
    assert ma == mb and a.curve == b.curve


@pytest.mark.parametrize("eval_every, resume_at", [(None, 2 * STEPS_PER_EPOCH), (5, 10), (5, 30)])
def test_resumed_training_equals_an_uninterrupted_run(eval_every, resume_at):
    """At an epoch end (the default evaluation) and at evaluations inside an epoch."""
    cfg = tiny("training.epochs=3", f"training.eval_every={eval_every or 'null'}")
    full, full_weights, states = train(cfg, "1->2,3->3")
    saved = states[resume_at]
    assert saved.step == resume_at and saved.batch == resume_at - STEPS_PER_EPOCH * ((resume_at - 1) // STEPS_PER_EPOCH)
    assert [p.step for p in saved.curve] == [p.step for p in full.curve if p.step <= resume_at]
    resumed, resumed_weights, later = train(cfg, "1->2,3->3", resume=saved)
    same_run(full, resumed)
    assert min(later) > resume_at  # only the evaluations after the resume point ran again
    assert resumed_weights.keys() == full_weights.keys()
    for key in full_weights:
        assert torch.equal(resumed_weights[key], full_weights[key]), key


def test_a_state_from_another_placement_is_refused():
    cfg = tiny("training.epochs=1")
    _, _, states = train(cfg, "1->2")
    with pytest.raises(ValueError, match="does not fit placement"):
        train(cfg, "0->0", resume=states[STEPS_PER_EPOCH])


def test_store_curve_of_a_trial_resumed_after_a_driver_restart(tmp_path):
    """The restored driver saw only the reports after the resume; the checkpoint has the rest."""
    from ray import tune

    from placement_search.runners.tune_callback import StoreCallback

    cfg = tiny("training.epochs=2")
    result, _, states = train(cfg, "1->2")
    store = open_store(str(tmp_path / "store.sqlite"))
    store.ensure_benchmark("k", {})
    store.create_search("s", "k", "random", 1, {}, {})
    callback = StoreCallback(store.url, "s", EdgeSpace(5, ("parallel",)), 0)
    final = states[2 * STEPS_PER_EPOCH]
    last = {**vars(result.curve[-1]), **result.metrics(), "placement": "1->2", "seed": 0,
            "resumed_from_step": STEPS_PER_EPOCH, "done": True}
    save_train_state(final, {}, tmp_path)
    checkpoint = tune.Checkpoint.from_directory(str(tmp_path))
    trial = SimpleNamespace(trial_id="t1", last_result=last, checkpoint=checkpoint, config={"placement": "1->2", "seed": 0})
    callback.on_trial_result(0, [], trial, last)
    callback.on_trial_complete(0, [], trial)
    curve = store.curves_frame("s")
    assert list(curve["step"]) == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    assert list(curve["val_accuracy"]) == [p.val_accuracy for p in result.curve]


@pytest.fixture(scope="module")
def ray_with_a_crash():
    import ray

    from placement_search.runners.ray_instance import init_ray

    os.environ[INJECT_CRASH_ENV] = f"{CRASH_PLACEMENT}@{CRASH_STEP}"
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    init_ray(None, cpus=2)
    yield
    ray.shutdown()
    os.environ.pop(INJECT_CRASH_ENV, None)


def test_a_crashed_trial_is_retried_from_its_checkpoint(ray_with_a_crash, tmp_path):
    from placement_search.search.service import RunOptions, run_search

    cfg = load_config(TINY, ["space.edge_types=[parallel]", "space.k=1", "search.max_failures=1"])
    run_search(cfg, RunOptions(searcher="exhaustive", name="crash", store=str(tmp_path / "store.sqlite"),
                               storage_path=str(tmp_path / "tune"), verbose=0))
    store = open_store(str(tmp_path / "store.sqlite"))
    trials = store.trials_frame("crash")
    assert len(trials) == 4 and trials["placement"].is_unique and trials["trial_key"].is_unique
    assert set(trials["status"]) == {"completed"} and store.get_search("crash").status == "completed"

    # Tune's own record of the trial: it crashed after the report at CRASH_STEP, then resumed there
    reports = [json.loads(line) for path in (tmp_path / "tune" / "crash").glob("*/result.json")
               for line in path.read_text().splitlines()]
    crashed = [r for r in reports if r["placement"] == CRASH_PLACEMENT]
    # Tune sometimes starts the retry's result.json afresh, dropping the first attempt's lines:
    # the retry's own reports are always there and must all say where it resumed
    first = [r for r in crashed if "resumed_from_step" not in r]
    retry = [r for r in crashed if "resumed_from_step" in r]
    assert [r["step"] for r in first] in ([], [STEPS_PER_EPOCH, CRASH_STEP])
    # evaluations at epochs 3..6; the last one arrives as the final report, with the test metrics
    assert [r["step"] for r in retry] == list(range(CRASH_STEP + STEPS_PER_EPOCH, 7 * STEPS_PER_EPOCH,
                                                    STEPS_PER_EPOCH))
    assert "test_accuracy" in retry[-1] and retry[-1]["epoch"] == 6.0 and "test_accuracy" not in retry[-2]
    assert all(r["resumed_from_step"] == CRASH_STEP for r in retry)
    assert crashed == first + retry
    assert not any("resumed_from_step" in r for r in reports if r["placement"] != CRASH_PLACEMENT)

    # the same numbers as an uninterrupted run (the Ray worker trains on one thread)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        backbone, task = load_experiment(cfg)
        reference, _ = train_placement(cfg, Placement.parse(CRASH_PLACEMENT), backbone, task)
    finally:
        torch.set_num_threads(threads)
    row = trials.set_index("placement").loc[CRASH_PLACEMENT]
    for key in ("val_accuracy", "test_accuracy", "best_val_accuracy", "val_loss", "test_loss", "train_loss"):
        assert row[key] == pytest.approx(getattr(reference, key), rel=1e-6), key
    curve = store.curves_frame("crash")
    curve = curve[curve["trial_id"] == row["trial_id"]]
    assert list(curve["step"]) == [p.step for p in reference.curve]  # six epochs, none twice
    assert list(curve["val_accuracy"]) == pytest.approx([p.val_accuracy for p in reference.curve], rel=1e-6)


def test_callback_records_stopped_trials_and_keeps_the_last_points_epoch(tmp_path):
    """A trial ASHA stopped never made its final report: 'stopped', the epochs it ran, no test
    accuracy. A finished trial's final report repeats the last step without epoch or lr: merged."""
    from placement_search.runners.tune_callback import StoreCallback

    store = open_store(str(tmp_path / "store.sqlite"))
    store.ensure_benchmark("k", {})
    store.create_search("s", "k", "random", 2, {}, {})
    callback = StoreCallback(store.url, "s", EdgeSpace(5, ("parallel",)), 0)
    points = [{"step": 14 * e, "epoch": float(e), "val_accuracy": 0.5 + e / 10, "val_loss": 1.0, "train_loss": 1.0,
               "lr": 1e-3} for e in (1, 2)]
    stopped = SimpleNamespace(trial_id="t-stop", last_result=points[0], checkpoint=None,
                              config={"placement": "0->1", "seed": 0})
    callback.on_trial_result(0, [], stopped, points[0])
    callback.on_trial_complete(0, [], stopped)
    final = {**points[1], "epoch": None, "lr": None, "test_accuracy": 0.6, "done": True}
    done = SimpleNamespace(trial_id="t-done", last_result=final, checkpoint=None, config={"placement": "1->2", "seed": 0})
    for result in (points[0], points[1], final):
        callback.on_trial_result(0, [], done, result)
    callback.on_trial_complete(0, [], done)
    trials = store.trials_frame("s").set_index("trial_key")
    assert trials.loc["t-stop", "status"] == "stopped" and trials.loc["t-stop", "epochs"] == 1.0
    assert pd.isna(trials.loc["t-stop", "test_accuracy"])
    assert trials.loc["t-done", "status"] == "completed" and trials.loc["t-done", "epochs"] == 2.0
    curve = store.curves_frame("s")
    assert list(curve.loc[curve["trial_key"] == "t-done", "epoch"]) == [1.0, 2.0]
    assert list(curve.loc[curve["trial_key"] == "t-done", "lr"]) == [1e-3, 1e-3]
