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


def trial_key(placement_text: str, seed: int) -> str:
    return f"local:{placement_text}:s{seed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--store", required=True, help="results store URL (sqlite:///... or postgresql://...)")
    parser.add_argument("--name", help="search name (default: <config name>-exhaustive)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--workers", type=int, default=1, help="trials trained at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--seeds", default=None, help="comma-separated training seeds (default: the config's)")
    parser.add_argument("--edges", default=None, help="comma-separated subset, e.g. '0->0,3->1' (default: all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--time-limit", type=float, default=None, help="stop submitting after this many seconds")
    args = parser.parse_args(argv)

    cfg = load_config(args.config, [*args.overrides, f"training.device={args.device}"])
    from placement_search.loading import cached_backbone

    space = EdgeSpace(cached_backbone(cfg.backbone).num_points, tuple(cfg.space.edge_types))
    edges = list(space.validate(Placement.parse(args.edges))) if args.edges else list(space.edges)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [cfg.training.seed]
    name = args.name or f"{cfg.name}-exhaustive"
    key = benchmark_key(cfg)
    store = open_store(args.store)
    store.ensure_benchmark(key, benchmark_description(cfg))
    wanted = {trial_key(str(Placement.of([e])), s): (str(Placement.of([e])), s) for s in seeds for e in edges}
    existing = set(store.list_searches().get("name", []))
    if name in existing:
        record = store.get_search(name)
        if record.benchmark_key != key or record.searcher != "exhaustive":
            raise PlacementSearchError(f"search {name} in {store.url} is not an exhaustive sweep of this config "
                                       f"(benchmark key {record.benchmark_key}, this config's {key}); pass another --name")
    else:
        store.create_search(name, key, "exhaustive", len(wanted), cfg.to_dict(),
                            {"runner": "analysis/sweep_local.py", "device": args.device, "workers": args.workers,
                             "seeds": seeds})
    done = store.completed_trial_keys(name)
    todo = [v for k, v in wanted.items() if k not in done]
    print(f"{name}: {len(wanted) - len(todo)} of {len(wanted)} trials already stored, {len(todo)} to train "
          f"on {args.device} with {args.workers} workers", flush=True)
    store.set_search_status(name, "running")
    start = time.perf_counter()
    finished = 0
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(cfg.to_dict(), args.threads)) as pool:
        queue = list(todo)
        running = set()
        while queue or running:
            while queue and len(running) < 2 * args.workers and not (
                    args.time_limit and time.perf_counter() - start > args.time_limit):
                running.add(pool.submit(_train_one, *queue.pop(0)))
            if not running:
                break
            ready, running = wait(running, return_when=FIRST_COMPLETED)
            for future in ready:
                out = future.result()
                ok = "error" not in out
                store.record_trial(name, trial_key(out["placement"], out["seed"]), out["placement"], out["seed"],
                                   "completed" if ok else "failed", metrics=out.get("metrics"),
                                   curve=out.get("curve", ()), error=out.get("error"), node=out["node"])
                finished += 1
                elapsed = time.perf_counter() - start
                acc = f"val {out['metrics']['val_accuracy']:.4f}" if ok else out["error"][:80]
                print(f"[{finished}/{len(todo)} {elapsed:7.1f} s] {out['placement']:>8} seed {out['seed']} {acc}",
                      flush=True)
    stored = len(store.completed_trial_keys(name) & set(wanted))
    store.set_search_status(name, "completed" if stored >= len(wanted) else "interrupted")
    print(f"{name}: {stored} of {len(wanted)} trials stored in {store.url} "
          f"({time.perf_counter() - start:.0f} s this run)", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
