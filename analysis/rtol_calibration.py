"""Gradient-rank calibration against a stored exhaustive sweep (issue 4).

Scores every edge with each pooling (``tokens``, ``mean``) and three scoring seeds (other batches
and other head draws), then correlates the rank at each tolerance with the single-edge accuracy.
Writes ``<out>/<config>_rtol_calibration.csv`` (every combination, with bootstrap CIs),
``..._rtol_summary.csv`` (per pooling and rtol over seeds), ``..._score_agreement.csv`` and a plot,
and saves two score tables in the store: the preset's setting and the best-calibrated one.

    python analysis/rtol_calibration.py search_spaces/minilm_trec6.yaml --store sqlite:///analysis/results/minilm_trec6.sqlite
    python analysis/rtol_calibration.py search_spaces/dinov2s_fashion.yaml --store sqlite:///analysis/results/dinov2s_fashion.sqlite
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.analysis.calibration import calibration_summary, rtol_calibration, score_agreement  # noqa: E402
from placement_search.analysis.plots import plot_calibration  # noqa: E402
from placement_search.config import ScoringConfig, load_config  # noqa: E402
from placement_search.experiment import load_experiment  # noqa: E402
from placement_search.scoring import EdgeScores, score_edges  # noqa: E402
from placement_search.store import open_store  # noqa: E402
from placement_search.store.keys import benchmark_key, score_description, score_key  # noqa: E402

POOLINGS = ("tokens", "mean")
SEEDS = (0, 1, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args()
    cfg = load_config(args.config)
    store = open_store(args.store)
    gt = store.ground_truth(benchmark_key(cfg))
    if gt.empty:
        raise SystemExit(f"error: no exhaustive ground truth for {args.config} in {args.store}")
    backbone, task = load_experiment(cfg)
    tables = {}
    for pooling in POOLINGS:
        for seed in SEEDS:
            scoring = ScoringConfig(**{**vars(cfg.scoring), "pooling": pooling, "seed": seed})
            tables[(pooling, seed)] = score_edges(backbone, task.train, task.num_classes, scoring, progress=False)
            print(f"scored {pooling} seed {seed}", flush=True)
    calibration = rtol_calibration(tables, gt)
    if calibration["spearman"].isna().all():
        raise SystemExit(f"error: no correlation is defined ({len(gt)} ground-truth edges, or constant ranks); "
                         "calibrate against a sweep of at least 3 edges")
    summary = calibration_summary(calibration)
    agreement = score_agreement(tables, cfg.scoring.rtol)
    out = Path(args.out)
    stem = out / f"{cfg.name}_rtol"
    calibration.to_csv(f"{stem}_calibration.csv", index=False)
    summary.to_csv(f"{stem}_summary.csv", index=False)
    agreement.to_csv(f"{stem}_score_agreement.csv", index=False)
    plot_calibration(calibration, f"{cfg.name}: gradient rank vs single-edge accuracy").savefig(
        f"{stem}_calibration.png", dpi=110, bbox_inches="tight")
    # keep the preset's table and the calibrated one in the store: the report correlates both
    best = summary.iloc[0]
    for pooling, rtol in ((cfg.scoring.pooling, cfg.scoring.rtol), (best["pooling"], float(best["rtol"]))):
        variant = load_config(args.config, [f"scoring.pooling={pooling}", f"scoring.rtol={rtol}"])
        spectra = tables[(pooling, cfg.scoring.seed)]
        table = EdgeScores(spectra.singular_values, rtol, config=vars(variant.scoring).copy())
        store.save_scores(score_key(variant), score_description(variant), table.to_frame())
        print(f"saved score table pooling={pooling} rtol={rtol:g} as {score_key(variant)}")
    print(summary.to_string(index=False))
    print(agreement.groupby("pooling")["spearman"].agg(["mean", "min"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
