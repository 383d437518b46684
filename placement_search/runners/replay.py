"""The replay runner: the searcher runs in-process and every trial is looked up, not trained.

Answers come from the trials stored under the search's benchmark key (the exhaustive ground
truth first), so hundreds of seeded searches cost seconds. A placement the store never measured
is an error, or, with ``train_missing``, is trained here and recorded as ``completed``.

Each stored learning-curve point is played back as Tune would see it: the searcher gets every
evaluation before the last through ``on_trial_result`` and the trial's result through
``on_trial_complete``. A replayed trial records ``epochs`` = the epoch of its last curve point
(the epoch of a point stored without one is its step over the steps per epoch).

Multi-fidelity: with ``search.scheduler: asha`` the replay runs Tune's own ``ASHAScheduler``
(``ray.tune.schedulers.async_hyperband``, driven without a Ray instance) over the stored curves,
with time attribute ``epoch``, ``max_t`` = the recipe's epochs and the config's grace period and
reduction factor. Trials run one after another, so each is compared at a rung with the trials
that reached that rung before it, as Tune's asynchronous ASHA does with one trial at a time. A
trial it stops is recorded ``stopped``: ``epochs`` = the epoch it stopped at, metrics from the curve
point there (best_val_accuracy the best up to it), no test metrics and no wall time, its curve up
to that point; the searcher gets those metrics, as Tune gives it a stopped trial's last result.
A trial that reaches the recipe's last epoch is ``replayed`` (it ran to the end).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from placement_search.config import Config, config_from_dict
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Placement
from placement_search.runners.base import RunnerOptions, SearchJob
from placement_search.runners.outcome import identify, trial_record, where_trained
from placement_search.store import TrialRecord, benchmark_key

METRIC, MODE = "val_accuracy", "max"
#: metrics a stopped trial did not produce
_NOT_REACHED = ("test_accuracy", "test_loss", "wall_time_s")


class ReplayRunner:
    """``stop``: an optional ``records -> bool`` asked after every trial (the records so far); True
    ends the search there (benchmarks/search_efficiency.py stops a replay once it has found what
    it measures)."""

    def __init__(self, options: RunnerOptions, stop: Callable[[Sequence[TrialRecord]], bool] | None = None):
        self.options = options
        self.stop = stop

    def run(self, job: SearchJob) -> None:
        from ray.tune.search import Searcher

        key = benchmark_key(job.cfg)
        asha = AshaReplay(job.cfg) if job.cfg.search.scheduler == "asha" else None
        records: list[TrialRecord] = []
        for i in range(job.n_trials):
            trial_id = f"replay_{i:05d}"
            config = job.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                break
            trial = identify(config, job.space, job.cfg.training.seed)
            curve: list[dict] = []
            if "reuse" in config:
                metrics, status = dict(config["reuse"]["metrics"]), "reused"
            else:
                metrics, status = job.store.lookup(key, trial.placement, trial.seed, with_curve=True), "replayed"
                if metrics is None:
                    if not self.options.train_missing:
                        raise PlacementSearchError(
                            f"placement {trial.placement or 'empty'} (seed {trial.seed}) is not in the stored results "
                            f"of benchmark {key}; pass --train-missing to train it, or use a searcher/K the ground "
                            "truth covers"
                        )
                    metrics, curve = train_now(job, trial.placement, trial.seed)
                    status = "completed"
                else:
                    curve = metrics.pop("curve")
                curve = with_epochs(curve, job.cfg)
                if curve:
                    metrics["epochs"] = curve[-1]["epoch"]
                stop_at = play_curve(job.searcher, trial_id, curve, asha)
                if stop_at is not None:
                    curve = curve[: stop_at + 1]
                    metrics, status = stopped_metrics(metrics, curve), "stopped"
            job.searcher.on_trial_complete(trial_id, result={**metrics, "placement": trial.placement,
                                                             "seed": trial.seed})
            records.append(trial_record(job.name, trial_id, trial, status, metrics, curve))
            if self.stop is not None and self.stop(records):
                break
        job.store.record_trials(records)


def play_curve(searcher, trial_id: str, curve: list[dict], asha: AshaReplay | None) -> int | None:
    """Report the curve's points as Tune would: every point before the last to the scheduler and
    (unless it stops the trial there) to the searcher. The index of the point ASHA stopped the
    trial at, or None when it ran to the end."""
    if asha is not None and curve:
        asha.add(trial_id, curve[-1]["epoch"])
    for index, point in enumerate(curve[:-1]):
        result = {METRIC: point["val_accuracy"], "epoch": point["epoch"], "step": point["step"],
                  "training_iteration": index + 1}
        if asha is not None and asha.on_result(trial_id, result):
            asha.complete(trial_id, result)
            return index
        searcher.on_trial_result(trial_id, result)
    if asha is not None and curve:
        last = curve[-1]
        asha.complete(trial_id, {METRIC: last["val_accuracy"], "epoch": last["epoch"], "step": last["step"],
                                 "training_iteration": len(curve)})
    return None


def with_epochs(curve: Sequence[Any], cfg: Config) -> list[dict]:
    """The curve as dicts, each point with its epoch: a point stored without one (version-1 stores
    left the last point's empty) gets step / steps-per-epoch, taken from the points that have both
    (else from the recipe: the last step is ``training.epochs``)."""
    points = [dict(vars(p)) if hasattr(p, "__dataclass_fields__") else dict(p) for p in curve]
    if not points:
        return points
    rates = [p["step"] / p["epoch"] for p in points if p.get("epoch") and p.get("step")]
    if rates:
        per_epoch = float(np.median(rates))
    else:
        per_epoch = points[-1]["step"] / float(cfg.training.epochs) if cfg.training.max_steps is None else 0.0
    for p in points:
        if p.get("epoch") is None or p["epoch"] != p["epoch"]:  # noqa: PLR0124 - NaN
            if not per_epoch:
                raise PlacementSearchError(f"curve point at step {p['step']} has no epoch and none can be derived")
            p["epoch"] = round(p["step"] / per_epoch, 6)
    return points


def stopped_metrics(metrics: dict, curve: list[dict]) -> dict:
    """A stopped trial's metrics: the last curve point's, the best val accuracy up to it, its epochs,
    its parameter counts and inference cost; no test metrics or wall time (it never got there). Its
    training FLOPs are the full run's in proportion to the epochs it ran (an estimate that still
    includes the full run's share of the test pass, at most a few per cent)."""
    last = curve[-1]
    out = {k: v for k, v in metrics.items() if k not in _NOT_REACHED}
    full = metrics.get("epochs")
    if out.get("train_flops") is not None and full:
        out["train_flops"] = out["train_flops"] * last["epoch"] / full
    out.update({"val_accuracy": last["val_accuracy"], "val_loss": last.get("val_loss"),
                "train_loss": last.get("train_loss"), "best_val_accuracy": max(p["val_accuracy"] for p in curve),
                "epochs": last["epoch"], "steps": last["step"]})
    return out


class _TrialRef:
    """What Tune's schedulers read of a trial: its id."""

    def __init__(self, trial_id: str):
        self.trial_id = trial_id


class AshaReplay:
    """Tune's ASHAScheduler over replayed curves (module doc). ``max_t`` is the recipe's epochs:
    ``training.epochs``, or with ``max_steps`` the last epoch of the first curve replayed."""

    def __init__(self, cfg: Config):
        self.grace = cfg.search.asha_grace_period
        self.rf = cfg.search.asha_reduction_factor
        self.max_t = float(cfg.training.epochs) if cfg.training.max_steps is None else None
        self.scheduler = None
        self.trials: dict[str, _TrialRef] = {}

    def add(self, trial_id: str, last_epoch: float) -> None:
        """A trial starts (``last_epoch``: where its curve ends, for a max_steps recipe's max_t)."""
        if self.scheduler is None:
            from ray.tune.schedulers import ASHAScheduler

            max_t = self.max_t if self.max_t is not None else float(last_epoch)
            if self.grace > max_t:
                raise PlacementSearchError(
                    f"search.asha_grace_period {self.grace} is longer than the recipe's {max_t:g} epochs; lower it")
            self.scheduler = ASHAScheduler(time_attr="epoch", metric=METRIC, mode=MODE, max_t=max_t,
                                           grace_period=self.grace, reduction_factor=self.rf)
        ref = self.trials[trial_id] = _TrialRef(trial_id)
        # Tune assigns a bracket with np.random.choice (one bracket: always it); numpy's global
        # generator is left as it was, so the replay perturbs nothing else
        state = np.random.get_state()
        try:
            self.scheduler.on_trial_add(None, ref)
        finally:
            np.random.set_state(state)

    def on_result(self, trial_id: str, result: dict) -> bool:
        """True when ASHA stops the trial at this result."""
        from ray.tune.schedulers import TrialScheduler

        return self.scheduler.on_trial_result(None, self.trials[trial_id], result) == TrialScheduler.STOP

    def complete(self, trial_id: str, result: dict) -> None:
        self.scheduler.on_trial_complete(None, self.trials.pop(trial_id), result)

    def debug_string(self) -> str:
        return "" if self.scheduler is None else self.scheduler.debug_string()


def train_now(job: SearchJob, placement: str, seed: int) -> tuple[dict, list]:
    """Train one placement in this process (replay's ``train_missing``)."""
    from placement_search.experiment import load_experiment
    from placement_search.training import resolve_device, train_placement

    cfg = config_from_dict(job.cfg.to_dict())
    cfg.training.seed = seed
    backbone, task = load_experiment(cfg)
    result, _ = train_placement(cfg, Placement.parse(placement), backbone, task)
    return {**result.metrics(), **where_trained(resolve_device(cfg.training.device))}, result.curve
