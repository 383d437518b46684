"""Run, resume and replay placement searches; the layer the CLI and the Python API share.

A search is validated completely (searcher name, sample count, store reachable, ground truth
present for replay) before anything is written. Then it is registered in the store and either
runs as Ray Tune trials (an embedded local Ray instance, or ``address`` for a cluster) with the
store callback recording each trial, or, in replay, runs the same searcher in-process against the
stored ground truth, which makes hundreds of seeded searches cost seconds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

from placement_search.config import Config, config_from_dict
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.placement.selection import Scores
from placement_search.search.benchmark import benchmark_description, benchmark_key
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.encoding import decode_placement
from placement_search.search.searchers import METRIC, make_searcher, parse_searcher
from placement_search.store import ResultsStore, TrialRecord, open_store

DEFAULT_STORAGE = "runs/tune"


@dataclass
class RunOptions:
    """What ``placement-search run`` takes besides the config (None = the config's value)."""

    searcher: str | None = None
    num_samples: int | None = None
    name: str | None = None
    store: str | None = None
    address: str | None = None
    replay: bool = False
    train_missing: bool = False
    seed: int | None = None
    max_concurrent: int | None = None
    storage_path: str | None = None
    verbose: int = 1
    #: keep a trial's Ray actor (its worker process, with the backbone and task loaded) for the
    #: next trial; False starts a fresh actor per trial (only benchmarks/service_overhead.py uses it)
    reuse_actors: bool = True


def _default_name(cfg: Config, searcher: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{cfg.name}-{searcher}-{stamp}")


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", name):
        raise PlacementSearchError(f"search name {name!r} is not allowed; use letters, digits, '.', '_' and '-'")
    return name


def edge_space(cfg: Config) -> EdgeSpace:
    from placement_search.loading import cached_backbone

    return EdgeSpace(cached_backbone(cfg.backbone).num_points, tuple(cfg.space.edge_types))


def score_provider(cfg: Config, store: ResultsStore) -> Callable[[], Scores]:
    """Lazily load the config's gradient-rank scores from the store, or compute and save them."""
    cache: dict[str, Scores] = {}

    def scores() -> Scores:
        if "s" not in cache:
            from placement_search.scoring import stored_or_computed_scores

            cache["s"] = stored_or_computed_scores(cfg, store)
        return cache["s"]

    return scores


@dataclass
class SearchSummary:
    name: str
    trials: pd.DataFrame
    best_placement: str | None
    best_val_accuracy: float | None
    test_at_best_val: float | None
    regret: float | None
    store_url: str


def summarize(store: ResultsStore, name: str) -> SearchSummary:
    """Best placement by validation accuracy, and regret against the stored ground truth."""
    record = store.get_search(name)
    trials = store.trials_frame(name)
    ok = trials[trials["status"].isin(["completed", "reused", "replayed"])] if len(trials) else trials
    best = ok.loc[ok["val_accuracy"].idxmax()] if len(ok) and ok["val_accuracy"].notna().any() else None
    regret = None
    if best is not None and store.has_ground_truth(record.benchmark_key):
        gt = store.ground_truth(record.benchmark_key)
        regret = float(gt["val_accuracy_mean"].max() - best["val_accuracy"])
    return SearchSummary(
        name=name,
        trials=trials,
        best_placement=None if best is None else best["placement"],
        best_val_accuracy=None if best is None else float(best["val_accuracy"]),
        test_at_best_val=None if best is None or pd.isna(best["test_accuracy"]) else float(best["test_accuracy"]),
        regret=regret,
        store_url=store.url,
    )


def _validate(cfg: Config, opts: RunOptions) -> tuple[str, int]:
    searcher = parse_searcher(opts.searcher or cfg.search.searcher)
    num_samples = opts.num_samples if opts.num_samples is not None else cfg.search.num_samples
    if num_samples < 1:
        raise PlacementSearchError(f"--num-samples must be at least 1, got {num_samples}")
    return searcher, num_samples


def run_search(cfg: Config, opts: RunOptions | None = None) -> SearchSummary:
    """Run one search to the end and return its summary (see module doc)."""
    opts = opts or RunOptions()
    searcher_name, num_samples = _validate(cfg, opts)
    name = _check_name(opts.name or _default_name(cfg, searcher_name))
    store = open_store(opts.store or cfg.search.store)
    key = benchmark_key(cfg)
    if opts.replay and not store.has_ground_truth(key):
        raise PlacementSearchError(
            f"no exhaustive ground truth in {store.url} for this config's benchmark key {key}; run "
            f"`placement-search run CONFIG --searcher exhaustive` with the same backbone, task, training and adapter "
            f"settings first"
        )
    seed = cfg.search.seed if opts.seed is None else opts.seed
    searcher, space, n_trials = build_searcher(cfg, store, name, searcher_name, num_samples, seed)
    store.ensure_benchmark(key, benchmark_description(cfg))
    options = {"seed": seed, "replay": opts.replay, "train_missing": opts.train_missing,
               "address": opts.address, "max_concurrent": opts.max_concurrent}
    store.create_search(name, key, searcher_name, n_trials, cfg.to_dict(), options)
    try:
        if opts.replay:
            _replay(cfg, store, name, key, searcher, n_trials, opts.train_missing)
        else:
            _tune(cfg, store, name, searcher, n_trials, space, opts)
    except KeyboardInterrupt:
        store.set_search_status(name, "interrupted")
        raise
    except BaseException:
        store.set_search_status(name, "failed")
        raise
    _finish(store, name, n_trials)
    return summarize(store, name)


def _finish(store: ResultsStore, name: str, n_trials: int) -> None:
    """Mark the search completed only when the store holds its whole budget of trials: Tune
    answers Ctrl-C by stopping and returning normally, which must leave the search resumable."""
    done = len(store.trials_frame(name))
    if done >= n_trials:
        store.set_search_status(name, "completed")
        return
    store.set_search_status(name, "interrupted")
    print(f"search {name} stopped after {done} of {n_trials} trials; continue it with "
          f"`placement-search resume {name}`")


def build_searcher(cfg: Config, store: ResultsStore, name: str, searcher_name: str, num_samples: int, seed: int):
    """The search's searcher, wrapped for duplicate reuse and store reconciliation."""
    space = edge_space(cfg)
    inner, n_trials = make_searcher(searcher_name, cfg, space, num_samples, seed, score_provider(cfg, store))
    searcher = DeduplicatingSearcher(inner, space, cfg.training.seed, n_trials,
                                     store.engine.url.render_as_string(hide_password=False), name)
    return searcher, space, n_trials


def _replay(cfg, store, name, key, searcher, n_trials, train_missing) -> None:
    """Drive the searcher in-process, answering each suggestion from the stored ground truth."""
    from ray.tune.search import Searcher

    records = []
    for i in range(n_trials):
        trial_id = f"replay_{i:05d}"
        config = searcher.suggest(trial_id)
        if config is None or config == Searcher.FINISHED:
            break
        placement = str(decode_placement(config, searcher.space))
        seed = int(config.get("seed", cfg.training.seed))
        status, reused = "replayed", None
        if "reuse" in config:
            metrics, status = config["reuse"]["metrics"], "reused"
        else:
            metrics = store.lookup(key, placement, seed)
            if metrics is None:
                if not train_missing:
                    raise PlacementSearchError(
                        f"placement {placement or 'empty'} (seed {seed}) is not in the stored results of benchmark "
                        f"{key}; pass --train-missing to train it, or use a searcher/K the ground truth covers"
                    )
                metrics, status = _train_now(cfg, placement, seed), "completed"
        searcher.on_trial_complete(trial_id, result={**metrics, "placement": placement, "seed": seed})
        records.append(TrialRecord(name, trial_id, placement, seed, status, metrics, (), None, reused, None))
    store.record_trials(records)


def _train_now(cfg: Config, placement: str, seed: int) -> dict:
    from placement_search.loading import load_experiment
    from placement_search.training import train_placement

    run_cfg = config_from_dict(cfg.to_dict())
    run_cfg.training.seed = seed
    backbone, task = load_experiment(run_cfg)
    result, _ = train_placement(run_cfg, Placement.parse(placement), backbone, task)
    return result.metrics()


def init_ray(address: str | None, cpus: int | None = None) -> None:
    """Connect to ``address``, or start an embedded single-machine Ray instance on loopback.

    Ray resolves 127.0.0.1 to the machine's interface address unless told the instance is a
    single-machine one (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), so the embedded instance sets
    that: nothing it starts listens beyond loopback. Token authentication stays as Ray sets it.
    """
    import ray

    if ray.is_initialized():
        return
    env = {k: v for k, v in os.environ.items() if k.startswith("PLACEMENT_SEARCH_")}
    runtime_env = {"env_vars": env} if env else None
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, logging_level="WARNING")
        except ConnectionError as exc:
            raise PlacementSearchError(f"cannot connect to the Ray cluster at {address} ({exc}); check the address") from None
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # for the worker processes
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] not in ("0", "false", "False")
    ray.init(num_cpus=cpus, include_dashboard=False, runtime_env=runtime_env, _node_ip_address="127.0.0.1",
             logging_level="WARNING")


