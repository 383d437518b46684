"""Per-trial overhead and driver memory of the search service on the embedded local Ray.

A random search of trivially short trials (tiny random-init BERT, one training step, 16
examples per split: a few milliseconds of compute each) runs through the real service path
(``run_search``: searcher + dedup wrapper, Ray Tune, the store callback writing SQLite) twice,
each in a fresh driver process so their memory peaks are separate:

    naive      a fresh Ray actor (worker process) per trial, so every trial imports torch and
               loads the backbone and task again (``reuse_actors=False``)
    optimised  the service as shipped: actors reused, backbone and task loaded once per worker

Per-trial overhead = (search wall time - trial compute) / trials. The compute is measured
in-process (``train_placement`` on the same config) and counted as running on all the instance's CPUs at once,
which subtracts as little as possible: the overhead is not understated. The wall time starts after
Ray is up and includes everything else (the driver's imports and backbone load, the workers' start,
Tune, the store). Also printed: the steady-state interval between trials (first to last trial
written to the store), which leaves start-up out. The naive variant runs fewer trials (a fresh
worker per trial takes seconds); per-trial figures are compared.

Driver memory = the driver's peak RSS during the search minus its RSS just before it (kernel
high-water mark, reset at the start), split into what was there when the first trial was stored
(imports, the driver's backbone load) and what the trials added after that.
Targets: optimised overhead < 1 s per trial on 2 CPUs; driver memory growth < 1 GiB over 1,000
trials (shorter runs project the part that grows with the trials to 1,000).

    python benchmarks/service_overhead.py               # 1,000 optimised + 100 naive trials
    python benchmarks/service_overhead.py --smoke-test  # 50 + 10 trials, a few minutes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "search_spaces" / "tiny.yaml"
#: K=3 of the tiny backbone's 25 edges: 2,300 distinct placements, so 1,000 random ones never repeat
OVERRIDES = [
    "space.k=3", "training.max_steps=1", "training.batch_size=16", "training.device=cpu",
    "task.train_samples=16", "task.validation_samples=16", "task.test_samples=16",
    "search.cpus_per_trial=1",
]
TARGET_OVERHEAD_S = 1.0
TARGET_MEMORY_GIB = 1.0
GIB = 2**30


# ----------------------------------------------------------------------------- driver memory


def _rss() -> int:
    """The process's resident set size in bytes (Linux /proc)."""
    return _status_kib("VmRSS") * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class PeakRSS:
    """The peak RSS from now on: the kernel's high-water mark reset at the start (Linux
    /proc/self/clear_refs), cross-checked by a sampling thread that also keeps (time, RSS) pairs."""

    def __init__(self, interval_s: float = 0.2):
        self.interval_s, self.samples = interval_s, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), _rss()))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self.hwm_reset = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.hwm_reset = True
        except OSError:
            pass
        self.baseline = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.end = _rss()
        peak = max([rss for _, rss in self.samples] + [self.end])
        if self.hwm_reset:
            peak = max(peak, _status_kib("VmHWM") * 1024)
        self.peak = peak

    def peak_until(self, when: float) -> int:
        """The highest sampled RSS up to the wall-clock time ``when``."""
        return max([rss for t, rss in self.samples if t <= when] or [self.baseline])


# ------------------------------------------------------------------------------- one variant


