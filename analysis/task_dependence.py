"""Is the best placement task-dependent? Cross-task agreement of single-edge maps on one backbone.

    .venv/bin/python analysis/task_dependence.py                      # the committed stores
    .venv/bin/python analysis/task_dependence.py --store a.sqlite --store b.sqlite

For every pair of ground truths on the same backbone (the same points and edge space): the
Spearman and Kendall agreement of their single-edge accuracy maps over the edges both measured
(95 % bootstrap CIs, overall and per edge type), and the regret of moving one task's best single
edges to the other (``analysis.transfer_regret``). For every ground truth with other tasks on its
backbone: a greedy smallest set of edges holding a top-5 % edge of each other task, and whether they
hold one of its own (``analysis.shared_top_edges``): what a warm start from the other tasks' tops
would try first on a new task. A sweep still in progress counts with the
edges it has. Each store is read from a temporary copy (opening a store migrates it in place; the
committed files are never touched). Outputs under analysis/results/task_dependence/: CSVs, the
maps side by side (PNG) and ``summary.md`` (the README's table).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from itertools import combinations, permutations
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from placement_search.analysis import (  # noqa: E402
    cross_task_correlation,
    largest_per_key,
    load_results,
    plot_heatmap,
    shared_top_edges,
    single_edge_heatmap,
    transfer_regret,
)
from placement_search.store.engine import sqlite_snapshot  # noqa: E402

OUT = ROOT / "analysis/results/task_dependence"
DEFAULT_STORES = sorted((ROOT / "analysis/results").glob("*.sqlite"))


def ground_truths(paths: list[Path], tmp: Path) -> dict[str, tuple[str, pd.DataFrame]]:
    """``store stem -> (backbone, single-edge ground truth)`` of each store's exhaustive sweep.
    Two stores holding one task (the same benchmark key: a sample of a sweep and the whole of it,
    or a copy) would be compared with themselves: the one with the most edges stays."""
    found = []  # (name, benchmark key, backbone, ground truth)
    for path in paths:
        copy = sqlite_snapshot(path, tmp)  # consistent even while a sweep writes the store
        results = load_results(f"sqlite:///{copy}", score_keys=())
        sweeps = results.searches[results.searches["searcher"] == "exhaustive"]
        keys = [k for k in dict.fromkeys(sweeps["benchmark_key"]) if len(results.ground_truth.get(k, ()))]
        for key in keys:
            backbone = results.benchmarks.get(key, {}).get("backbone", {}).get("name", "?")
            name = path.stem if len(keys) == 1 else f"{path.stem}:{key[:8]}"
            found.append((name, key, backbone, results.ground_truth[key]))
    kept, dropped = largest_per_key(found, key=lambda f: f[1], size=lambda f: len(f[3]))
    for drop, keep in dropped:
        print(f"left out: {drop[0]} holds the same task as {keep[0]} ({len(drop[3])} against {len(keep[3])} edges)")
    return {name: (backbone, truth) for name, _, backbone, truth in kept}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", action="append", type=Path, help="a store file (repeat); default: analysis/results/*.sqlite")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        gts = ground_truths(args.store or DEFAULT_STORES, Path(tmp))
    pairs = [(a, b) for a, b in combinations(gts, 2) if gts[a][0] == gts[b][0]]
    if not pairs:
        raise SystemExit("error: no two ground truths share a backbone; give two stores swept on one backbone")
    corr = pd.concat([cross_task_correlation(gts[a][1], gts[b][1], by_type=by_type, n_boot=args.n_boot)
                      .assign(backbone=gts[a][0], pair=f"{a} vs {b}")
                      for a, b in pairs for by_type in (False, True)], ignore_index=True)
    corr = corr.drop_duplicates(["pair", "group"])
    moved = pd.concat([transfer_regret(gts[a][1], gts[b][1]).assign(moved=f"{a} -> {b}")
                       for a, b in permutations(gts, 2) if gts[a][0] == gts[b][0]], ignore_index=True)
    shared = pd.concat([shared_top_edges([gts[o][1] for o in gts if o != t and gts[o][0] == gts[t][0]], gts[t][1])
                        .assign(target=t) for t in gts if sum(gts[o][0] == gts[t][0] for o in gts) > 1],
                       ignore_index=True)
    corr.to_csv(args.out_dir / "cross_task_spearman.csv", index=False, float_format="%.4f")
    shared.to_csv(args.out_dir / "shared_top_edges.csv", index=False, float_format="%.4f")
    moved.to_csv(args.out_dir / "transfer_regret.csv", index=False, float_format="%.4f")
    for a, b in pairs:
        for name in (a, b):
            fig = plot_heatmap(single_edge_heatmap(gts[name][1]), title=f"{name}: single-edge val accuracy")
            fig.savefig(args.out_dir / f"map_{name}.png", dpi=110, bbox_inches="tight")
    lines = ["| pair | edges | Spearman [95 % CI] | within recurrent |", "|---|---|---|---|"]
    for pair, g in corr.groupby("pair", sort=False):
        row = g.set_index("group")
        rec = row.loc["recurrent"] if "recurrent" in row.index else None
        a = row.loc["all"]
        lines.append(f"| {pair} | {int(a['n'])} | {a['spearman']:.2f} [{a['spearman_lo']:.2f}, {a['spearman_hi']:.2f}] | "
                     + (f"{rec['spearman']:.2f} [{rec['spearman_lo']:.2f}, {rec['spearman_hi']:.2f}] |" if rec is not None else "– |"))
    lines += ["", "| moved | top | best of them there | regret | percentile there | regret of their mean |",
              "|---|---|---|---|---|---|"]
    for _, r in moved.iterrows():
        lines.append(f"| {r['moved']} | {int(r['top'])} | {r['moved_best']:.4f} | {r['regret_best']:.4f} | "
                     f"{r['moved_best_percentile']:.0f} | {r['regret_mean']:.4f} |")
    lines += ["", "| held out | edges in a top 5 % of every other task | in its own top 5 % | its percentiles | "
              "chance at random |", "|---|---|---|---|---|"]
    for target, g in shared.groupby("target", sort=False):
        lines.append(f"| {target} | {', '.join(f'{a}->{b}' for a, b in zip(g['source'], g['destination'], strict=True))} | "
                     f"{int(g['in_target_top'].sum())} of {len(g)} | "
                     f"{', '.join(f'{p:.0f}' for p in g['target_percentile'])} | {g['chance_any_of_k'].iloc[-1]:.2f} |")
    text = "\n".join(lines) + "\n"
    (args.out_dir / "summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
