"""How far issue 12's per-store figures move under training noise.

    .venv/bin/python analysis/target_noise.py               # every complete store, 20 draws, 30 seeds
    .venv/bin/python analysis/target_noise.py --draws 5 --seeds 10 --store analysis/results/minilm_trec6.sqlite
    .venv/bin/python analysis/target_noise.py --draws 10 --set cost_exponent=1   # another prior-gp setting, same draws

A ground truth is one seed's single-edge map, and on MiniLM the edges near its top sit within a
trial sd or two of each other, so which edges count as "top 5 %" ((a)) or "within one sd of the
best" ((b)) is partly that seed's luck. The benchmark's figure on a store, median compute to a
target over random's, is then a figure on one draw of that luck. This replays the shipped default
(prior-gp, its transfer prior fitted without the store, as ``benchmarks/search_efficiency.py``
does) and random on ``--draws`` maps in which every edge's accuracy moved by an independent draw of
N(0, sd), sd the store's measured trial noise, and reports the spread of the ratio over the draws:
its median, 10th and 90th percentiles, and the share of draws on which each target is met.

A redrawn map is a map as far from the stored one as one more trial's noise (a re-run of the whole
sweep would differ from it by sqrt 2 sd per edge) and further from the truth than the stored map
(two trials' noise); a prior that is right about the truth is diluted on it, so the figures lean
towards random's. They measure how fragile one map's figure is, not a better estimate of it.

The stored-map oracle tries edges in the order of the stored map. Its ratio on the redrawn maps
says whether the map's top survives the draws: where it stays small, the spread of the default's
figure comes from where the searcher lands (near the threshold, not at the top), not from the
draws scrambling the whole map.

Outputs (``--out``, default analysis/results/searcher_selection/): ``target_noise.csv`` (one row
per store and draw; draw 0 is the stored map), ``target_noise_summary.csv`` and
``target_noise.png`` (each draw's ratio per store, targets (a) and (b), the 0.5x and 1.0x lines).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import multiprocessing
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import searcher_selection as ss  # noqa: E402

from placement_search.search.surrogate import DEFAULT_PARAMS  # noqa: E402

TARGETS = {"a": "compute_top5", "b": "compute_noise"}


def redraw(gt: ss.GroundTruth, draw: int, seed: int = 0) -> ss.GroundTruth:
    """``gt`` with every edge's accuracy moved by N(0, the map's noise sd: gt.noise_sd over the root
    of the seeds it averages); draw 0 is ``gt`` itself. On a redrawn map a trial shows the map's
    value. The generator is seeded by (seed, store name, draw), so a draw is the same map in every
    process."""
    if draw == 0:
        return gt
    rng = np.random.default_rng([seed, zlib.crc32(gt.name.encode()), draw])
    moved = rng.normal(0.0, gt.noise_sd / math.sqrt(gt.seeds), len(gt.accuracy))
    return dataclasses.replace(gt, accuracy={e: a + d for (e, a), d in zip(gt.accuracy.items(), moved, strict=True)},
                               observed={})


def oracle(stored: ss.GroundTruth, gt: ss.GroundTruth, seed: int) -> dict[str, float]:
    """Compute to (a) and (b) on ``gt`` of a searcher that tries edges in the order of the stored
    map (``stored``), ties in a seeded random order, paying each edge's cost as a replay does."""
    rng = np.random.default_rng(seed)
    edges = list(stored.accuracy)
    tie = rng.random(len(edges))
    order = sorted(range(len(edges)), key=lambda i: (-stored.accuracy[edges[i]], tie[i]))
    out = {"compute_top5": math.inf, "compute_noise": math.inf}
    spent = 0.0
    for i in order:
        e = edges[i]
        spent += gt.epochs * gt.cost(str(e))
        if gt.accuracy[e] >= gt.top5 and math.isinf(out["compute_top5"]):
            out["compute_top5"] = spent
        if gt.accuracy[e] >= gt.near_best and math.isinf(out["compute_noise"]):
            out["compute_noise"] = spent
        if not (math.isinf(out["compute_top5"]) or math.isinf(out["compute_noise"])):
            break
    return out


def median(values) -> float:
    """The median, with a target never reached (inf) as infinitely far, as ``ss.summarize`` counts it."""
    return ss.never_quantiles(values, [0.5])[0]


def ratio(runs: pd.DataFrame, base: pd.DataFrame, metric: str) -> float:
    """Median over ``runs`` over random's median (inf where a median is never reached)."""
    a, b = median(runs[metric]), median(base[metric])
    return a / b if math.isfinite(a) and math.isfinite(b) else math.inf