def run_variant(variant: str, trials: int, cpus: int, out: Path) -> None:
    """Run one search in this (fresh) process and write its measurements to ``out`` as JSON."""
    import ray

    from placement_search.config import load_config
    from placement_search.runners.ray_instance import init_ray
    from placement_search.search.service import RunOptions, run_search
    from placement_search.store import open_store

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    cfg = load_config(TINY, OVERRIDES)
    work = Path(tempfile.mkdtemp(prefix=f"service-overhead-{variant}-"))
    store_url = f"sqlite:///{work / 'store.sqlite'}"
    # the workers' temporary files (each checkpoint is staged in a temporary folder) go into the
    # work folder, removed below, so a killed run leaves nothing in /tmp; Ray's own temp dir stays put
    from ray._common.utils import get_default_system_temp_dir

    os.environ["RAY_TMPDIR"] = get_default_system_temp_dir()
    (work / "tmp").mkdir()
    os.environ["TMPDIR"] = str(work / "tmp")
    try:
        start = time.perf_counter()
        init_ray(None, cpus=cpus)
        ray_start_s = time.perf_counter() - start
        opts = RunOptions(searcher="random", num_samples=trials, name=f"overhead-{variant}", store=store_url,
                          storage_path=str(work / "tune"), seed=0, verbose=1,
                          reuse_actors=variant == "optimised")
        with PeakRSS() as mem:
            start_epoch, start = time.time(), time.perf_counter()
            run_search(cfg, opts)
            wall_s = time.perf_counter() - start
        frame = open_store(store_url).trials_frame(opts.name)
        stored_at = sorted(t.timestamp() for t in frame["created_at"])  # driver clock, when each was written
        result = {
            "variant": variant, "trials": trials, "cpus": cpus, "ray_start_s": ray_start_s, "wall_s": wall_s,
            "first_stored_s": stored_at[0] - start_epoch, "last_stored_s": stored_at[-1] - start_epoch,
            "rss_before": mem.baseline, "rss_peak": mem.peak, "rss_end": mem.end, "hwm_reset": mem.hwm_reset,
            "rss_at_first_trial": mem.peak_until(stored_at[0]),
            "stored": len(frame), "distinct_keys": int(frame["trial_key"].nunique()),
            "distinct_placements": int(frame["placement"].nunique()),
            "statuses": frame["status"].value_counts().to_dict(),
        }
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    out.write_text(json.dumps(result))


def spawn(variant: str, trials: int, cpus: int, log_dir: Path) -> dict:
    """Run ``variant`` in a fresh Python process (its own driver, its own Ray instance)."""
    out = log_dir / f"{variant}.json"
    log = log_dir / f"{variant}.log"
    cmd = [sys.executable, __file__, "--variant", variant, "--trials", str(trials), "--cpus", str(cpus),
           "--out", str(out)]
    print(f"running {variant}: {trials} trials (driver output in {log}) ...", flush=True)
    with open(log, "w") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if code != 0 or not out.is_file():
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise SystemExit(f"{variant} run failed (exit {code}); last lines of {log}:\n{tail}")
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------ trial compute


def trial_compute_s(samples: int) -> float:
    """Mean seconds one trial's own work takes in-process (train + eval on the benchmark config)."""
    import torch

    from placement_search.config import load_config
    from placement_search.experiment import edge_space, load_experiment
    from placement_search.placement.edges import Placement
    from placement_search.training import train_placement

    torch.set_num_threads(1)  # as in a worker with one CPU
    cfg = load_config(TINY, OVERRIDES)
    backbone, task = load_experiment(cfg)
    space = edge_space(cfg)
    rng = random.Random(0)
    placements = [Placement.of(rng.sample(space.edges, cfg.space.k)) for _ in range(samples + 3)]
    for p in placements[:3]:  # warm-up: first-call costs are not per-trial compute
        train_placement(cfg, p, backbone, task)
    start = time.perf_counter()
    for p in placements[3:]:
        train_placement(cfg, p, backbone, task)
    return (time.perf_counter() - start) / samples


# ------------------------------------------------------------------------------------- report


