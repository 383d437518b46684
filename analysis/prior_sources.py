"""Does prior-gp gain from a transfer prior fitted on more source maps?

The shipped transfer prior is fitted on the six selection ground truths
(``searcher_selection.SELECTION_STORES``); the held-out maps (NYT editorials, Amazon reviews)
only check the searcher.
This script replays the shipped defaults on every store with the transfer prior fitted, leaving
that store out, on (1) the selection stores and (2) every other store in analysis/results/, so
each figure is held out (the store is never its own source) and the two rows differ only in the
sources. Same replays as ``searcher_selection.py --evaluate`` (in-process, a sampled sweep
searches its measured edges); ratio of median compute to random's (``--random-seeds`` seeds).

    .venv/bin/python analysis/prior_sources.py                     # 100 seeds, about 3 minutes on 2 CPUs

Output: analysis/results/searcher_selection/prior_sources.csv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import searcher_selection as ss  # noqa: E402

from placement_search.search.surrogate import DEFAULT_PARAMS  # noqa: E402


def compare_sources(gts: list[ss.GroundTruth], selection: set[str], seeds: int, random_seeds: int, budget: int,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Per store (held out) and source set: the prior's Spearman with the map (all measured edges,
    and the half the prior rates higher) and the default's median-compute ratios to random."""
    rows = []
    for g in gts:
        others = ss.sources_for(g, gts)
        random_runs = pd.DataFrame(ss.run_baseline("random", g, range(random_seeds), budget))
        edges = [e for e in g.space.edges if e in g.accuracy]
        acc = np.array([g.accuracy[e] for e in edges])
        for label, sources in (("selection stores", [o for o in others if o.name in selection]),
                               ("every other store", others)):
            prior = ss.transfer_for(g, sources)
            pred = prior.predict(edges, g.space.num_points)
            upper = pred >= np.median(pred)
            runs = pd.DataFrame(ss.run_prior_gp(g, prior, DEFAULT_PARAMS, range(seeds), budget))
            row = {"store": g.name, "sources": label, "source_stores": " ".join(o.name for o in sources),
                   "spearman_prior": spearmanr(pred, acc)[0],
                   "spearman_prior_upper_half": spearmanr(pred[upper], acc[upper])[0],
                   **ss.ratio_columns(runs, random_runs, rng)}
            rows.append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k != "source_stores"},
                  flush=True)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=100, help="prior-gp replays per store and source set")
    ap.add_argument("--random-seeds", type=int, default=200)
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--out", type=Path, default=ss.OUT / "prior_sources.csv")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        gts = ss.distinct([ss.load_ground_truth(p, Path(tmp), partial=True) for p in ss.ALL_STORES])
    out = compare_sources(gts, {p.stem for p in ss.SELECTION_STORES}, args.seeds, args.random_seeds, args.budget,
                          np.random.default_rng(0))
    out.to_csv(args.out, index=False, float_format="%.4f")
    print(out.pivot(index="store", columns="sources", values=[f"ratio_{m}" for m in ss.TARGETS]).round(2).to_string())


if __name__ == "__main__":
    main()
