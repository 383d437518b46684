"""Exhaustive single-edge sweep on one machine without Ray: N worker processes share one device.

Why it exists: a GPU box that has PyTorch but not Ray (or a laptop) can still produce the ground
truth the search service and the analysis read. Trials are recorded in the same store, under the
same benchmark key and with searcher ``exhaustive``, exactly as ``placement-search run CONFIG
--searcher exhaustive`` would record them; the two are interchangeable and can fill one search.
Each finished trial is written at once by this (driver) process, so a run stopped at any point
loses nothing: running the same command again trains only the edges still missing.

    python analysis/sweep_local.py search_spaces/dinov2s_fashion.yaml \
        --store sqlite:///analysis/results/dinov2s_fashion.sqlite --device cuda --workers 8
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import config_from_dict, load_config  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.placement.edges import EdgeSpace, Placement  # noqa: E402
from placement_search.search.benchmark import benchmark_description, benchmark_key  # noqa: E402
from placement_search.store import open_store  # noqa: E402

_CFG = None


def _init_worker(cfg_dict: dict, threads: int) -> None:
    global _CFG
    import torch

    torch.set_num_threads(threads)
    _CFG = config_from_dict(cfg_dict)


def _train_one(placement_text: str, seed: int) -> dict:
    """Runs in a worker: train one placement; failures come back as data, never as a crash."""
    import torch

    from placement_search.loading import load_experiment
    from placement_search.training import train_placement

    cfg = config_from_dict(_CFG.to_dict())
    cfg.training.seed = seed
    node = f"{socket.gethostname()}:{torch.cuda.get_device_name() if torch.cuda.is_available() and cfg.training.device != 'cpu' else 'cpu'}"
    try:
        backbone, task = load_experiment(cfg)
        result, _ = train_placement(cfg, Placement.parse(placement_text), backbone, task)
    except Exception as exc:  # recorded as a failed trial, like a failed Tune trial
        return {"placement": placement_text, "seed": seed, "error": f"{type(exc).__name__}: {exc}", "node": node}
    return {"placement": placement_text, "seed": seed, "metrics": result.metrics(), "curve": result.curve,
            "node": node}


def trial_key(placement_text: str, seed: int, label: str | None = None) -> str:
    return f"local:{label + ':' if label else ''}{placement_text}:s{seed}"


def open_local_search(store, name: str, searcher: str, cfg, n_trials: int, options: dict) -> None:
    """Create the search row (or check the existing one belongs to this config and searcher)."""
    key = benchmark_key(cfg)
    store.ensure_benchmark(key, benchmark_description(cfg))
    if name in set(store.list_searches().get("name", [])):
        record = store.get_search(name)
        if record.benchmark_key != key or record.searcher != searcher:
            raise PlacementSearchError(f"search {name} in {store.url} is not a {searcher} search of this config "
                                       f"(benchmark key {record.benchmark_key}, this config's {key}); pass another --name")
    else:
        store.create_search(name, key, searcher, n_trials, cfg.to_dict(), options)


def run_local(store, cfg, searches: dict[str, list[tuple[str, str, int]]], workers: int, threads: int = 1,
              time_limit: float | None = None) -> None:
    """Train every (trial key, placement, seed) not yet stored in its search, one process pool for all.

    Each trial is recorded the moment it ends; a search is marked completed when the store holds
    all its items, else interrupted (run the same command again to continue).
    """
    queue = []
    for name, items in searches.items():
        done = store.completed_trial_keys(name)
        todo = [(name, *item) for item in items if item[0] not in done]
        print(f"{name}: {len(items) - len(todo)} of {len(items)} trials already stored, {len(todo)} to train",
              flush=True)
        store.set_search_status(name, "running")
        queue += todo
    print(f"training {len(queue)} trials on {cfg.training.device} with {workers} workers", flush=True)
    start, finished, total = time.perf_counter(), 0, len(queue)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(cfg.to_dict(), threads)) as pool:
        running = {}
        while queue or running:
            while queue and len(running) < 2 * workers and not (
                    time_limit and time.perf_counter() - start > time_limit):
                name, key, text, seed = queue.pop(0)
                running[pool.submit(_train_one, text, seed)] = (name, key)
            if not running:
                break
            ready, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in ready:
                name, key = running.pop(future)
                out = future.result()
                ok = "error" not in out
                store.record_trial(name, key, out["placement"], out["seed"], "completed" if ok else "failed",
                                   metrics=out.get("metrics"), curve=out.get("curve", ()), error=out.get("error"),
                                   node=out["node"])
                finished += 1
                acc = f"val {out['metrics']['val_accuracy']:.4f}" if ok else out["error"][:80]
                print(f"[{finished}/{total} {time.perf_counter() - start:7.1f} s] {name}: "
                      f"{out['placement'] or 'empty'} seed {out['seed']} {acc}", flush=True)
    for name, items in searches.items():
        stored = len(store.completed_trial_keys(name) & {item[0] for item in items})
        store.set_search_status(name, "completed" if stored >= len(items) else "interrupted")
        print(f"{name}: {stored} of {len(items)} trials stored in {store.url}", flush=True)
    print(f"{finished} trials in {time.perf_counter() - start:.0f} s this run", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--store", required=True, help="results store URL (sqlite:///... or postgresql://...)")
    parser.add_argument("--name", help="search name (default: <config name>-exhaustive)")
    parser.add_argument("--searcher", default="exhaustive",
                        help="label stored with the search: 'exhaustive' is ground truth; use 'repeat' for extra "
                             "seeds that measure noise without entering the ground truth")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--workers", type=int, default=1, help="trials trained at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--seeds", default=None, help="comma-separated training seeds (default: the config's)")
    parser.add_argument("--edges", default=None, help="comma-separated subset, e.g. '0->0,3->1' (default: all)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="every N-th edge of the (canonical order of the) space or of --edges: a spread subset")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--time-limit", type=float, default=None, help="stop submitting after this many seconds")
    args = parser.parse_args(argv)

    cfg = load_config(args.config, [*args.overrides, f"training.device={args.device}"])
    from placement_search.loading import cached_backbone

    space = EdgeSpace(cached_backbone(cfg.backbone).num_points, tuple(cfg.space.edge_types))
    edges = list(space.validate(Placement.parse(args.edges))) if args.edges else list(space.edges)
    edges = edges[::args.every]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [cfg.training.seed]
    name = args.name or f"{cfg.name}-exhaustive"
    items = [(trial_key(str(Placement.of([e])), s), str(Placement.of([e])), s) for s in seeds for e in edges]
    store = open_store(args.store)
    open_local_search(store, name, args.searcher, cfg, len(items),
                      {"runner": "analysis/sweep_local.py", "device": args.device, "workers": args.workers,
                       "seeds": seeds})
    run_local(store, cfg, {name: items}, args.workers, args.threads, args.time_limit)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