def summarise(r: dict, compute_s: float, slots: int) -> dict:
    n = r["trials"]
    compute_total = compute_s * n / slots
    overhead = (r["wall_s"] - compute_total) / n
    # steady state: between the first and the last trial written to the store (no start-up)
    interval = (r["last_stored_s"] - r["first_stored_s"]) / max(1, n - 1)
    growth = (r["rss_peak"] - r["rss_before"]) / GIB
    later = (r["rss_peak"] - r["rss_at_first_trial"]) / GIB  # what the trials themselves added
    print(f"{r['variant']:<9}: {n:>5} trials in {r['wall_s']:7.1f} s wall (Ray start {r['ray_start_s']:.1f} s "
          f"before it, not counted), compute {compute_total:5.1f} s -> overhead {overhead:6.3f} s/trial; "
          f"first trial stored after {r['first_stored_s']:.1f} s, then one every {interval:.3f} s")
    print(f"{'':<11}driver RSS {r['rss_before'] / GIB:.2f} GiB before the search, peak +{growth:.3f} GiB "
          f"(+{growth - later:.3f} GiB by the first stored trial: imports and the driver's backbone load; "
          f"+{later:.3f} GiB over the {n} trials); end +{(r['rss_end'] - r['rss_before']) / GIB:.3f} GiB")
    print(f"{'':<11}stored {r['stored']} trials ({r['distinct_keys']} distinct trial ids, "
          f"{r['distinct_placements']} distinct placements, {r['statuses']})")
    return {"overhead": overhead, "interval": interval, "growth": growth, "later": later}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="50 optimised + 10 naive trials")
    parser.add_argument("--trials", type=int, default=None, help="optimised trials (default 1000)")
    parser.add_argument("--naive-trials", type=int, default=None,
                        help="naive trials (default min(trials, 100): a fresh worker per trial takes seconds)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray instance")
    parser.add_argument("--compute-samples", type=int, default=30, help="in-process trials timed for compute")
    parser.add_argument("--variant", choices=("naive", "optimised"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    trials = args.trials or (50 if args.smoke_test else 1000)
    if args.variant:  # the child process: one search, measurements to --out
        run_variant(args.variant, trials, args.cpus, args.out)
        return 0
    naive_trials = args.naive_trials or min(trials, 10 if args.smoke_test else 100)
    slots = args.cpus  # one CPU per trial: at most this many trials run at once

    compute_s = trial_compute_s(args.compute_samples)
    print(f"trial compute in-process: {1000 * compute_s:.1f} ms per trial (mean of {args.compute_samples}), "
          f"counted as running {slots} at a time on {args.cpus} CPUs; this machine: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    log_dir = Path(tempfile.mkdtemp(prefix="service-overhead-logs-"))
    naive = spawn("naive", naive_trials, args.cpus, log_dir)
    optimised = spawn("optimised", trials, args.cpus, log_dir)

    print(f"config: {TINY.name} + {' '.join(OVERRIDES)}; random searcher; SQLite store; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    n = summarise(naive, compute_s, slots)
    o = summarise(optimised, compute_s, slots)
    ok_store = all(r["stored"] == r["trials"] == r["distinct_keys"] == r["distinct_placements"]
                   and r["statuses"] == {"completed": r["trials"]} for r in (naive, optimised))
    print(f"every trial stored exactly once, all completed: {ok_store}")
    if naive_trials != trials:
        print(f"(naive ran {naive_trials} trials, optimised {trials}: per-trial figures are compared)")
    ratio = n["overhead"] / o["overhead"] if o["overhead"] > 0 else math.inf
    steady = n["interval"] / o["interval"] if o["interval"] > 0 else math.inf
    print(f"overhead per trial, naive / optimised: {ratio:.1f}x (steady state, start-up excluded: {steady:.1f}x)")
    print(f"optimised overhead {o['overhead']:.3f} s/trial (target < {TARGET_OVERHEAD_S:.0f} s): "
          f"{'met' if o['overhead'] < TARGET_OVERHEAD_S else 'NOT met'}")
    # below 1,000 trials the part that grows with the trials is scaled up to 1,000
    projected = o["growth"] + max(0.0, o["later"]) * (1000 / trials - 1) if trials < 1000 else o["growth"]
    scaled = "" if trials >= 1000 else f" (projected to 1,000 trials: {projected:.3f} GiB)"
    print(f"optimised driver memory growth {o['growth']:.3f} GiB over {trials} trials{scaled} "
          f"(target < {TARGET_MEMORY_GIB:.0f} GiB): {'met' if projected < TARGET_MEMORY_GIB else 'NOT met'}")
    shutil.rmtree(log_dir, ignore_errors=True)
    return 0 if ok_store else 1


if __name__ == "__main__":
    sys.exit(main())
