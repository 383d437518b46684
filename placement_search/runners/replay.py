"""The replay runner: the searcher runs in-process and every trial is looked up, not trained.

Answers come from the trials stored under the search's benchmark key (the exhaustive ground
truth first), so hundreds of seeded searches cost seconds. A placement the store never measured
is an error, or, with ``train_missing``, is trained here and recorded as ``completed``.
"""

from __future__ import annotations

from placement_search.config import config_from_dict
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Placement
from placement_search.runners.base import RunnerOptions, SearchJob
from placement_search.runners.outcome import identify, trial_record, where_trained
from placement_search.store import benchmark_key


class ReplayRunner:
    def __init__(self, options: RunnerOptions):
        self.options = options

    def run(self, job: SearchJob) -> None:
        from ray.tune.search import Searcher

        key = benchmark_key(job.cfg)
        records = []
        for i in range(job.n_trials):
            trial_id = f"replay_{i:05d}"
            config = job.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                break
            trial = identify(config, job.space, job.cfg.training.seed)
            curve = ()
            if "reuse" in config:
                metrics, status = config["reuse"]["metrics"], "reused"
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
            job.searcher.on_trial_complete(trial_id, result={**metrics, "placement": trial.placement,
                                                             "seed": trial.seed})
            records.append(trial_record(job.name, trial_id, trial, status, metrics, curve))
        job.store.record_trials(records)


def train_now(job: SearchJob, placement: str, seed: int) -> tuple[dict, list]:
    """Train one placement in this process (replay's ``train_missing``)."""
    from placement_search.experiment import load_experiment
    from placement_search.training import resolve_device, train_placement

    cfg = config_from_dict(job.cfg.to_dict())
    cfg.training.seed = seed
    backbone, task = load_experiment(cfg)
    result, _ = train_placement(cfg, Placement.parse(placement), backbone, task)
    return {**result.metrics(), **where_trained(resolve_device(cfg.training.device))}, result.curve
