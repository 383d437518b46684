"""Does prior-gp reach good edges with less compute when its score column is the probe head's nuclear norm?

Session 23 (``probe_head.py``) found the nuclear norm of the edge gradients through the trained
linear-probe head the best zero-cost column on average, but judged it by Spearman gains only. The
default searcher does not trust its score outright: it learns the score's slope from its trials.
This replays the default on the eight complete maps with its ``rank`` feature column replaced,
edge for edge, by that column, and with that column beside the rank, each with a learned slope
(both charged one extra epoch-equivalent for the probe), against the shipped default on the same
seeds, and applies the rule fixed before the replays in ``analysis/results/probe_scores/PLAN.md``
(``verdict``).

    .venv/bin/python analysis/probe_scores.py     # about 8 minutes on 2 CPUs (probe spectra cached after the first run)

Output: analysis/results/probe_scores/probe_scores.csv (one row per map and searcher: medians and
ratios to random with bootstrap 95 % intervals), probe_scores.png (the ratios per map) and
<store>_probe_spectra.csv (each map's spectrum columns through the probe head, the cache).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "analysis"))

import probe_head as ph  # noqa: E402
import searcher_selection as ss  # noqa: E402

OUT = ROOT / "analysis/results/probe_scores"
RESULTS = ROOT / "analysis/results"
SELECTION = tuple(p.stem for p in ss.SELECTION_STORES)
HELD_OUT = ("minilm_nyt_sentiment", "minilm_amazon_sentiment")
COLUMN = "nuclear_norm"  # session 23's hypothesis column
PROBE_EPOCHS = 1.0  # the rule's charge for the linear probe (PLAN.md); measured 1.1-3.9 with the prefix cache build, reported beside it
SEEDS, BUDGET = 200, 100
VARIANT, DEFAULT = "prior-gp, probe-head nuclear norm", "prior-gp (the default)"
#: PLAN.md's amendment: the fresh rank kept, the probe column added with a slope of its own
BOTH = "prior-gp, rank and probe-head nuclear norm"
#: the same replays charged the probe's measured CPU time instead (reported, not judged by the rule)
MEASURED = " (measured probe charge)"


def probe_spectra(name: str, gt) -> tuple[pd.DataFrame, float]:
    """The map's spectrum columns through the preset's linear-probe head and the probe's CPU
    seconds (one thread, prefix cache build included) in the cost table's unit; both cached in OUT."""
    import torch

    from placement_search.experiment import load_experiment
    from placement_search.search.cost import table_for_config

    cache, timed = OUT / f"{name}_probe_spectra.csv", OUT / "probe_cpu.json"
    shares = json.loads(timed.read_text()) if timed.exists() else {}
    if cache.exists() and name in shares:
        return pd.read_csv(cache), shares[name]
    backbone, task = load_experiment(gt.cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the cost table's timer: process CPU time on one thread
    start = time.process_time()
    head, _ = ph.probe_head(gt.cfg, backbone, task)
    seconds = time.process_time() - start
    torch.set_num_threads(threads)
    frame = ph.spectra(gt.cfg, backbone, task, head)
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(cache, index=False)
    table = table_for_config(gt.cfg, gt.space.num_points)
    if table.source != "measured":
        raise SystemExit(f"{name}: no measured cost table for {gt.cfg.backbone.name}; run benchmarks/edge_cost.py first")
    shares[name] = seconds / table.unit  # the measured table's unit: seconds per epoch of the average single edge
    timed.write_text(json.dumps(shares, indent=1, sort_keys=True) + "\n")
    return frame, shares[name]


def with_score_column(gt, spectra: pd.DataFrame):
    """``gt`` whose score table's ``rank`` column is ``spectra``'s COLUMN, edge for edge (a new name,
    so the replay's per-store caches keep the two apart)."""
    scores = gt.scores.drop(columns="rank").merge(
        spectra[["source", "destination", COLUMN]].rename(columns={COLUMN: "rank"}), on=["source", "destination"],
        how="left", validate="one_to_one")
    if scores["rank"].isna().any():
        raise SystemExit(f"{gt.name}: the probe spectra lack edges of the score table; delete the cache and rerun")
    return replace(gt, name=f"{gt.name}+probe", scores=scores)


def probe_column(gt, spectra: pd.DataFrame) -> np.ndarray:
    """PLAN.md's amendment: the probe column as normal scores, one row per edge of ``gt``'s space, for
    EdgeModel's per-column slope slot (``source_maps``; with ``source_var`` = trust_var its slope has
    the rank's prior variance)."""
    from placement_search.search.features import normal_scores

    column = spectra.set_index(["source", "destination"])[COLUMN]
    return normal_scores(column.loc[[(e.source, e.destination) for e in gt.space.edges]].to_numpy(float))[:, None]


#: the amendment's setting: the probe column's slope of prior variance trust_var, nothing else changed
BOTH_PARAMS = ss.DEFAULT_PARAMS.replace(source_var=ss.DEFAULT_PARAMS.trust_var)


def charged(runs: list[dict], epochs: float) -> list[dict]:
    """The replays with the probe's charge added to both compute figures (paid before the first trial)."""
    return [{**r, "compute_top5": r["compute_top5"] + epochs, "compute_noise": r["compute_noise"] + epochs} for r in runs]


def verdict(table: pd.DataFrame, variant: str = VARIANT) -> tuple[bool, dict[str, bool]]:
    """PLAN.md's rule for ``variant`` against the default on the sixteen figures (ratios to
    random's median compute)."""
    figs = [f"ratio_{m}" for m in ss.TARGETS]
    new, old = (table[table["searcher"] == s].set_index("store")[figs].astype(float) for s in (variant, DEFAULT))
    change = np.log(new / old)
    checks = {
        "never above 1x": bool((new <= 1.0).all().all()),
        "worst selection figure lower": bool(np.log(new.loc[list(SELECTION)]).max().max()
                                              < np.log(old.loc[list(SELECTION)]).max().max()),
        "more figures fall than rise": bool((change < 0).sum().sum() > (change > 0).sum().sum()),
        "held-out figures do not rise on balance": bool(change.loc[list(HELD_OUT)].sum().sum() <= 0),
    }
    return all(checks.values()), checks


def plot(table: pd.DataFrame, path: Path) -> None:
    """Each searcher's ratio to random per map and target, with its interval; the 1x and 0.5x lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stores = list(dict.fromkeys(table["store"]))
    searchers = ((DEFAULT, "tab:grey", "the default (fresh-head rank)"),
                 (VARIANT, "tab:blue", "swap: probe-head nuclear norm"),
                 (BOTH, "tab:orange", "both, a slope each"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (metric, target) in zip(axes, zip(ss.TARGETS, ("(a) a top-5 % edge", "(b) within a noise sd of the best")),
                                    strict=True):
        for k, (searcher, colour, label) in enumerate(searchers):
            r = table[table["searcher"] == searcher].set_index("store").loc[stores]
            x = np.arange(len(stores)) + (k - 1) * 0.27
            mid, lo, hi = (r[f"ratio_{metric}{end}"].to_numpy(float) for end in ("", "_lo", "_hi"))
            ax.bar(x, mid, 0.27, color=colour, label=label)
            ax.errorbar(x, mid, [mid - lo, hi - mid], fmt="none", ecolor="black", lw=0.7, capsize=1.5)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(0.5, color="black", lw=0.6, ls="--")
        ax.set_xticks(np.arange(len(stores)), [ph.short_name(s) for s in stores], rotation=25, fontsize=8)
        ax.set_title(f"{target}: median compute / random's (95 % CI)", fontsize=9)
    axes[0].set_ylabel("ratio to random")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=SEEDS)
    ap.add_argument("--only", nargs="+", metavar="STORE", help="these stores only (no verdict)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pool = ss.distinct([ss.load_ground_truth(p, Path(tmp)) for p in ss.SELECTION_STORES])
        by_name = {g.name: g for g in pool}
        for name in HELD_OUT:
            by_name[name] = ss.load_ground_truth(RESULTS / f"{name}.sqlite", Path(tmp))
    for name in args.only or (*SELECTION, *HELD_OUT):
        g = by_name[name]
        spectra, probe_share = probe_spectra(name, g)
        prior = ss.transfer_for(g, pool)
        seeds = range(args.seeds)
        random_runs = pd.DataFrame(ss.run_baseline("random", g, seeds, BUDGET))
        swap = ss.run_prior_gp(with_score_column(g, spectra), prior, ss.DEFAULT_PARAMS, seeds, BUDGET)
        both = ss.run_prior_gp(g, prior, BOTH_PARAMS, seeds, BUDGET, source_maps=probe_column(g, spectra))
        runs = {DEFAULT: (ss.run_prior_gp(g, prior, ss.DEFAULT_PARAMS, seeds, BUDGET), 0.0)}
        for variant, r in ((VARIANT, swap), (BOTH, both)):
            runs[variant] = (charged(r, PROBE_EPOCHS), PROBE_EPOCHS)
            runs[variant + MEASURED] = (charged(r, probe_share), probe_share)
        for searcher, (r, charge) in runs.items():
            frame = pd.DataFrame(r)
            row = {"store": name, "searcher": searcher, "seeds": args.seeds, **ss.summarize(r),
                   **ss.ratio_columns(frame, random_runs, rng)}
            rows.append({**row, "probe_charge": charge})
            print(f"{name} {searcher}: (a) {row['ratio_compute_top5']:.2f} [{row['ratio_compute_top5_lo']:.2f}, "
                  f"{row['ratio_compute_top5_hi']:.2f}], (b) {row['ratio_compute_noise']:.2f} "
                  f"[{row['ratio_compute_noise_lo']:.2f}, {row['ratio_compute_noise_hi']:.2f}]", flush=True)
        print(f"{name}: the linear probe took {probe_share:.2f} epoch-equivalents of CPU time, prefix cache "
              f"build included (the rule's charge: {PROBE_EPOCHS:g})", flush=True)
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only:
        return
    table.to_csv(OUT / "probe_scores.csv", index=False, float_format="%.4f")
    plot(table, OUT / "probe_scores.png")
    for variant in (VARIANT, BOTH):
        adopt, checks = verdict(table, variant)
        print(f"{variant}:")
        for check, ok in checks.items():
            print(f"  {'yes' if ok else 'no '}  {check}")
        print(f"  PLAN.md's rule: {'adopt' if adopt else 'not adopted'}")


if __name__ == "__main__":
    main()
