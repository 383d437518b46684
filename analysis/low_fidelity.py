"""Can a much cheaper run of each edge find the top of the map? Lower-fidelity probes, measured.

Stopping trials after their first epoch saves about a tenth of random search's compute on the
committed maps (analysis/fidelity_headroom.py): an epoch is a third of a trial, and the first epoch
does not resolve the top. A probe that is a run of its own can be far cheaper: the preset recipe on
a quarter of the training examples for one epoch costs about a tenth of a trial. This measures, on
every ground truth that has a probe sweep beside it, whether such a probe carries the signal:

- **agreement**: Spearman of the probe's single-edge map with the ground truth's (bootstrap 95 %
  interval), and how many of the ground truth's top-5 % edges sit in the probe's top 10 / 25 / 50 %;
- **ceiling** (``placement_search.analysis.fidelity.probe_headroom``): an idealised halving that knows
  the probe's quantiles stops the bottom share of the edges after their probe and trains the rest
  from the start; ``factor`` is what that multiplies random search's compute to a target by;
- **screening, replayed** (no knowledge of quantiles): draw ``eta`` untried edges at random, probe
  them, train the best of them by the probe to the end, repeat until a trained edge meets the
  target (a two-rung successive halving with reduction factor ``eta``); once every edge has been
  probed, train the rest in probe order. Median compute over ``--seeds`` seeds, against random
  search's on the same seeds' edge orders, with its bootstrap interval.

Targets as the benchmark's: (a) a top-5 % single edge, (b) one within a training-noise sd of the
best. Compute in the benchmark's unit (search/cost.py: a trial costs its epochs times its edge's
relative price); a probe costs ``probe_share`` of its edge's full trial, the ratio of the two
recipes' training FLOPs (placement/price.py: training passes and one validation pass per epoch,
no test pass), per edge.

Probe sweeps live in ``analysis/results/low_fidelity/<store>.sqlite``, named as the ground truth's
store, one exhaustive sweep per probe recipe (``analysis/sweep_local.py`` with ``--set``), e.g.

    python analysis/sweep_local.py search_spaces/minilm_trec6.yaml --workers 2 \\
        --store sqlite:///analysis/results/low_fidelity/minilm_trec6.sqlite --name minilm-trec6-n375-e1 \\
        --set task.train_samples=375 --set training.epochs=1
    python analysis/low_fidelity.py            # every probe store, about a minute

Output: analysis/results/low_fidelity/low_fidelity.csv (agreement and screening, one row per probe
recipe and target) and probe_headroom.csv.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROBES = ROOT / "analysis/results/low_fidelity"
ETAS = (3, 5, 8)
TOP_SHARES = (0.10, 0.25, 0.50)


def load(path: Path):
    """A store's results, read from a temporary copy (opening a store may migrate it in place)."""
    from placement_search.analysis import load_results
    from placement_search.store.engine import sqlite_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        return load_results(sqlite_snapshot(path, Path(tmp)))


def recipe(desc: dict) -> str:
    """A probe recipe's label: its training examples and epochs."""
    return f"n{(desc.get('task') or {}).get('train_samples')} e{(desc.get('training') or {}).get('epochs')}"


def probe_share(full_desc: dict, probe_desc: dict, placements: list[str], head_params: int) -> pd.Series:
    """Per placement: the probe's training FLOPs over the full trial's (validation once per epoch,
    no test pass in either)."""
    from placement_search.placement.price import stored_price

    def flops(desc: dict, p: str) -> float:
        epochs = float(desc["training"]["epochs"])
        config = {s: desc[s] for s in ("backbone", "task", "adapter", "training")}  # the recipe's sections
        return stored_price(config, p, head_params).train_flops(epochs, int(round(epochs)), tested=False)

    return pd.Series({p: flops(probe_desc, p) / flops(full_desc, p) for p in placements}, name="probe_share")


def screening_compute(order: np.ndarray, probe: np.ndarray, hit: np.ndarray, cost: np.ndarray,
                      share: np.ndarray, eta: int) -> float:
    """Compute until a trained edge is a hit, screening ``eta`` edges of ``order`` per round (module doc)."""
    compute, trained = 0.0, np.zeros(len(order), bool)
    for start in range(0, len(order), eta):
        chunk = order[start:start + eta]
        compute += float((share[chunk] * cost[chunk]).sum())
        best = chunk[np.argmax(probe[chunk])]
        compute += cost[best]
        trained[best] = True
        if hit[best]:
            return compute
    for i in np.argsort(-probe, kind="stable"):
        if not trained[i]:
            compute += cost[i]
            if hit[i]:
                return compute
    return float("inf")


