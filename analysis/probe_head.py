"""Do the gradient spectra predict single-edge accuracy better through a trained head? Measured.

The gradient-rank score (DESIGN.md §6) takes every edge's gradient through a *seeded fresh head*,
a random classifier, so its loss gradients point where a random head would like the stream to
move. The linear probe's head is nearly free (the preset recipe with no edges trains on cached
pooled features: seconds) and is what an adapter's training starts working with. This scores every
complete ground truth's edges through both heads (the preset's scoring batches, rows and seed;
``score_edges(head=...)``) and reports the Spearman of every spectrum column with the map, with a
bootstrap 95 % interval (2,000 resamples, as ``searcher_selection.py``'s proxy study), and how
many trials trying the edges in the column's order takes to reach a top-5 % edge (``first_hit``),
against random search's expectation.

The plan and its reading rule were written before any map but TREC-6 (the development map) was
scored: ``analysis/results/probe_head/PLAN.md``. ``verdict`` applies that rule.

    .venv/bin/python analysis/probe_head.py --scoring-seeds 1 2    # the eight complete maps, about 5 minutes

Output: analysis/results/probe_head/probe_head.csv (one row per map, head and column),
probe_head_scoring_seeds.csv (the same per scoring seed, with --scoring-seeds) and
probe_head.png (the nuclear norm's Spearman through each head, per map).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "analysis"))

import searcher_selection as ss  # noqa: E402

OUT = ROOT / "analysis/results/probe_head"
RESULTS = ROOT / "analysis/results"
#: the complete maps: the six that chose the defaults, then the two held-out ones
STORES = (*(p.stem for p in ss.SELECTION_STORES),
          "minilm_nyt_sentiment", "minilm_amazon_sentiment")
DEVELOPMENT = "minilm_trec6"  # the only map seen before PLAN.md was written
HYPOTHESIS = "nuclear_norm"  # the development map's best column through the probe head
MARGIN = 0.1  # the plan's "holds": the probe head's Spearman above the fresh head's by more than this
NEEDED = 5  # of the seven maps other than the development one


def probe_head(cfg, backbone, task):
    """The trained linear probe's head: the config's recipe with no edges (its own seed)."""
    from placement_search.placement.edges import Placement
    from placement_search.training import train_placement

    result, model = train_placement(cfg, Placement.of([]), backbone, task)
    return model.head, result.val_accuracy


def spectra(cfg, backbone, task, head=None) -> pd.DataFrame:
    """Every edge's spectrum columns (search/features.py's score frame) through ``head``, or
    through the seeded fresh head when it is None (the shipped score table)."""
    from placement_search.scoring import score_edges
    from placement_search.search.features import score_table_frame

    return score_table_frame(score_edges(backbone, task.train, task.num_classes, cfg.scoring,
                                         progress=False, head=head).to_frame())


def first_hit(values: np.ndarray, hits: np.ndarray) -> float:
    """Trials until the first hit when edges are tried in descending ``values`` (ties in random
    order: the expectation). What a searcher that trusted the column outright would pay; random
    search pays (n + 1) / (hits + 1)."""
    before = 0
    for v in np.unique(values)[::-1]:
        group = values == v
        h = int(hits[group].sum())
        if h:
            return before + (group.sum() + 1) / (h + 1)
        before += int(group.sum())
    return float("nan")


def correlations(name: str, frames: dict[str, pd.DataFrame], accuracy: dict, seed: int = 0) -> pd.DataFrame:
    """Spearman [95 % CI] of each spectrum column with the map's accuracy, per head, and the trials
    until a top-5 % edge when the edges are tried in the column's order (``first_hit``)."""
    from placement_search.analysis.regret import top_fraction_threshold
    from placement_search.placement.edges import Edge
    from placement_search.search.features import score_columns

    threshold = top_fraction_threshold(pd.DataFrame({"val_accuracy_mean": list(accuracy.values())}), 0.05)
    rows = []
    for head, frame in frames.items():
        edges = [Edge(int(s), int(d)) for s, d in zip(frame["source"], frame["destination"], strict=True)]
        keep = np.array([e in accuracy for e in edges])
        acc = np.array([accuracy[e] for e, k in zip(edges, keep, strict=True) if k])
        hits = acc >= threshold - 1e-12
        for col in score_columns(frame):
            x = frame[col].astype(float).to_numpy()[keep]
            if np.nanstd(x) == 0:
                continue
            rho, lo, hi = ss.bootstrap_spearman(x, acc, np.random.default_rng(seed))
            rows.append({"store": name, "head": head, "feature": col, "n_edges": len(acc),
                         "spearman": rho, "ci_low": lo, "ci_high": hi, "first_hit": first_hit(x, hits),
                         "random_first_hit": (len(acc) + 1) / (hits.sum() + 1)})
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame) -> tuple[bool, pd.DataFrame]:
    """PLAN.md's rule: the hypothesis column holds on a map if its Spearman through the probe head
    exceeds the fresh head's by more than MARGIN; it is worth building in only if it holds on at
    least NEEDED of the maps other than the development one and is below the fresh head's by more
    than MARGIN on none. Returns (worth building, the per-map comparison; ``judged``: counted)."""
    col = table[table["feature"] == HYPOTHESIS].pivot(index="store", columns="head", values="spearman")
    col["gain"] = col["probe"] - col["fresh"]
    col["holds"] = col["gain"] > MARGIN
    col["judged"] = col.index != DEVELOPMENT
    judged = col[col["judged"]]
    worth = bool(judged["holds"].sum() >= NEEDED and (judged["gain"] >= -MARGIN).all())
    return worth, col


