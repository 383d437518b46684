"""The Ray Tune runner: trials as Tune trials on the embedded local Ray or a cluster.

Each trial runs ``tune_trainable.run_trial`` in a Ray worker; ``tune_callback.StoreCallback``
records it on the driver when it ends. Tune keeps its experiment state under
``search.storage_path/NAME`` so a search whose driver died can be restored (``resume``).
"""

from __future__ import annotations

import os
from pathlib import Path

from placement_search.config import Config
from placement_search.runners.base import RunnerOptions, SearchJob, disk_config
from placement_search.runners.ray_instance import init_ray
from placement_search.search.searchers import METRIC, MODE

DEFAULT_STORAGE = "runs/tune"


def storage_root(cfg: Config) -> Path:
    return Path(cfg.search.storage_path or DEFAULT_STORAGE).absolute()


def trainable(cfg: Config):
    """The Tune trainable for ``cfg``'s trials, with the config's per-trial resources."""
    from ray import tune

    from placement_search.runners.tune_trainable import run_trial

    resources = {"cpu": cfg.search.cpus_per_trial, "gpu": cfg.search.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(run_trial, cfg_dict=disk_config(cfg)), resources)


def scheduler(cfg: Config):
    if cfg.search.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    # rungs in epochs, as replay simulates them; the last evaluation arrives with the final report
    # (tune_trainable.py), so a trial reaching max_t is finished, not stopped before its test
    by_epoch = {"time_attr": "epoch", "max_t": cfg.training.epochs} if cfg.training.max_steps is None else {}
    return ASHAScheduler(metric=METRIC, mode=MODE, grace_period=cfg.search.asha_grace_period,
                         reduction_factor=cfg.search.asha_reduction_factor, **by_epoch)


def run_config(job: SearchJob, experiment: str, verbose: int):
    from ray import tune

    from placement_search.runners.tune_callback import StoreCallback

    reporter = tune.CLIReporter(
        metric_columns={"placement": "placement", "val_accuracy": "val acc", "test_accuracy": "test acc",
                        "step": "step"},
        parameter_columns={"seed": "seed"},
        max_report_frequency=30,
        sort_by_metric=True,
        metric=METRIC,
        mode=MODE,
    )
    return tune.RunConfig(
        name=experiment,
        storage_path=str(storage_root(job.cfg)),
        callbacks=[StoreCallback(job.store.url, job.name, job.space, job.cfg.training.seed)],
        failure_config=tune.FailureConfig(max_failures=job.cfg.search.max_failures),
        # keep every (small: adapters + head) checkpoint: capping the number forces an experiment
        # snapshot per checkpoint, which dominates short trials
        checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
        progress_reporter=reporter,
        verbose=verbose,
    )


class TuneRunner:
    def __init__(self, options: RunnerOptions, experiment: str | None = None):
        self.options = options
        #: Tune's experiment folder name; a search continued from the store alone gets a new one
        self.experiment = experiment

    def run(self, job: SearchJob) -> None:
        from ray import tune

        # the classic reporter prints one compact table of placements; the new engine ignores it
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        init_ray(self.options.address, dashboard=self.options.dashboard)
        experiment = self.experiment or job.name
        tuner = tune.Tuner(
            trainable(job.cfg),
            tune_config=tune.TuneConfig(
                search_alg=job.searcher,
                scheduler=scheduler(job.cfg),
                num_samples=job.n_trials,
                max_concurrent_trials=job.cfg.search.max_concurrent,
                reuse_actors=self.options.reuse_actors,
            ),
            run_config=run_config(job, experiment, self.options.verbose),
        )
        job.store.set_search_status(job.name, "running", experiment_path=str(storage_root(job.cfg) / experiment))
        tuner.fit()


def restore(job: SearchJob, path: str, options: RunnerOptions) -> bool:
    """Continue a search from its Tune experiment folder; False when there is none to restore."""
    from ray import tune

    if not path or not tune.Tuner.can_restore(path):
        return False
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    init_ray(options.address, dashboard=options.dashboard)
    tuner = tune.Tuner.restore(path, trainable=trainable(job.cfg), resume_unfinished=True,
                               resume_errored=False, restart_errored=False)
    tuner.fit()
    return True
