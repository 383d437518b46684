"""Run, resume and replay placement searches; the layer the CLI and the Python API share.

A search is validated completely (searcher name, sample count, name, store reachable, ground
truth present for replay) before anything is written. Then it is registered in the store and
handed to a runner (runners/): Ray Tune (default), a Ray-free local process pool, or replay over
the stored ground truth. Whatever runs it, the search ends ``completed`` when the store holds its
whole budget, ``interrupted`` when it stopped short (resumable), and ``failed`` with a one-line
reason when no trial succeeded.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import pandas as pd

from placement_search.config import Config, config_from_dict
from placement_search.data import resolve_task_paths
from placement_search.errors import PlacementSearchError
from placement_search.experiment import edge_space
from placement_search.placement.edges import Edge
from placement_search.placement.selection import Scores
from placement_search.runners.base import RUNNERS, RunnerOptions, SearchJob, disk_config
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.searchers import PlacementListSearcher, make_searcher, parse_searcher
from placement_search.store import ResultsStore, benchmark_description, benchmark_key, best_trial, open_store

NAME_LIMIT = 128


@dataclass
class RunOptions(RunnerOptions):
    """What ``placement-search run`` takes besides the config: how to run (``RunnerOptions``), the
    search's name and runner, and overrides of ``cfg.search`` (None = the config's value), which
    ``fold_options`` folds into the config once."""

    searcher: str | None = None
    num_samples: int | None = None
    seed: int | None = None
    store: str | None = None
    max_concurrent: int | None = None
    storage_path: str | None = None
    name: str | None = None
    #: tune, local or replay
    runner: str = "tune"
    replay: bool = False
    #: search.objectives and the price limits (search/objectives.py)
    objectives: list[str] | None = None
    max_adapter_params: int | None = None
    max_inference_cost: float | None = None


_SEARCH_OVERRIDES = ("searcher", "num_samples", "seed", "store", "max_concurrent", "storage_path", "objectives",
                     "max_adapter_params", "max_inference_cost")


def runs_adaptively(searcher: str) -> bool:
    """Whether a scheduler may stop this searcher's trials early: not an exhaustive sweep or a
    baseline, whose every trial is a measurement to keep whole (ground truth, reference rows)."""
    return searcher != "exhaustive" and not searcher.startswith("baseline:")


def fold_options(cfg: Config, opts: RunOptions) -> tuple[Config, str, RunnerOptions]:
    """A copy of ``cfg`` with the options' search settings in it, the runner name and its options."""
    cfg = config_from_dict(cfg.to_dict())
    for key in _SEARCH_OVERRIDES:
        value = getattr(opts, key)
        if value is not None:
            setattr(cfg.search, key, value)
    cfg = config_from_dict(cfg.to_dict())  # the overrides are checked as the config's own values are
    if not runs_adaptively(cfg.search.searcher):
        cfg.search.scheduler = "fifo"
    runner = "replay" if opts.replay else opts.runner
    if runner not in RUNNERS:
        raise PlacementSearchError(f"unknown runner {runner!r}; use one of: {', '.join(RUNNERS)}")
    runner_fields = {f.name for f in fields(RunnerOptions)}
    return cfg, runner, RunnerOptions(**{k: getattr(opts, k) for k in runner_fields})


