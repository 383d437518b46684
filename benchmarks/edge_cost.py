"""Relative cost of one training epoch per edge type, and of one gradient-rank scoring pass.

For each backbone preset, on one device, in one run: one epoch (training pass + validation, the
preset recipe, prefix cache on and warm, as a worker runs trials) of a stratified set of single
edges per type (spread over the sub-layers each re-runs, interleaved type by type so load from
elsewhere hits every type alike), then one scoring pass with the preset's scoring settings. The fit
``seconds = intercept[type] + slope * work`` (work = sub-layers a step re-runs, search/cost.py)
predicts every edge; the unit is its mean over all n^2 edges ("one epoch on the average edge").
The table goes to benchmarks/results/edge_cost.json, which placement_search/search/cost.py reads.

    python benchmarks/edge_cost.py                            # minilm_trec6 + dinov2s_fashion on CPU
    python benchmarks/edge_cost.py --presets minilm_trec6 --per-type 6
    python benchmarks/edge_cost.py --device cuda              # on a GPU
    python benchmarks/edge_cost.py --smoke-test               # tiny models, prints only

Torch runs with ``--threads`` threads (default 1: a trial gets one CPU, search.cpus_per_trial),
the scoring pass too, so both are timed alike. On a CPU the clock is the process's CPU time: with
one thread, what the work takes on an idle core even while other jobs share the machine (wall
times are kept beside it in the JSON); on a GPU it is synchronised wall time. The prefix cache's
one-off build per worker is timed and reported but not charged to trials (every searcher pays
it alike, once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import EDGE_TYPES, load_config  # noqa: E402
from placement_search.experiment import load_experiment  # noqa: E402
from placement_search.placement.edges import Edge, EdgeSpace, Placement  # noqa: E402
from placement_search.prefix_cache import cache_for  # noqa: E402
from placement_search.scoring import score_edges  # noqa: E402
from placement_search.search.cost import measured_table, work  # noqa: E402
from placement_search.training import train_placement  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "edge_cost.json"
PRESETS = ("minilm_trec6", "dinov2s_fashion")
SMOKE_PRESETS = ("tiny", "tiny_vision")


class _EpochDone(Exception):
    pass


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pick_edges(space: EdgeSpace, per_type: int) -> list[Edge]:
    """``per_type`` edges of each type, evenly spread over the work they cost (then source), taken
    in turn type by type."""
    n = space.num_points
    chosen: dict[str, list[Edge]] = {}
    for t in EDGE_TYPES:
        edges = sorted((e for e in space.edges if e.type == t), key=lambda e: (work(Placement.of([e]), n), e.source))
        if not edges:
            continue
        k = min(per_type, len(edges))
        idx = sorted({round(i * (len(edges) - 1) / max(1, k - 1)) for i in range(k)}) if k > 1 else [len(edges) // 2]
        chosen[t] = [edges[i] for i in idx]
    order = []
    for i in range(max(len(v) for v in chosen.values())):
        order += [v[i] for v in chosen.values() if i < len(v)]
    return order


class Clock:
    """Seconds of work: on a CPU the process's CPU time (with one torch thread, what the work takes
    on an idle core, whatever else the shared machine runs), on a GPU synchronised wall time.
    ``wall`` keeps the wall time too, for the record."""

    def __init__(self, device: torch.device):
        self.device = device
        self.name = "process CPU time" if device.type == "cpu" else "wall time (synchronised)"

    def __enter__(self):
        sync(self.device)
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        sync(self.device)
        self.wall = time.perf_counter() - self._wall
        self.seconds = time.process_time() - self._cpu if self.device.type == "cpu" else self.wall


def time_epoch(cfg, edge: Edge, backbone, task, device: torch.device) -> Clock:
    """Building the placed model, one epoch of training and its validation."""
    def stop(point, model, state) -> None:
        raise _EpochDone

    with Clock(device) as clock:
        try:
            train_placement(cfg, Placement.of([edge]), backbone, task, on_eval=stop)
        except _EpochDone:
            pass
    return clock


def fit(rows: list[dict]) -> dict:
    """Non-negative least squares (scipy's nnls: no cost is negative) of seconds on one intercept per
    type and a shared slope per sub-layer re-run."""
    from scipy.optimize import nnls

    types = [t for t in EDGE_TYPES if any(r["type"] == t for r in rows)]
    X = np.array([[1.0 if r["type"] == t else 0.0 for t in types] + [r["work"]] for r in rows])
    y = np.array([r["seconds"] for r in rows])
    coef, _ = nnls(X, y)
    pred = X @ coef
    r2 = 1 - float(((y - pred) ** 2).sum() / max(1e-12, ((y - y.mean()) ** 2).sum()))
    return {"intercept": {t: float(c) for t, c in zip(types, coef[:-1], strict=True)}, "slope": float(coef[-1]), "r2": r2,
            "max_abs_residual_s": float(np.abs(y - pred).max())}


def measure(preset: str, device: str, per_type: int, threads: int, smoke: bool) -> dict:
    cfg = load_config(ROOT / "search_spaces" / f"{preset}.yaml", [f"training.device={device}"])
    dev = torch.device(cfg.training.device if cfg.training.device != "auto" else device)
    backbone, task = load_experiment(cfg)
    backbone.to(dev)
    n = backbone.num_points
    space = EdgeSpace(n)
    edges = pick_edges(space, per_type)
    print(f"{preset}: {cfg.backbone.name}, {n} points, {len(space)} edges; task {cfg.task.name} "
          f"({len(task.train)} train / {len(task.validation)} validation examples); device {dev}, "
          f"{torch.get_num_threads()} torch thread(s); timing {len(edges)} edges x 1 epoch by "
          f"{Clock(dev).name}", flush=True)

    # the cache a worker builds once and keeps for all its trials: built here, timed, not charged
    cache = cache_for(backbone, int(cfg.training.prefix_cache_gb * 2**30))
    cache.clear()
    with Clock(dev) as clock:
        for name, split in (("train", task.train), ("validation", task.validation)):
            cache.points(f"{task.fingerprint}:{name}", split, n - 1, dev)
    cache_s = clock.seconds
    time_epoch(cfg, edges[0], backbone, task, dev)  # warm-up: allocator, thread pools, first-use costs

    rows = []
    for i, e in enumerate(edges):
        clock = time_epoch(cfg, e, backbone, task, dev)
        w = work(Placement.of([e]), n)
        rows.append({"edge": str(e), "type": e.type, "work": w, "seconds": clock.seconds, "wall_s": clock.wall})
        print(f"  {i + 1:>3}/{len(edges)} {str(e):>7} {e.type:<10} re-runs {w:4.0f} sub-layers  {clock.seconds:7.2f} s"
              f"  (wall {clock.wall:6.2f} s)", flush=True)

    score_edges(backbone, task.train, task.num_classes, cfg.scoring, progress=False)  # warm-up
    scoring = []
    for _ in range(2):
        with Clock(dev) as clock:
            score_edges(backbone, task.train, task.num_classes, cfg.scoring, progress=False)
        scoring.append(clock.seconds)
    scoring_s = min(scoring)

    model = fit(rows)
    entry = {"preset": preset, "backbone": cfg.backbone.name, "task": cfg.task.name, "num_points": n,
             "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
             "torch_threads": torch.get_num_threads(), "timer": Clock(dev).name, "train_examples": len(task.train),
             "validation_examples": len(task.validation), "batch_size": cfg.training.batch_size,
             "scoring": {"batch_size": cfg.scoring.batch_size, "num_batches": cfg.scoring.num_batches,
                         "pooling": cfg.scoring.pooling},
             "edges": rows, "fit": model, "scoring_seconds": scoring_s, "scoring_seconds_all": scoring,
             "prefix_cache_build_seconds": cache_s, "scoring_epochs": 0.0}
    table = measured_table(entry)
    entry["unit_seconds"] = table.unit
    entry["scoring_epochs"] = scoring_s / table.unit
    entry["relative_by_type"] = {
        t: float(np.mean([table.relative(Placement.of([e])) for e in space.edges if e.type == t]))
        for t in EDGE_TYPES if any(e.type == t for e in space.edges)}
    entry["relative_range"] = [min(table.relative(Placement.of([e])) for e in space.edges),
                               max(table.relative(Placement.of([e])) for e in space.edges)]
    for r in rows:
        r["relative"] = table.relative(r["edge"])
    print_entry(entry)
    return entry


def print_entry(entry: dict) -> None:
    f = entry["fit"]
    print(f"  fit: seconds/epoch = intercept[type] + {f['slope']:.3f} s x sub-layers re-run "
          f"(R^2 {f['r2']:.3f}, largest residual {f['max_abs_residual_s']:.2f} s); intercepts "
          + ", ".join(f"{t} {a:.2f} s" for t, a in f["intercept"].items()))
    print(f"  unit = one epoch on the average of the {entry['num_points'] ** 2} edges = {entry['unit_seconds']:.2f} s")
    print("  mean relative cost per epoch by type: "
          + ", ".join(f"{t} {v:.2f}" for t, v in entry["relative_by_type"].items())
          + f"; range over edges {entry['relative_range'][0]:.2f} .. {entry['relative_range'][1]:.2f}")
    print(f"  scoring pass: {entry['scoring_seconds']:.2f} s = {entry['scoring_epochs']:.2f} epoch-equivalents "
          f"(batch {entry['scoring']['batch_size']} x {entry['scoring']['num_batches']}, pooling "
          f"{entry['scoring']['pooling']})")
    print(f"  prefix cache build (once per worker, not charged): {entry['prefix_cache_build_seconds']:.2f} s = "
          f"{entry['prefix_cache_build_seconds'] / entry['unit_seconds']:.2f} epoch-equivalents", flush=True)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=None, help=f"comma-separated presets (default {','.join(PRESETS)})")
    parser.add_argument("--per-type", type=int, default=5, help="edges timed per edge type (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as one trial runs)")
    parser.add_argument("--out", default=None, help=f"JSON to update (default {DEFAULT_OUT.relative_to(ROOT)}; "
                                                    "--smoke-test writes nothing unless given)")
    parser.add_argument("--smoke-test", action="store_true", help="tiny models, 2 edges per type")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    presets = (args.presets.split(",") if args.presets else SMOKE_PRESETS if args.smoke_test else PRESETS)
    per_type = 2 if args.smoke_test else args.per_type
    entries = {p: measure(p, args.device, per_type, args.threads, args.smoke_test) for p in presets}
    out = Path(args.out) if args.out else None if args.smoke_test else DEFAULT_OUT
    if out is None:
        return 0
    data = json.loads(out.read_text()) if out.is_file() else {}
    data.setdefault("presets", {}).update(entries)
    data["schema"] = 1
    data["about"] = ("Relative cost per training epoch of single-edge trials and of one scoring pass, measured by "
                     "benchmarks/edge_cost.py; read by placement_search/search/cost.py.")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for e in entries.values():
        e["measured"] = f"{stamp}, commit {git_commit()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
