"""The Ray Tune trainable: one trial trains one placement and reports as it goes.

Runs in a Ray worker process. The backbone and task are loaded once per process
(``experiment.load_experiment``) and reused by every later trial on it (``reuse_actors``). Each
validation is reported with a checkpoint: the trainable weights (adapters + head,
``model.safetensors``) and the rest of the training state (``train_state.pt``: optimizer, schedule,
batch position, curve). Schedulers can stop weak placements early, and a trial Tune retries
(``search.max_failures``) continues from its last checkpoint instead of starting over; its reports
then carry ``resumed_from_step``. Every report carries what the run has cost so far (epochs, wall
time, adapter parameters, inference cost, training FLOPs: placement/price.py), so a trial a
scheduler stops is recorded with its cost. The last report adds the test metrics. A trial whose placement the
search already trained carries ``reuse`` in its config (put there by the driver) and reports the
stored metrics without training.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch
from ray import tune
from safetensors.torch import load_file, save_file

from placement_search.config import config_from_dict
from placement_search.experiment import edge_space, load_experiment
from placement_search.placement.price import placement_price
from placement_search.runners.outcome import where_trained
from placement_search.search.encoding import decode_placement
from placement_search.training import EvalPoint, TrainState, resolve_device, schedule_length, train_placement

#: test hook: placements (canonical text, ';'-separated) whose training is made to diverge
INJECT_NAN_ENV = "PLACEMENT_SEARCH_INJECT_NAN"
#: test hook: "PLACEMENT@STEP" (';'-separated) makes a trial of PLACEMENT raise once, right after the
#: evaluation at STEP is reported; a marker in the trial folder keeps its retry from crashing again
INJECT_CRASH_ENV = "PLACEMENT_SEARCH_INJECT_CRASH"

WEIGHTS_FILE, STATE_FILE = "model.safetensors", "train_state.pt"

def save_train_state(state: TrainState, meta: dict[str, str], folder: str | Path) -> None:
    """Write a checkpoint folder: trainable weights (safetensors, ``export`` reads them) + the rest."""
    folder = Path(folder)
    save_file(state.weights, str(folder / WEIGHTS_FILE), metadata=meta)
    rest = {**vars(state), "weights": None, "curve": [vars(p) for p in state.curve]}
    torch.save(rest, folder / STATE_FILE)


def _report(metrics: dict, state: TrainState, meta: dict[str, str]) -> None:
    """Report with a checkpoint of ``state``; Tune copies the folder into the trial's storage before
    ``report`` returns, so the temporary folder goes away right after (Ray's documented pattern)."""
    with tempfile.TemporaryDirectory(prefix="placement-ckpt-") as tmp:
        save_train_state(state, meta, tmp)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))


def load_train_state(folder: str | Path) -> TrainState | None:
    """The training state of a checkpoint folder, or None for one without it (weights only)."""
    folder = Path(folder)
    if not (folder / STATE_FILE).is_file():
        return None
    rest = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    rest["curve"] = [EvalPoint(**p) for p in rest["curve"]]
    return TrainState(**{**rest, "weights": load_file(str(folder / WEIGHTS_FILE))})


def _crash_injected(placement: str, step: int) -> bool:
    """True the first time this trial reaches an evaluation named in ``INJECT_CRASH_ENV``."""
    if f"{placement}@{step}" not in os.environ.get(INJECT_CRASH_ENV, "").split(";"):
        return False
    marker = Path(tune.get_context().get_trial_dir()) / f"injected-crash-{step}"
    if marker.exists():
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return True


def run_trial(config: dict, cfg_dict: dict) -> None:
    """Train the placement ``config`` stands for under the search config ``cfg_dict``."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per checkpoint
    cfg = config_from_dict(cfg_dict)
    seed = int(config.get("seed", cfg.training.seed))
    where = where_trained(resolve_device(cfg.training.device))
    if "reuse" in config:
        reuse = config["reuse"]
        tune.report({**reuse["metrics"], "placement": reuse["placement"], "seed": seed, "reused_from": reuse["of"],
                     **where, "done": True})
        return
    torch.set_num_threads(max(1, int(float(os.environ.get("OMP_NUM_THREADS", "1")))))
    backbone, task = load_experiment(cfg)
    placement = decode_placement(config, edge_space(cfg))  # an undecodable config fails the trial
    text = str(placement)
    cfg.training.seed = seed
    if text in os.environ.get(INJECT_NAN_ENV, "").split(";"):
        cfg.adapter.scale = float("nan")
    meta = {"placement": text, "seed": str(seed), "benchmark": cfg.name}
    common = {"placement": text, "seed": seed, "k": len(placement), **where}
    price = placement_price(cfg, backbone, task, placement)
    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = load_train_state(folder)
    if resume is not None:
        common["resumed_from_step"] = resume.step
    latest = [resume]  # the state of the last evaluation, which the final report checkpoints again
    last_step = schedule_length(cfg.training, len(task.train))[1]
    final_point: list[EvalPoint] = []

    def report(point: EvalPoint, model, state) -> None:
        latest[0] = state()
        if point.step >= last_step:
            # the last evaluation goes out with the test metrics in the final report: a scheduler
            # deciding on it then sees a finished trial, never one it could stop before its test
            final_point.append(point)
            return
        # what the run has cost so far: a trial a scheduler stops after this report is recorded with it
        spent = {**price.metrics(point.epoch, len(latest[0].curve)), "epochs": point.epoch,
                 "wall_time_s": latest[0].elapsed_s}
        _report({**vars(point), **common, **spent}, latest[0], meta)
        if _crash_injected(text, point.step):
            raise RuntimeError(f"injected crash after step {point.step} ({INJECT_CRASH_ENV})")

    result, _ = train_placement(cfg, placement, backbone, task, on_eval=report, resume=resume)
    last = vars(final_point[-1]) if final_point else {}
    _report({**last, **result.metrics(), **common, "step": result.steps, "done": True}, latest[0], meta)
