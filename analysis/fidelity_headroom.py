"""How much can stopping trials after one epoch save? The ceiling, from the stored learning curves.

ASHA (``search.scheduler: asha``, grace period 1 epoch) stops a trial whose one-epoch validation
accuracy ranks low among the trials before it. This script measures what that rule could save at
best, per ground truth, without replaying any searcher: an idealised halving that knows the
map's own one-epoch distribution (ASHA only estimates it from the trials it has seen) stops
every edge in the bottom ``q`` of it after epoch 1, at 1/epochs of the edge's price, and trains
the rest to the end. For a search that tries edges at random, the expected compute per target
edge found is (mean price of a trial) / (share of edges that are target edges *and* run to the
end), so

    factor(q) = mean price with stopping / mean price without  /  share of target edges kept

is what the rule multiplies random search's compute by. A factor near 1 means the one-epoch
signal pays for itself and no more; under 0.5 it alone would halve the compute. The same factor
applies to any searcher whose picks are independent of the one-epoch accuracy. Targets as the
benchmark's: (a) a top-5 % single edge, (b) one within a training-noise sd of the best. Prices:
search/cost.py's measured table per preset.

    .venv/bin/python analysis/fidelity_headroom.py          # every store in analysis/results/, seconds

Output: analysis/results/searcher_selection/fidelity_headroom.csv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))

import searcher_selection as ss  # noqa: E402

#: shares of the edges stopped after epoch 1 (ASHA's reduction factor 3 stops 2/3 at its first rung)
STOP_SHARES = (1 / 3, 1 / 2, 2 / 3)


def headroom_rows(gt: ss.GroundTruth, prices: np.ndarray, stop_shares=STOP_SHARES) -> list[dict]:
    """One row per target and stop share for ``gt`` (the edges with both a final and a one-epoch
    accuracy; ``prices``: each of ``gt.space.edges``' relative cost per epoch)."""
    edges = [e for e in gt.space.edges if e in gt.accuracy and e in gt.epoch1]
    if not edges:
        return []
    index = {e: i for i, e in enumerate(gt.space.edges)}
    price = np.asarray(prices, float)[[index[e] for e in edges]]
    final = np.array([gt.accuracy[e] for e in edges])
    quantile = (rankdata([gt.epoch1[e] for e in edges]) - 0.5) / len(edges)  # ties share a rank
    rows = []
    for target, threshold in (("top5", gt.top5), ("noise", gt.near_best)):
        hit = final >= threshold
        for q in stop_shares:
            stopped = quantile < q
            cost = float(np.where(stopped, price / gt.epochs, price).mean() / price.mean())
            kept = float((hit & ~stopped).sum() / hit.sum())
            rows.append({"store": gt.name, "target": target, "stop_share": round(q, 4), "edges": len(edges),
                         "target_edges": int(hit.sum()), "target_edges_kept": kept, "cost_per_trial": cost,
                         "factor": cost / kept if kept > 0 else np.inf})
    return rows


def main(argv: list[str] | None = None) -> None:
    from placement_search.search.surrogate import edge_costs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", action="append", type=Path, help="a store with a single-edge sweep (repeatable)")
    ap.add_argument("--out", type=Path, default=ss.OUT / "fidelity_headroom.csv")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        gts = ss.distinct([ss.load_ground_truth(p, Path(tmp), partial=True) for p in (args.store or ss.ALL_STORES)])
    table = pd.DataFrame([row for g in gts for row in headroom_rows(g, edge_costs(g.cfg, g.space))])
    if table.empty:
        raise SystemExit("error: no store holds single edges with a one-epoch curve point; run a sweep first")
    table.to_csv(args.out, index=False, float_format="%.4f")
    shown = table.assign(stop=table["stop_share"].map(lambda q: f"stop {q:.2f}"))
    print(shown.pivot(index=["store", "target"], columns="stop", values="factor").round(2).to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