def short_name(store: str) -> str:
    """A store's stem as a plot label: ``minilm_nyt_sentiment`` -> ``MiniLM nyt``."""
    return store.replace("minilm_", "MiniLM ").replace("dinov2s_", "DINOv2 ").replace("_sentiment", "").replace("_full", "")


def plot(table: pd.DataFrame, path: Path) -> None:
    """The hypothesis column's Spearman through each head, per map, with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = table[table["feature"] == HYPOTHESIS]
    stores = list(dict.fromkeys(sub["store"]))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k, (head, colour) in enumerate((("fresh", "tab:grey"), ("probe", "tab:blue"))):
        h = sub[sub["head"] == head].set_index("store").loc[stores]
        x = np.arange(len(stores)) + (k - 0.5) * 0.36
        ax.bar(x, h["spearman"], 0.36, color=colour,
               label={"fresh": "seeded fresh head (shipped)", "probe": "trained linear-probe head"}[head])
        ax.errorbar(x, h["spearman"], [h["spearman"] - h["ci_low"], h["ci_high"] - h["spearman"]],
                    fmt="none", ecolor="black", lw=0.8, capsize=2)
    ax.set_xticks(np.arange(len(stores)), [short_name(s) for s in stores], rotation=20, fontsize=8)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("Spearman with the map")
    ax.set_title(f"gradient {HYPOTHESIS.replace('_', ' ')} vs single-edge accuracy (95 % bootstrap CI)", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    from placement_search.experiment import load_experiment

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", metavar="STORE", help="these stores (file stems) only")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--scoring-seeds", nargs="+", type=int, default=[], metavar="SEED",
                    help="also score with these scoring seeds (another batch, another fresh head; the "
                         "probe head stays the preset's) into probe_head_scoring_seeds.csv: how much of a "
                         "gain is the scoring batch's noise")
    args = ap.parse_args(argv)
    parts, reseeded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or STORES:
            gt = ss.load_ground_truth(RESULTS / f"{name}.sqlite", Path(tmp))
            backbone, task = load_experiment(gt.cfg)
            head, probe_acc = probe_head(gt.cfg, backbone, task)
            frames = {"fresh": spectra(gt.cfg, backbone, task), "probe": spectra(gt.cfg, backbone, task, head)}
            part = correlations(name, frames, gt.accuracy)
            part["probe_val_accuracy"] = probe_acc
            parts.append(part)
            got = part[part["feature"] == HYPOTHESIS].set_index("head")["spearman"]
            print(f"{name}: {HYPOTHESIS} fresh {got['fresh']:.2f}, probe head {got['probe']:.2f} "
                  f"(linear probe val {probe_acc:.3f})", flush=True)
            reseeded.append(part.drop(columns="probe_val_accuracy").assign(scoring_seed=gt.cfg.scoring.seed))
            for seed in args.scoring_seeds:
                cfg = replace(gt.cfg, scoring=replace(gt.cfg.scoring, seed=seed))
                frames = {"fresh": spectra(cfg, backbone, task), "probe": spectra(cfg, backbone, task, head)}
                reseeded.append(correlations(name, frames, gt.accuracy).assign(scoring_seed=seed))
    table = pd.concat(parts, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scoring_seeds:
        seeds = pd.concat(reseeded, ignore_index=True)
        seeds.to_csv(args.out / "probe_head_scoring_seeds.csv", index=False, float_format="%.4f")
        spread = seeds[seeds["feature"] == HYPOTHESIS].pivot_table(index=["store", "scoring_seed"], columns="head",
                                                                   values="spearman")
        spread["gain"] = spread["probe"] - spread["fresh"]
        print(spread.groupby("store").agg(["mean", "std", "min", "max"]).round(2).to_string())
    table.to_csv(args.out / "probe_head.csv", index=False, float_format="%.4f")
    plot(table, args.out / "probe_head.png")
    worth, col = verdict(table)
    print(col.round(2).to_string())
    print(f"PLAN.md's rule: holds on {int((col['holds'] & col['judged']).sum())} of "
          f"{int(col['judged'].sum())} maps other than {DEVELOPMENT} (needs {NEEDED}); "
          f"{'worth building in' if worth else 'not built in'}")


if __name__ == "__main__":
    main()
