"""analysis/prior_sources.py: every figure is held out (a store is never its own source), and the
two rows of a store differ only in the sources: the selection stores, or every other store.
Hand-made ground truths; no store, no training."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import prior_sources as ps  # noqa: E402
import searcher_selection as ss  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402


def _ground_truth(name: str, tilt: float) -> ss.GroundTruth:
    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    space = EdgeSpace(8, tuple(cfg.space.edge_types))
    acc = {e: 0.7 + 0.01 * tilt * e.destination + 0.001 * ((7 * i) % 11) for i, e in enumerate(space.edges)}
    scores = pd.DataFrame({"source": [e.source for e in space.edges], "destination": [e.destination for e in space.edges],
                           "rank": np.arange(len(space.edges), dtype=float)})
    gt = ss.GroundTruth(name, cfg, space, acc, scores, 0.005, 1.0, benchmark=name)
    gt.cost = lambda placement: 1.0
    return gt


def test_each_store_is_held_out_and_the_rows_differ_only_in_sources():
    gts = [_ground_truth("a", 1.0), _ground_truth("b", -1.0), _ground_truth("c", 0.5)]
    out = ps.compare_sources(gts, {"a", "b"}, seeds=3, random_seeds=5, budget=40, rng=np.random.default_rng(0))
    sources = {(r.store, r.sources): r.source_stores for r in out.itertuples()}
    assert sources == {("a", "selection stores"): "b", ("a", "every other store"): "b c",
                       ("b", "selection stores"): "a", ("b", "every other store"): "a c",
                       ("c", "selection stores"): "a b", ("c", "every other store"): "a b"}
    # the same sources give the same prior and the same replays
    c = out[out.store == "c"]
    assert c.ratio_compute_top5.nunique() == 1 and c.spearman_prior.nunique() == 1
    assert np.isfinite(out[[f"ratio_{m}" for m in ss.TARGETS]].to_numpy()).all()
