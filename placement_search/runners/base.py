"""The runner interface: how a search's trials get run, whatever runs them.

A search is a searcher (always wrapped in ``DeduplicatingSearcher``: budget, duplicate reuse,
reconciliation with the store) plus a store to record into. A runner asks the searcher for trial
configs, gets each one trained (or looked up) and records it through ``outcome.trial_record``:

    tune     Ray Tune on the embedded local Ray or a cluster (runners/tune.py)
    local    a Ray-free process pool on one machine, e.g. one GPU box (runners/local_pool.py)
    replay   answers from a stored ground truth, in-process, in seconds (runners/replay.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from placement_search.config import Config
from placement_search.placement.edges import EdgeSpace
from placement_search.store import ResultsStore, mask_url

RUNNERS = ("tune", "local", "replay")


@dataclass
class SearchJob:
    """One search as a runner sees it: everything is validated and the search row exists."""

    cfg: Config
    store: ResultsStore
    name: str
    searcher: object  # DeduplicatingSearcher
    n_trials: int
    space: EdgeSpace


@dataclass
class RunnerOptions:
    """How to run, not what to search (that is the config): one field per runner knob.

    address: Ray cluster (tune). verbose: Tune's console output. reuse_actors: keep a trial's
    worker (with the backbone loaded) for the next trial (tune; only benchmarks/service_overhead.py
    turns it off). workers / threads: processes and torch threads per process (local).
    time_limit_s: stop submitting new trials after this long (local). train_missing: train what the
    ground truth lacks instead of failing (replay). dashboard: Ray's dashboard for the embedded
    instance (tune; off by default: it adds processes a 2-CPU machine feels).
    """

    address: str | None = None
    verbose: int = 1
    reuse_actors: bool = True
    workers: int = 1
    threads: int = 1
    time_limit_s: float | None = None
    train_missing: bool = False
    #: serve Ray's dashboard on 127.0.0.1 for the embedded instance (tune)
    dashboard: bool = False


class Runner(Protocol):
    def run(self, job: SearchJob) -> None:
        """Run the job's trials until its searcher is finished (or the run is stopped)."""


def disk_config(cfg: Config) -> dict:
    """The config as it may leave the driver (store row, Tune state, workers, exports): the store
    URL's password masked. Nothing past the driver needs it."""
    out = cfg.to_dict()
    if out["search"].get("store"):
        out["search"]["store"] = mask_url(str(out["search"]["store"]))
    return out
