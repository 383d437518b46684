"""The local runner: a Ray-free pool of worker processes on one machine (a GPU box, a laptop).

Why it exists: a machine that has PyTorch but no Ray (or where Ray's per-trial overhead matters,
such as many workers sharing one GPU) can still run any searcher and produce ground truth that
``run --runner tune`` would produce: the same searcher objects, the same records. Each trial is
recorded by this (driver) process the moment it ends, so a run stopped at any point loses nothing;
``resume`` (or running the same sweep again) trains only what the store lacks.

Several searches can share one pool (``run_many``), as ``analysis/placement_experiments.py`` does.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from placement_search.runners.base import RunnerOptions, SearchJob, disk_config
from placement_search.runners.outcome import TrialIdentity, identify, reused_record, trial_record

#: ``ray.tune.search.Searcher.FINISHED``, spelled out so that this runner never imports Ray: a
#: machine without Ray can drive it with any object that has ``suggest`` / ``on_trial_complete``
FINISHED = "FINISHED"


def _init_worker(threads: int, driver: int) -> None:
    import torch

    _exit_with_driver(driver)
    torch.set_num_threads(threads)


def _exit_with_driver(driver: int, every_s: float = 1.0) -> None:
    """End this worker when the driver process ``driver`` is gone. A driver killed by a signal never
    shuts its pool down, and an orphaned worker would train on, holding its memory and CPU, for a
    result nobody records (only the driver writes to the store)."""
    import threading

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


def _train_one(cfg_dict: dict, config: dict) -> dict:
    """Runs in a worker: train one trial config; failures come back as data, never as a crash."""
    from placement_search.config import config_from_dict
    from placement_search.experiment import edge_space, load_experiment
    from placement_search.runners.outcome import where_trained
    from placement_search.search.encoding import decode_placement
    from placement_search.store import error_line
    from placement_search.training import resolve_device, train_placement

    cfg = config_from_dict(cfg_dict)
    cfg.training.seed = int(config.get("seed", cfg.training.seed))
    where = where_trained(resolve_device(cfg.training.device))
    try:
        backbone, task = load_experiment(cfg)
        result, _ = train_placement(cfg, decode_placement(config, edge_space(cfg)), backbone, task)
    except Exception as exc:  # noqa: BLE001 - recorded as a failed trial, like a failed Tune trial
        return {"metrics": where, "error": error_line(exc)}  # text: not every exception pickles
    return {"metrics": {**result.metrics(), **where}, "curve": result.curve}


@dataclass
class _Search:
    job: SearchJob
    finished: bool = False
    running: dict[Future, tuple[str, TrialIdentity]] = field(default_factory=dict)


class LocalPoolRunner:
    def __init__(self, options: RunnerOptions):
        self.options = options

    def run(self, job: SearchJob) -> None:
        self.run_many([job])

    def run_many(self, jobs: list[SearchJob]) -> None:
        """Run several searches' trials in one pool, taking suggestions from each in turn."""
        workers = max(1, self.options.workers)
        searches = [_Search(job) for job in jobs]
        start, done = time.perf_counter(), 0
        for s in searches:
            s.job.store.set_search_status(s.job.name, "running")
        device = jobs[0].cfg.training.device if jobs else "cpu"
        print(f"local runner: {workers} worker process(es) on {device}", flush=True)
        if any(j.cfg.search.scheduler == "asha" for j in jobs):
            print("local runner: no early stopping, every trial runs to the end (search.scheduler asha "
                  "needs --runner tune)", flush=True)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                 initargs=(self.options.threads, os.getpid())) as pool:
            while True:
                out_of_time = bool(self.options.time_limit_s) and time.perf_counter() - start > self.options.time_limit_s
                for s in searches:
                    while not out_of_time and not s.finished and sum(len(x.running) for x in searches) < 2 * workers:
                        if not self._submit(pool, s):
                            break
                running = {f: s for s in searches for f in s.running}
                if not running:
                    break
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    s = running[future]
                    trial_id, trial = s.running.pop(future)
                    out = future.result()
                    self._record(s.job, trial_id, trial, out)
                    done += 1
                    error = out.get("error")
                    what = f"val {out['metrics']['val_accuracy']:.4f}" if error is None else str(error)[:80]
                    print(f"[{done} {time.perf_counter() - start:7.1f} s] {s.job.name}: {trial.placement or 'empty'} "
                          f"seed {trial.seed} {what}", flush=True)

    def _submit(self, pool: ProcessPoolExecutor, s: _Search) -> bool:
        """Ask the search's searcher for one more trial; False when it has none to give right now."""
        job = s.job
        trial_id = new_trial_key()
        config = job.searcher.suggest(trial_id)
        if config == FINISHED:
            s.finished = True
            return False
        if config is None:  # held back until a running duplicate finishes
            return False
        trial = identify(config, job.space, job.cfg.training.seed)
        if "reuse" in config:
            metrics = config["reuse"]["metrics"]
            job.store.record_trials([reused_record(job.store, job.name, trial_id, trial, metrics)])
            job.searcher.on_trial_complete(trial_id, result={**metrics, "placement": trial.placement})
            return True
        s.running[pool.submit(_train_one, disk_config(job.cfg), config)] = (trial_id, trial)
        return True

    @staticmethod
    def _record(job: SearchJob, trial_id: str, trial: TrialIdentity, out: dict) -> None:
        error = out.get("error")
        status = "failed" if error is not None else "completed"
        job.store.record_trials([trial_record(job.name, trial_id, trial, status, out["metrics"],
                                              out.get("curve", ()), error=error)])
        result = None if error is not None else {**out["metrics"], "placement": trial.placement, "seed": trial.seed}
        job.searcher.on_trial_complete(trial_id, result=result, error=error is not None)


def new_trial_key() -> str:
    return f"local_{uuid.uuid4().hex[:12]}"