def _default_name(cfg: Config, searcher: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{cfg.name}-{searcher}-{stamp}")[-NAME_LIMIT:].lstrip("-_.")


def check_name(name: str) -> str:
    if len(name) > NAME_LIMIT:
        raise PlacementSearchError(f"search name is {len(name)} characters long; the limit is {NAME_LIMIT}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise PlacementSearchError(
            f"search name {name!r} is not allowed; start with a letter or digit and use letters, digits, "
            "'.', '_' and '-'"
        )
    return name


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
    #: the best trial against the ground truth of its benchmark key, in this store or a shipped one
    #: (``store.reference``: regret, percentile among single edges, where the ground truth is from)
    standing: dict | None = None


def summarize(store: ResultsStore, name: str) -> SearchSummary:
    """Best trial (``store.best_trial``'s rule), and where it stands against the ground truth of
    its benchmark key: the store's own, else one that ships with placement-search."""
    from placement_search.store.reference import ReferenceFinder

    trials = store.trials_frame(name)
    best = best_trial(trials)
    reference = None if best is None else ReferenceFinder(store).find(store.get_search(name).benchmark_key)
    standing = None if reference is None else reference.standing(float(best["val_accuracy"]))
    regret = None if standing is None else float(standing["regret"])
    return SearchSummary(
        name=name,
        trials=trials,
        best_placement=None if best is None else best["placement"],
        best_val_accuracy=None if best is None else float(best["val_accuracy"]),
        test_at_best_val=None if best is None or pd.isna(best["test_accuracy"]) else float(best["test_accuracy"]),
        regret=regret,
        store_url=store.url,
        standing=standing,
    )


def build_searcher(cfg: Config, store: ResultsStore, name: str, searcher_name: str, num_samples: int, seed: int):
    """The search's searcher, wrapped for duplicate reuse and store reconciliation."""
    space = edge_space(cfg)
    key = benchmark_key(cfg)

    def measured() -> dict:
        """Single edges this benchmark already measured (its ground truth): K > 1 warm starts."""
        gt = store.ground_truth(key)
        return {Edge.parse(p): float(a) for p, a in zip(gt["placement"], gt["val_accuracy_mean"]) if pd.notna(a)}

    inner, n_trials = make_searcher(searcher_name, cfg, space, num_samples, seed, score_provider(cfg, store),
                                    measured, study=(store.url, name))
    searcher = DeduplicatingSearcher(inner, space, cfg.training.seed, n_trials, store.url, name)
    return searcher, space, n_trials


def make_runner(runner: str, options: RunnerOptions, experiment: str | None = None):
    if runner == "tune":
        from placement_search.runners.tune import TuneRunner

        return TuneRunner(options, experiment)
    if runner == "local":
        from placement_search.runners.local_pool import LocalPoolRunner

        return LocalPoolRunner(options)
    from placement_search.runners.replay import ReplayRunner

    return ReplayRunner(options)


def run_search(cfg: Config, opts: RunOptions | None = None) -> SearchSummary:
    """Run one search to the end and return its summary (see module doc)."""
    cfg, runner, runner_options = fold_options(cfg, opts or RunOptions())
    searcher_name = parse_searcher(cfg.search.searcher)
    name = check_name((opts and opts.name) or _default_name(cfg, searcher_name))
    runtime = cfg
    if runner != "replay":  # a task the workers could not load fails here, before anything is written
        from placement_search.data.task import check_task
        from placement_search.experiment import cached_backbone

        runtime = resolve_task_paths(cfg)
        check_task(runtime.task, cached_backbone(runtime.backbone))
    if searcher_name == "prior-gp" and cfg.search.prior_sources:
        from placement_search.search.prior_sources import check_prior_sources

        check_prior_sources(cfg)
    store = open_store(cfg.search.store)
    key = benchmark_key(cfg)
    if runner == "replay" and not store.has_ground_truth(key):
        raise PlacementSearchError(
            f"no exhaustive ground truth in {store.url} for this config's benchmark key {key}; run "
            f"`placement-search run CONFIG --searcher exhaustive` with the same backbone, task, training and adapter "
            f"settings first"
        )
    seed = cfg.search.seed
    searcher, space, n_trials = build_searcher(cfg, store, name, searcher_name, cfg.search.num_samples, seed)
    store.ensure_benchmark(key, benchmark_description(cfg))
    options = {"seed": seed, "runner": runner, "replay": runner == "replay", "address": runner_options.address,
               "train_missing": runner_options.train_missing, "workers": runner_options.workers,
               "threads": runner_options.threads}
    store.create_search(name, key, searcher_name, n_trials, disk_config(cfg), options)
    job = SearchJob(runtime, store, name, searcher, n_trials, space)
    if runner_options.verbose:
        print(start_line(job, runner))
    _run(store, name, lambda: make_runner(runner, runner_options).run(job))
    return summarize(store, name)


def start_line(job: SearchJob, runner: str, experiment: str | None = None) -> str:
    """What a user needs at the start: the search's name, its store, and where the runner keeps state."""
    where = {"local": "local process pool", "replay": "replay of the stored ground truth"}.get(runner)
    if where is None:
        from placement_search.runners.tune import storage_root

        where = f"Tune folder {storage_root(job.cfg) / (experiment or job.name)}"
    study = getattr(getattr(job.searcher, "searcher", None), "study_location", None)  # tpe, gga-tpe, nsga2
    where += f", {study}" if study else ""
    prior_note = getattr(getattr(job.searcher, "searcher", job.searcher), "prior_note", None)  # prior-gp
    where += f"; {prior_note}" if prior_note else ""
    return (f"search {job.name}: {job.cfg.search.searcher}, {job.n_trials} trials, store {job.store.url}, {where}; "
            f"watch it with `placement-search show {job.name}"
            f"{'' if job.cfg.search.store is None else ' --store ' + job.store.url}`")


def _run(store: ResultsStore, name: str, run: Callable[[], None]) -> None:
    """Run and settle the search's status: Ctrl-C leaves it interrupted, a crash failed."""
    try:
        run()
    except KeyboardInterrupt:
        store.set_search_status(name, "interrupted")
        raise
    except BaseException:
        store.set_search_status(name, "failed")
        raise
    finish_search(store, name)


def finish_search(store: ResultsStore, name: str) -> None:
    """Mark the search completed only when the store holds its whole budget of trials (Tune
    answers Ctrl-C by stopping and returning normally, which must leave the search resumable), and
    failed, with the reason, when it has trials and none of them succeeded."""
    record = store.get_search(name)
    trials = store.trials_frame(name)
    if len(trials) and (trials["status"] == "failed").all():
        store.set_search_status(name, "failed")
        reason, count = Counter(trials["error"].fillna("no error message")).most_common(1)[0]
        raise PlacementSearchError(
            f"every trial of search {name} failed ({count} of {len(trials)}: {reason}); fix the cause, then "
            f"`placement-search resume {name} --retry-failed`"
        )
    if len(trials) >= (record.num_samples or 0):
        store.set_search_status(name, "completed")
        return
    store.set_search_status(name, "interrupted")
    print(f"search {name} stopped after {len(trials)} of {record.num_samples} trials; continue it with "
          f"`placement-search resume {name}`")


def planned_search(store: ResultsStore, cfg: Config, name: str, searcher_label: str, trials: list[tuple],
                   options: dict) -> SearchJob:
    """A search over a fixed list of (placement, seed[, label]) trials, for scripts that plan their
    own trials (analysis/sweep_local.py, analysis/placement_experiments.py). Run again with the same
    name, it continues: the trials the store already holds count and are not run again. Run again
    with another plan (a second stratum of edges, say), the stored trials outside it widen the
    budget instead of using it up, so the new plan runs whole.
    ``searcher_label`` is stored as the search's searcher (``exhaustive`` makes it ground truth).
    Every trial runs to the end (a planned trial is a measurement, not a candidate)."""
    cfg = config_from_dict(cfg.to_dict())
    cfg.search.scheduler = "fifo"
    key = benchmark_key(cfg)
    check_name(name)
    budget = len(trials)
    if store.has_search(name):
        record = store.get_search(name)
        if record.benchmark_key != key or record.searcher != searcher_label:
            raise PlacementSearchError(
                f"search {name} in {store.url} is not a {searcher_label} search of this config (benchmark key "
                f"{record.benchmark_key}, this config's {key}); pass another --name")
        planned = {(str(t[0]), int(t[1])) for t in trials}
        stored = store.trials_frame(name)
        budget += sum((p, int(s)) not in planned for p, s in zip(stored["placement"], stored["seed"], strict=True))
        if budget > (record.num_samples or 0):
            store.set_search_budget(name, budget)
    else:
        store.ensure_benchmark(key, benchmark_description(cfg))
        store.create_search(name, key, searcher_label, budget, disk_config(cfg), options)
    space = edge_space(cfg)
    searcher = DeduplicatingSearcher(PlacementListSearcher(list(trials)), space, cfg.training.seed, budget,
                                     store.url, name)
    searcher.reconcile_with_store()
    return SearchJob(cfg, store, name, searcher, budget, space)


def resume_search(name: str, store_url: str | None = None, address: str | None = None, verbose: int = 1,
                  retry_failed: bool = False) -> SearchSummary:
    """Finish a search whose driver stopped; trials already in the store are not run again.

    A Tune search with its experiment folder at hand is first restored by Tune (trials and
    searcher state). If the store still lacks trials after that (its folder is gone, or trials
    Tune counted as finished never reached the store), the search continues from the store alone:
    the same searcher, seed and budget, every stored trial counted and answering the searcher, so
    only the missing trials run. ``retry_failed`` first removes the failed trials, so they run again.
    """
    store = open_store(store_url, must_exist=True)
    record = store.get_search(name)
    if record.options.get("replay"):
        raise PlacementSearchError(f"search {name} is a replay; replays take seconds, run it again under a new name")
    if retry_failed:
        removed = store.delete_failed_trials(name)
        print(f"search {name}: {removed} failed trial(s) removed, to run again")
    elif record.status == "completed":
        return summarize(store, name)
    cfg = resolve_task_paths(config_from_dict(record.config))
    runner = record.options.get("runner", "tune")
    options = RunnerOptions(address=address or record.options.get("address"), verbose=verbose,
                            workers=record.options.get("workers", 1), threads=record.options.get("threads", 1))
    store.set_search_status(name, "running")

    def run() -> None:
        if runner == "tune" and not retry_failed:
            from placement_search.runners.tune import restore

            if restore(SearchJob(cfg, store, name, None, record.num_samples, edge_space(cfg)),
                       record.experiment_path, options) and len(store.trials_frame(name)) >= record.num_samples:
                return
        seed = record.options.get("seed", cfg.search.seed)
        searcher, space, n_trials = build_searcher(cfg, store, name, record.searcher, record.num_samples, seed)
        searcher.reconcile_with_store()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        make_runner(runner, options, experiment=f"{name}-resumed-{stamp}").run(
            SearchJob(cfg, store, name, searcher, n_trials, space))

    _run(store, name, run)
    return summarize(store, name)


__all__ = ["RunOptions", "SearchSummary", "run_search", "resume_search", "summarize"]
