"""How much of each single-edge map the edge's source and destination points explain.

    .venv/bin/python analysis/map_structure.py                      # every store in analysis/results/
    .venv/bin/python analysis/map_structure.py --store a.sqlite

Per ground truth (a sweep still in progress counts with the edges it has): R^2 and leave-one-out
R^2 of additive models with a level per source point, per destination point and both
(``placement_search.analysis.map_structure``), over all edges and over the upper half of the edges
by the transfer prior fitted on the *other* selection stores (the region a search spends its trials
in, where the prior itself explains next to nothing). This is the evidence for prior-gp's row and
column kernel terms (``PriorGPParams.axis_var``). Outputs ``analysis/results/map_structure.csv``
and a markdown table on stdout (the README's).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import searcher_selection as ss  # noqa: E402

from placement_search.analysis import map_structure  # noqa: E402


def structure_rows(gt: ss.GroundTruth, prior) -> pd.DataFrame:
    """``map_structure`` over all measured edges, and over the upper half by ``prior`` (a TransferPrior)."""
    edges = [e for e in gt.space.edges if e in gt.accuracy]
    frame = pd.DataFrame({"source": [e.source for e in edges], "destination": [e.destination for e in edges],
                          "val_accuracy_mean": [gt.accuracy[e] for e in edges],
                          "prior": np.asarray(prior.predict(edges, gt.space.num_points), float)})
    upper = frame[frame["prior"] >= frame["prior"].median()]
    return pd.concat([map_structure(frame).assign(edges_kept="all"),
                      map_structure(upper, prior="prior").assign(edges_kept="prior's upper half")]).assign(store=gt.name)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", action="append", type=Path, help="a store with a single-edge sweep (repeatable)")
    ap.add_argument("--out", type=Path, default=ss.ROOT / "analysis/results/map_structure.csv")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        gts = ss.distinct([ss.load_ground_truth(p, Path(tmp), partial=True) for p in (args.store or ss.ALL_STORES)])
        selection = [ss.load_ground_truth(p, Path(tmp)) for p in ss.SELECTION_STORES]
    rows = [structure_rows(g, ss.transfer_for(g, selection)) for g in gts]
    table = pd.concat(rows)[["store", "edges_kept", "model", "edges", "parameters", "r2", "loo_r2"]]
    table.to_csv(args.out, index=False, float_format="%.4f")
    stores = list(dict.fromkeys(table["store"]))
    lines = ["| edges | model (R^2 / leave-one-out R^2) | " + " | ".join(stores) + " |", "|---" * (len(stores) + 2) + "|"]
    for (kept, model), g in table.groupby(["edges_kept", "model"], sort=False):
        cells = g.set_index("store")
        lines.append(f"| {kept} | {model} | " + " | ".join(
            f"{cells.loc[s, 'r2']:.2f} / {cells.loc[s, 'loo_r2']:.2f}" if s in cells.index else "–" for s in stores) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
