"""Does a user's sweep of a sibling task, added with ``search.prior_sources``, speed up prior-gp?

NYT editorials and Amazon reviews are the two MiniLM maps that chose nothing, and they are each
other's closest relatives among the eight (Spearman 0.70, analysis/results/task_dependence/).
Each is replayed here as a user would search it with the other's store named in
``search.prior_sources`` (``prior_sources.with_prior_sources``, the product's own path: the
shipped prior's kernel, the sibling added as a seventh source map), against the same search
without it, under the shipped defaults and the two options that read source maps edge for edge
(the backbone map, ``backbone_weight=1``; the source slopes, ``source_var=2``). 200 seeds,
ratios to random's median compute with bootstrap CIs, as ``searcher_selection.py --evaluate``.
Nothing here chooses a default.

    .venv/bin/python analysis/sibling_sources.py     # about 5 minutes on 2 CPUs

Output: analysis/results/searcher_selection/sibling_sources.csv.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import searcher_selection as ss  # noqa: E402

from placement_search.search.prior_sources import with_prior_sources  # noqa: E402
from placement_search.search.surrogate import prior_task_name  # noqa: E402
from placement_search.store.engine import sqlite_snapshot  # noqa: E402

RESULTS = ss.ROOT / "analysis/results"
PAIRS = (("minilm_nyt_sentiment", "minilm_amazon_sentiment"), ("minilm_amazon_sentiment", "minilm_nyt_sentiment"))
VARIANTS = (("shipped defaults", {}), ("backbone map (backbone_weight=1)", {"backbone_weight": 1.0}),
            ("source slopes (source_var=2)", {"source_var": 2.0}))
SEEDS, BUDGET = 200, 100


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        sources = ss.distinct([ss.load_ground_truth(p, Path(tmp)) for p in ss.SELECTION_STORES])
        targets = {name: ss.load_ground_truth(RESULTS / f"{name}.sqlite", Path(tmp)) for name, _ in PAIRS}
        siblings = {}  # each prior as a search builds it, read from a copy of the sibling's store
        for name, sibling in PAIRS:
            g = targets[name]
            (Path(tmp) / name).mkdir()
            copy = sqlite_snapshot(RESULTS / f"{sibling}.sqlite", Path(tmp) / name)
            shipped = ss.transfer_for(g, sources)
            siblings[name] = (shipped, with_prior_sources(shipped, [str(copy)], g.cfg.backbone.name, g.space.num_points,
                                                          g.benchmark, prior_task_name(g.cfg.backbone.name, g.cfg.task.name)))
    rows = []
    for name, sibling in PAIRS:
        g = targets[name]
        shipped, grown = siblings[name]
        random_runs = pd.DataFrame(ss.run_baseline("random", g, range(SEEDS), BUDGET))
        for label, changes in VARIANTS:
            params = ss.DEFAULT_PARAMS.replace(**changes)
            for with_sibling, prior in ((False, shipped), (True, grown)):
                runs = pd.DataFrame(ss.run_prior_gp(g, prior, params, range(SEEDS), BUDGET))
                row = {"store": name, "variant": label, "sibling_source": sibling if with_sibling else "",
                       "sources": len(prior.sources), "seeds": SEEDS, **ss.ratio_columns(runs, random_runs, rng)}
                rows.append(row)
                print(f"{name} {label} {'+ ' + sibling if with_sibling else '(shipped sources)'}: "
                      f"(a) {row['ratio_compute_top5']:.2f} [{row['ratio_compute_top5_lo']:.2f}, "
                      f"{row['ratio_compute_top5_hi']:.2f}], (b) {row['ratio_compute_noise']:.2f} "
                      f"[{row['ratio_compute_noise_lo']:.2f}, {row['ratio_compute_noise_hi']:.2f}]", flush=True)
    out = ss.OUT / "sibling_sources.csv"
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4f")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