def _tune(cfg: Config, store: ResultsStore, name: str, searcher, n_trials: int, space: EdgeSpace, opts: RunOptions):
    from ray import tune

    # the classic reporter prints one compact table of placements; the new engine ignores it
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    init_ray(opts.address)
    storage = Path(opts.storage_path or cfg.search.storage_path or DEFAULT_STORAGE).absolute()
    tuner = tune.Tuner(
        trainable(cfg),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=_scheduler(cfg),
            num_samples=n_trials,
            max_concurrent_trials=opts.max_concurrent or cfg.search.max_concurrent,
            reuse_actors=opts.reuse_actors,
        ),
        run_config=_run_config(cfg, store, name, space, storage, opts.verbose),
    )
    store.set_search_status(name, "running", experiment_path=str(storage / name))
    tuner.fit()


def trainable(cfg: Config):
    from ray import tune

    from placement_search.search.trainable import run_trial

    resources = {"cpu": cfg.search.cpus_per_trial, "gpu": cfg.search.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(run_trial, cfg_dict=cfg.to_dict()), resources)


def _scheduler(cfg: Config):
    if cfg.search.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(metric=METRIC, mode="max", grace_period=cfg.search.asha_grace_period,
                         reduction_factor=cfg.search.asha_reduction_factor)