def draw_row(stored: ss.GroundTruth, prior, draw: int, seeds: int, params=DEFAULT_PARAMS) -> dict:
    """prior-gp (the default, or ``params``), random and the stored-map oracle on one redrawn map:
    their ratios to random."""
    gt = redraw(stored, draw)
    budget = len(gt.space)  # as the benchmark: on until both targets are found, at most every edge
    runs = {"default": pd.DataFrame(ss.run_prior_gp(gt, prior, params, range(seeds), budget)),
            "random": pd.DataFrame(ss.run_baseline("random", gt, range(seeds), budget)),
            "oracle": pd.DataFrame([oracle(stored, gt, s) for s in range(seeds)])}
    row = {"store": stored.name, "draw": draw, "seeds": seeds, "noise_sd": stored.noise_sd,
           "top5_threshold": gt.top5, "top5_edges": sum(a >= gt.top5 for a in gt.accuracy.values()),
           "near_best_edges": sum(a >= gt.near_best for a in gt.accuracy.values())}
    for t, metric in TARGETS.items():
        row[f"random_{t}"] = median(runs["random"][metric])
        row[f"default_{t}"] = ratio(runs["default"], runs["random"], metric)
        row[f"oracle_{t}"] = ratio(runs["oracle"], runs["random"], metric)
    return row


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per store and target: the stored map's ratio, the ratio's median, 10th and 90th percentile
    over the redrawn maps, the share of them meeting <= 0.5x and <= 1.0x, and the oracle's median."""
    out = []
    for store, t in ((s, t) for s in rows["store"].unique() for t in TARGETS):
        d = rows[rows["store"] == store]
        stored, drawn = d[d["draw"] == 0], d[d["draw"] > 0]
        v = drawn[f"default_{t}"].to_numpy(float)
        p10, p90 = ss.never_quantiles(v, [0.1, 0.9])
        out.append({"store": store, "target": t, "draws": len(drawn),
                    "stored_map": float(stored[f"default_{t}"].iloc[0]) if len(stored) else math.nan,
                    "median": median(v), "p10": p10, "p90": p90,
                    "share_le_0.5": float((v <= 0.5).mean()), "share_le_1.0": float((v <= 1.0).mean()),
                    "oracle_median": median(drawn[f"oracle_{t}"])})
    return pd.DataFrame(out)


def plot(rows: pd.DataFrame, path: Path) -> None:
    """Each redrawn map's ratio per store and target (dots), the stored map's (a diamond), and the
    0.5x / 1.0x lines of issue 12's targets, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stores = list(rows["store"].unique())
    fig, ax = plt.subplots(figsize=(1.9 * len(stores) + 2, 4))
    rng = np.random.default_rng(0)
    for k, (t, colour) in enumerate((("a", "tab:blue"), ("b", "tab:orange"))):
        for i, s in enumerate(stores):
            d = rows[rows["store"] == s]
            drawn, stored = d[d["draw"] > 0], d[d["draw"] == 0]
            x = i + (k - 0.5) * 0.3
            y = np.clip(drawn[f"default_{t}"].to_numpy(float), 0.01, 100)
            ax.scatter(x + rng.uniform(-0.06, 0.06, len(y)), y, s=12, alpha=0.6, color=colour,
                       label=f"({t}) redrawn maps" if i == 0 else None)
            if len(stored):
                ax.scatter([x], [np.clip(stored[f"default_{t}"].iloc[0], 0.01, 100)], marker="D", s=50,
                           edgecolor="black", color=colour, label=f"({t}) stored map" if i == 0 else None)
    for level, style in ((0.5, "--"), (1.0, "-")):
        ax.axhline(level, color="grey", linestyle=style, linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(stores)), stores, fontsize=8)
    ax.set_ylabel("default's median compute / random's")
    ax.set_title("issue 12's figures on maps redrawn with one trial's noise per edge", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


_STATE: dict = {}


def _run(key: tuple[str, int]) -> dict:
    store, draw = key
    return draw_row(_STATE["gts"][store], _STATE["priors"][store], draw, _STATE["seeds"], _STATE["params"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", action="append", type=Path,
                    help="a store with a complete single-edge sweep (repeatable; default: every complete store in analysis/results/)")
    ap.add_argument("--draws", type=int, default=20, help="redrawn maps per store (default 20)")
    ap.add_argument("--seeds", type=int, default=30, help="searcher seeds per map (default 30)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="replay prior-gp with this hyper-parameter instead of the default's (repeatable); the "
                         "outputs are then named target_noise_<NAME=VALUE,...>")
    ap.add_argument("--out", type=Path, default=ss.OUT)
    args = ap.parse_args(argv)
    params = ss.params_with(args.set)
    stem = "target_noise" + ("_" + ",".join(args.set) if args.set else "")
    loaded: dict[Path, ss.GroundTruth] = {}  # a store both in the selection and replayed is read once
    with tempfile.TemporaryDirectory() as tmp:
        def load(p: Path) -> ss.GroundTruth:
            key = Path(p).resolve()
            if key not in loaded:
                loaded[key] = ss.load_ground_truth(key, Path(tmp))
            return loaded[key]

        selection = ss.distinct([load(p) for p in ss.SELECTION_STORES])
        gts = []
        for p in args.store or ss.ALL_STORES:
            try:
                gts.append(load(p))
            except ss.IncompleteSweep as exc:
                if args.store:
                    raise SystemExit(f"error: {exc}") from None
                print(f"left out: {exc}", flush=True)
    gts = ss.distinct(gts)
    # as the benchmark: the transfer prior fitted on the selection's ground truths less this task
    priors = {g.name: ss.transfer_for(g, selection) for g in gts}
    _STATE.update(gts={g.name: g for g in gts}, priors=priors, seeds=args.seeds, params=params)
    keys = [(g.name, d) for g in gts for d in range(args.draws + 1)]
    rows = []
    with multiprocessing.get_context("fork").Pool(args.jobs) if args.jobs > 1 else contextlib.nullcontext() as pool:
        for row in pool.imap(_run, keys) if pool else map(_run, keys):
            rows.append(row)
            print(f"{row['store']} draw {row['draw']}: (a) {row['default_a']:.2f} (b) {row['default_b']:.2f}", flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / f"{stem}.csv", index=False, float_format="%.4f")
    summ = summary(table)
    summ.to_csv(args.out / f"{stem}_summary.csv", index=False, float_format="%.4f")
    plot(table, args.out / f"{stem}.png")
    print(summ.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
