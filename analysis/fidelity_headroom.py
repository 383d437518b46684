"""How much can stopping trials after one epoch save? The ceiling on every committed ground truth.

The measure is ``placement_search.analysis.fidelity.stopping_headroom`` (its doc): an idealised
halving that knows each map's one-epoch quantiles stops the bottom share of the edges after
epoch 1 and trains the rest; ``factor`` is what that multiplies random search's compute to a
target by. Each store's report shows the same table ("What stopping after one epoch could
save"); this script collects it over stores, for the README. Targets as the benchmark's: (a) a
top-5 % single edge, (b) one within a training-noise sd of the best (the store's measured sd).
Prices: search/cost.py's table for the benchmark's backbone and task.

    .venv/bin/python analysis/fidelity_headroom.py          # every store in analysis/results/, seconds

Output: analysis/results/searcher_selection/fidelity_headroom.csv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "analysis/results/searcher_selection/fidelity_headroom.csv"


def load_copy(path: Path):
    """The results of the store at ``path``, read from a temporary copy: opening a store may
    migrate it in place, and the committed files stay untouched."""
    from placement_search.analysis import load_results
    from placement_search.store.engine import sqlite_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        return load_results(sqlite_snapshot(path, Path(tmp)))


def store_headroom(path: Path) -> pd.DataFrame:
    """The one-epoch ceiling of every ground truth in the store at ``path`` (``load_copy``)."""
    from placement_search.analysis import benchmark_headroom
    from placement_search.analysis.experiments import training_noise
    from placement_search.analysis.regret import near_best_threshold, top_fraction_threshold

    results = load_copy(path)
    frames = []
    for key, gt in results.ground_truth.items():
        sd, _ = training_noise(results.trials[results.trials["benchmark_key"] == key])
        thresholds = {"top5": top_fraction_threshold(gt, 0.05), "noise": near_best_threshold(gt, sd)}
        frames.append(benchmark_headroom(results, key, thresholds).assign(store=path.stem, benchmark_key=key))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", action="append", type=Path, help="a store with a single-edge sweep (repeatable; "
                    "default: every .sqlite in analysis/results/)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    table = pd.concat([store_headroom(p) for p in (args.store or sorted((ROOT / "analysis/results").glob("*.sqlite")))],
                      ignore_index=True)
    if table.empty:
        raise SystemExit("error: no store holds single edges with a one-epoch curve point; run an exhaustive sweep")
    table = table[["store", "benchmark_key", *[c for c in table.columns if c not in ("store", "benchmark_key")]]]
    table.to_csv(args.out, index=False, float_format="%.4f")
    shown = table.assign(stop=table["stop_share"].map(lambda q: f"stop {q:.2f}"))
    print(shown.pivot_table(index=["store", "target"], columns="stop", values="factor").round(2).to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