def _run_config(cfg: Config, store: ResultsStore, name: str, space: EdgeSpace, storage: Path, verbose: int):
    from ray import tune

    from placement_search.search.callback import StoreCallback

    reporter = tune.CLIReporter(
        metric_columns={"placement": "placement", "val_accuracy": "val acc", "test_accuracy": "test acc",
                        "step": "step"},
        parameter_columns={"seed": "seed"},
        max_report_frequency=30,
        sort_by_metric=True,
        metric=METRIC,
        mode="max",
    )
    return tune.RunConfig(
        name=name,
        storage_path=str(storage),
        callbacks=[StoreCallback(store.engine.url.render_as_string(hide_password=False), name, space, cfg.training.seed)],
        failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
        # keep every (small: adapters + head) checkpoint: capping the number forces an experiment
        # snapshot per checkpoint, which dominates short trials
        checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
        progress_reporter=reporter,
        verbose=verbose,
    )


def resume_search(name: str, store_url: str | None = None, address: str | None = None, verbose: int = 1) -> SearchSummary:
    """Finish a search whose driver stopped; trials already in the store are not written again.

    With its Tune experiment folder at hand, Tune restores trials and searcher state. Without it
    (another machine, a later session), the search starts again from the store alone: the same
    searcher, seed and budget, with every stored trial counted and its result reused, so only the
    missing trials run.
    """
    from ray import tune

    store = open_store(store_url)
    record = store.get_search(name)
    if record.status == "completed":
        return summarize(store, name)
    cfg = config_from_dict(record.config)
    if record.options.get("replay"):
        raise PlacementSearchError(f"search {name} is a replay; replays take seconds, run it again under a new name")
    opts = RunOptions(address=address or record.options.get("address"), verbose=verbose,
                      max_concurrent=record.options.get("max_concurrent"))
    path = record.experiment_path
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    init_ray(opts.address)
    store.set_search_status(name, "running", experiment_path=path)
    try:
        if path and tune.Tuner.can_restore(path):
            tuner = tune.Tuner.restore(path, trainable=trainable(cfg), resume_unfinished=True,
                                       resume_errored=False, restart_errored=False)
            tuner.fit()
        else:
            seed = record.options.get("seed", cfg.search.seed)
            searcher, space, n_trials = build_searcher(cfg, store, name, record.searcher, record.num_samples, seed)
            searcher.reconcile_with_store()
            _tune(cfg, store, name, searcher, n_trials, space, opts)
    except BaseException:
        store.set_search_status(name, "interrupted")
        raise
    _finish(store, name, record.num_samples)
    return summarize(store, name)


__all__ = ["RunOptions", "SearchSummary", "run_search", "resume_search", "summarize"]