def asha_compute(order: np.ndarray, probe: np.ndarray, hit: np.ndarray, cost: np.ndarray,
                 share: np.ndarray, eta: int) -> float:
    """Compute until a trained edge is a hit under ASHA's rule with the probe as its lowest rung
    (Li et al. 2018): train the best probed edge not yet trained if it is among the top
    floor(n / eta) of the n probed so far, else probe the next edge of ``order``; once every edge is
    probed, train the rest in probe order."""
    compute, probed, trained = 0.0, [], np.zeros(len(order), bool)
    nxt = 0
    while True:
        ranked = sorted(probed, key=lambda i: -probe[i])[: len(probed) // eta]
        waiting = [i for i in ranked if not trained[i]]
        if waiting or nxt == len(order):
            rest = waiting or [i for i in np.argsort(-probe, kind="stable") if not trained[i]]
            if not rest:
                return float("inf")
            best = rest[0]
            compute += cost[best]
            trained[best] = True
            if hit[best]:
                return compute
            continue
        edge = order[nxt]
        nxt += 1
        compute += share[edge] * cost[edge]
        probed.append(edge)


def random_compute(order: np.ndarray, hit: np.ndarray, cost: np.ndarray) -> float:
    first = int(np.argmax(hit[order]))
    return float(cost[order[: first + 1]].sum()) if hit[order].any() else float("inf")


#: the replayed policies: name -> compute until a hit (order, probe, hit, cost, share, eta)
POLICIES = {"batch": screening_compute, "asha": asha_compute}


def compare(store: Path, probe_store: Path, seeds: int) -> tuple[list[dict], list[pd.DataFrame]]:
    """Agreement, ceiling and screening rows of every probe sweep in ``probe_store`` against the
    ground truth in ``store``."""
    from placement_search.analysis import cross_task_correlation
    from placement_search.analysis.experiments import training_noise
    from placement_search.analysis.fidelity import probe_headroom
    from placement_search.analysis.regret import median_ratio_ci, near_best_threshold, top_fraction_threshold
    from placement_search.search.cost import table_for_description

    full, probes = load(store), load(probe_store)
    (key, gt), = ((k, g) for k, g in full.ground_truth.items() if len(g) == max(map(len, full.ground_truth.values())))
    desc = full.benchmarks[key]
    n_points = int(max(gt["source"].max(), gt["destination"].max())) + 1
    table = table_for_description(desc, n_points)
    epochs = float(desc["training"]["epochs"])
    sd, _ = training_noise(full.trials[full.trials["benchmark_key"] == key])
    thresholds = {"a": top_fraction_threshold(gt, 0.05), "b": near_best_threshold(gt, sd)}
    trials = full.trials[(full.trials["benchmark_key"] == key) & full.trials["num_adapter_params"].notna()]
    head_params = int((trials["num_trainable_params"] - trials["num_adapter_params"]).mode().iloc[0])
    rows, headroom = [], []
    for pkey, pgt in probes.ground_truth.items():
        pdesc = probes.benchmarks[pkey]
        joined = gt.merge(pgt[["placement", "val_accuracy_mean"]], on="placement", suffixes=("", "_probe"))
        if len(joined) < len(gt):
            print(f"{probe_store.name}: {recipe(pdesc)} probes {len(joined)} of {len(gt)} edges so far; "
                  "left out until its sweep is complete", file=sys.stderr)
            continue
        placements = list(joined["placement"])
        share = probe_share(desc, pdesc, placements, head_params)
        final = joined.set_index("placement")["val_accuracy_mean"]
        signal = joined.set_index("placement")["val_accuracy_mean_probe"]
        cost = np.array([epochs * table.relative(p) for p in placements])
        corr = cross_task_correlation(pgt, gt).iloc[0]
        probe_rank = signal.rank(ascending=False, method="average") / len(signal)
        base = {"store": store.stem, "probe": recipe(pdesc), "edges": len(joined),
                "probe_share_median": float(share.median()), "probe_share_max": float(share.max()),
                "probe_val_median": float(signal.median()), "spearman": corr["spearman"],
                "spearman_lo": corr["spearman_lo"], "spearman_hi": corr["spearman_hi"]}
        for target, thr in thresholds.items():
            hit = final.to_numpy(float) >= thr - 1e-12
            row = {**base, "target": target, "threshold": thr, "target_edges": int(hit.sum())}
            for q in TOP_SHARES:
                row[f"in_probe_top{int(q * 100)}"] = int((hit & (probe_rank.to_numpy() <= q)).sum())
            rng = np.random.default_rng(0)
            orders = [rng.permutation(len(placements)) for _ in range(seeds)]
            rnd = [random_compute(o, hit, cost) for o in orders]
            row["random_median"] = float(np.median(rnd))
            for policy, play in POLICIES.items():
                for eta in ETAS:
                    got = [play(o, signal.to_numpy(float), hit, cost, share.to_numpy(float), eta) for o in orders]
                    point, lo, hi = median_ratio_ci(got, rnd, np.random.default_rng(1))
                    row.update({f"{policy}{eta}": point, f"{policy}{eta}_lo": lo, f"{policy}{eta}_hi": hi})
            rows.append(row)
        headroom.append(probe_headroom(final, signal, lambda p: epochs * table.relative(p), share,
                                       thresholds).assign(store=store.stem, probe=recipe(pdesc)))
    return rows, headroom


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="edge orders replayed per target (default 200)")
    ap.add_argument("--out", type=Path, default=PROBES)
    args = ap.parse_args(argv)
    pairs = [(ROOT / "analysis/results" / p.name, p) for p in sorted(PROBES.glob("*.sqlite"))]
    pairs = [(s, p) for s, p in pairs if s.is_file()]
    if not pairs:
        raise SystemExit(f"error: no probe store in {PROBES} beside a ground-truth store of the same name; "
                         "sweep one with analysis/sweep_local.py (module doc)")
    rows, headroom = [], []
    for store, probe_store in pairs:
        r, h = compare(store, probe_store, args.seeds)
        rows += r
        headroom += h
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "low_fidelity.csv", index=False, float_format="%.4f")
    heads = pd.concat(headroom, ignore_index=True)
    heads = heads[["store", "probe", *[c for c in heads.columns if c not in ("store", "probe")]]]
    heads.to_csv(args.out / "probe_headroom.csv", index=False, float_format="%.4f")
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(table.drop(columns=[c for c in table.columns if c.endswith(("_lo", "_hi"))]).round(3).to_string(index=False))
        print()
        print(heads.assign(stop=heads["stop_share"].map(lambda q: f"stop {q:.2f}"))
              .pivot_table(index=["store", "probe", "target"], columns="stop", values="factor").round(2).to_string())


if __name__ == "__main__":
    main()
