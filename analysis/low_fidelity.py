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
recipe and target), probe_headroom.csv, probe_vs_ground_truth.png and loo_choice.csv (the plan's
rule, PLAN.md, with each selection map left out, for each candidate recipe swept on all four).
A second probe recipe of a map (another batch size, ``--set training.batch_size=8``) is a second
search of its own name in the same probe store; its label names the batch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "analysis"))
PROBES = ROOT / "analysis/results/low_fidelity"
ETAS = (3, 5, 8)
RULES = ("batch", "asha")
#: the screening settings replayed, by name (``compare``'s columns)
SETTINGS = tuple(f"{r}{e}" for r in RULES for e in ETAS)
TOP_SHARES = (0.10, 0.25, 0.50)


def recipe(desc: dict, full_desc: dict | None = None) -> str:
    """A probe recipe's label: its training examples and epochs, and its batch size where it
    differs from the ground truth's recipe ``full_desc`` (two probes of one map then differ)."""
    training = desc.get("training") or {}
    label = f"n{(desc.get('task') or {}).get('train_samples')} e{float(training.get('epochs')):g}"
    batch = training.get("batch_size")
    return label if full_desc is None or batch == full_desc["training"].get("batch_size") else f"{label} b{batch}"


def probe_share(full_desc: dict, probe_desc: dict, placements: list[str], head_params: int) -> pd.Series:
    """Per placement: the probe's training FLOPs over the full trial's (validation once per epoch,
    no test pass in either)."""
    from placement_search.placement.price import stored_price

    def flops(desc: dict):
        """The recipe's training FLOPs as a function of the placement (its sizes filled in once)."""
        epochs = float(desc["training"]["epochs"])
        config = with_split_sizes({s: desc[s] for s in ("backbone", "task", "adapter", "training")})
        return lambda p: stored_price(config, p, head_params).train_flops(epochs, int(round(epochs)), tested=False)

    probe, full = flops(probe_desc), flops(full_desc)
    return pd.Series({p: probe(p) / full(p) for p in placements}, name="probe_share")


def with_split_sizes(config: dict) -> dict:
    """``config`` with its task's ``*_samples`` filled in from the prepared task where the recipe
    leaves them to fractions (DINOv2 digits), since the price counts examples."""
    sizes = ("train_samples", "validation_samples", "test_samples")
    if all(config["task"].get(k) is not None for k in sizes):
        return config
    from placement_search.config import config_from_dict
    from placement_search.experiment import load_experiment

    _, task = load_experiment(config_from_dict(config))
    counts = dict(zip(sizes, (len(task.train), len(task.validation), len(task.test)), strict=True))
    return {**config, "task": {**config["task"], **{k: config["task"].get(k) or v for k, v in counts.items()}}}


def promotion(rule: str, probed: list[int], trained: np.ndarray, probe: np.ndarray, eta: int) -> int | None:
    """The probed edge ``rule`` trains to the end now, if any.

    ``batch``: after every ``eta`` probes, the best of those ``eta`` (a two-rung successive halving
    with reduction factor ``eta``). ``asha``: ASHA's rule with the probe as its lowest rung (Li et
    al. 2018): the best probed edge not yet trained, if it is among the top floor(n / eta) of the n
    probed so far."""
    if rule == "batch":
        if not probed or len(probed) % eta:
            return None
        best = max(probed[-eta:], key=lambda i: probe[i])
        return None if trained[best] else best
    ranked = sorted(probed, key=lambda i: -probe[i])[: len(probed) // eta]
    return next((i for i in ranked if not trained[i]), None)


def play(suggest, probe: np.ndarray, hits: np.ndarray, cost: np.ndarray, share: np.ndarray, rule: str, eta: int,
         start: float = 0.0) -> list[float]:
    """Compute until a trained edge meets each target (columns of ``hits``), probing the edges
    ``suggest(probed_so_far)`` names (None: no more) and training those ``promotion`` picks; once no
    edge is left to probe, the probed ones are trained in probe order. A target never met is inf."""
    compute, probed, trained = start, [], np.zeros(len(probe), bool)
    found = [float("inf")] * hits.shape[1]
    exhausted = False
    while any(np.isinf(found)):
        edge = promotion(rule, probed, trained, probe, eta)
        if edge is None and exhausted:
            edge = next((i for i in sorted(probed, key=lambda i: -probe[i]) if not trained[i]), None)
            if edge is None:
                break
        if edge is not None:
            compute += cost[edge]
            trained[edge] = True
            found = [c if not (np.isinf(c) and hit) else compute for c, hit in zip(found, hits[edge], strict=True)]
            continue
        nxt = suggest(probed)
        if nxt is None:
            exhausted = True
            continue
        compute += share[nxt] * cost[nxt]
        probed.append(nxt)
    return found


def in_order(order: np.ndarray):
    """``suggest`` for ``play`` that probes the edges of ``order`` one after another."""
    return lambda probed: int(order[len(probed)]) if len(probed) < len(order) else None


def random_compute(order: np.ndarray, hits: np.ndarray, cost: np.ndarray) -> list[float]:
    """Random search's compute until each target: full trials in ``order``."""
    spent = np.cumsum(cost[order])
    return [float(spent[np.argmax(h[order])]) if h.any() else float("inf") for h in hits.T]


@dataclass
class ProbeMap:
    """One probe sweep beside its ground truth: per edge (``placements`` order) the ground truth's
    accuracy, the probe's, the full trial's compute and the probe's share of it."""

    store: str
    probe: str
    placements: list[str]
    final: np.ndarray
    signal: np.ndarray
    cost: np.ndarray
    share: np.ndarray
    thresholds: dict[str, float]
    spearman: tuple[float, float, float]
    probe_sd: float  # one probe's seed sd (NaN until an extra-seed sample of probes is stored)

    @property
    def hits(self) -> np.ndarray:
        return np.stack([self.final >= t - 1e-12 for t in self.thresholds.values()], axis=1)


def probe_maps(store: Path, probe_store: Path) -> list[ProbeMap]:
    """Every finished probe sweep in ``probe_store`` against the ground truth in ``store``. A sweep
    of a sample of the edges (``sweep_local.py --every N``) is compared on its edges: its policies
    and random search then search that sample, against the whole map's targets."""
    from fidelity_headroom import load_copy

    from placement_search.analysis import cross_task_correlation
    from placement_search.analysis.experiments import measured_noise, seed_noise, training_noise
    from placement_search.analysis.regret import near_best_threshold, top_fraction_threshold
    from placement_search.search.cost import table_for_description

    full, probes = load_copy(store), load_copy(probe_store)
    (key, gt), = ((k, g) for k, g in full.ground_truth.items() if len(g) == max(map(len, full.ground_truth.values())))
    desc = full.benchmarks[key]
    n_points = int(max(gt["source"].max(), gt["destination"].max())) + 1
    table = table_for_description(desc, n_points)
    epochs = float(desc["training"]["epochs"])
    sd, _ = training_noise(full.trials[full.trials["benchmark_key"] == key])
    thresholds = {"a": top_fraction_threshold(gt, 0.05), "b": near_best_threshold(gt, sd)}
    trials = full.trials[(full.trials["benchmark_key"] == key) & full.trials["num_adapter_params"].notna()]
    head_params = int((trials["num_trainable_params"] - trials["num_adapter_params"]).mode().iloc[0])
    maps = []
    for pkey, pgt in probes.ground_truth.items():
        pdesc = probes.benchmarks[pkey]
        joined = gt.merge(pgt[["placement", "val_accuracy_mean"]], on="placement", suffixes=("", "_probe"))
        sweeps = probes.searches[(probes.searches["benchmark_key"] == pkey) & (probes.searches["searcher"] == "exhaustive")]
        if len(joined) < len(gt) and (sweeps["status"] == "running").any():
            print(f"{probe_store.name}: {recipe(pdesc, desc)} probes {len(joined)} of {len(gt)} edges so far; "
                  "left out until its sweep is finished", file=sys.stderr)
            continue
        label = recipe(pdesc, desc) + ("" if len(joined) == len(gt) else f" ({len(joined)} of {len(gt)} edges)")
        placements = list(joined["placement"])
        corr = cross_task_correlation(pgt, gt).iloc[0]
        noise = measured_noise(seed_noise(probes.trials[probes.trials["benchmark_key"] == pkey], n_boot=10))
        maps.append(ProbeMap(store.stem, label, placements, joined["val_accuracy_mean"].to_numpy(float),
                             joined["val_accuracy_mean_probe"].to_numpy(float),
                             np.array([epochs * table.relative(p) for p in placements]),
                             probe_share(desc, pdesc, placements, head_params).to_numpy(float), thresholds,
                             (corr["spearman"], corr["spearman_lo"], corr["spearman_hi"]),
                             float("nan") if noise is None else float(noise["trial_sd"])))
    return maps


def compare(m: ProbeMap, seeds: int, prior_policy: str | None = None) -> tuple[list[dict], pd.DataFrame]:
    """Agreement, screening and ceiling rows of one probe map; with ``prior_policy`` (e.g. ``asha5``)
    also the shipped prior-gp alone and prior-gp choosing what to probe under that policy."""
    from placement_search.analysis.fidelity import probe_headroom
    from placement_search.analysis.regret import median_ratio_ci

    hits = m.hits
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(m.placements)) for _ in range(seeds)]
    runs = {"random": [random_compute(o, hits, m.cost) for o in orders]}
    for rule in RULES:
        for eta in ETAS:
            runs[f"{rule}{eta}"] = [play(in_order(o), m.signal, hits, m.cost, m.share, rule, eta) for o in orders]
    if prior_policy:
        runs.update(with_prior(m, seeds, prior_policy))
    rank = pd.Series(m.signal).rank(ascending=False, method="average").to_numpy() / len(m.signal)
    rows = []
    for t, (target, thr) in enumerate(m.thresholds.items()):
        hit = hits[:, t]
        row = {"store": m.store, "probe": m.probe, "edges": len(m.placements),
               "probe_share_median": float(np.median(m.share)), "probe_share_max": float(m.share.max()),
               "probe_val_median": float(np.median(m.signal)), "probe_val_sd": float(np.std(m.signal, ddof=1)),
               "probe_sd": m.probe_sd, "spearman": m.spearman[0],
               "spearman_lo": m.spearman[1], "spearman_hi": m.spearman[2], "target": target, "threshold": thr,
               "target_edges": int(hit.sum())}
        for q in TOP_SHARES:
            row[f"in_probe_top{int(q * 100)}"] = int((hit & (rank <= q)).sum())
        rnd = [r[t] for r in runs["random"]]
        row["random_median"] = float(np.median(rnd))
        for name, got in runs.items():
            if name != "random":
                point, lo, hi = median_ratio_ci([g[t] for g in got], rnd, np.random.default_rng(1))
                row.update({name: point, f"{name}_lo": lo, f"{name}_hi": hi})
        rows.append(row)
    by_placement = dict(zip(m.placements, m.cost, strict=True))
    headroom = probe_headroom(pd.Series(m.final, index=m.placements), pd.Series(m.signal, index=m.placements),
                              by_placement.__getitem__, pd.Series(m.share, index=m.placements), m.thresholds)
    return rows, headroom.assign(store=m.store, probe=m.probe)


def with_prior(m: ProbeMap, seeds: int, policy: str) -> dict[str, list[list[float]]]:
    """The plan's second stage: the shipped prior-gp (its transfer prior fitted on the selection's
    ground truths other than this task, as searcher_selection.py's replays get it) on its own, and
    prior-gp choosing which edges to probe, learning from the probe accuracies, under ``policy``."""
    import searcher_selection as ss

    from placement_search.placement.edges import Placement
    from placement_search.search.surrogate import DEFAULT_PARAMS

    rule, eta = policy.rstrip("0123456789"), int(policy[len(policy.rstrip("0123456789")):])
    gt, pool = _ground_truths(m.store)
    if len(m.placements) < len(gt.space):
        print(f"{m.store} ({m.probe}): prior-gp searches every edge, the probe sweep covers a sample; "
              "no second stage", file=sys.stderr)
        return {}
    prior = ss.transfer_for(gt, pool)
    index = {p: i for i, p in enumerate(m.placements)}
    hits = m.hits
    alone = ss.run_prior_gp(gt, prior, DEFAULT_PARAMS, range(seeds), 5 * len(m.placements))
    out = {"prior-gp": [[r["compute_top5"], r["compute_noise"]] for r in alone], f"prior-gp+{policy}": []}
    for seed in range(seeds):
        searcher = ss.make_prior_gp(gt, prior, DEFAULT_PARAMS, seed)

        def suggest(probed, searcher=searcher):
            if probed:  # the previous suggestion's probe, reported before the next one is asked for
                searcher.on_trial_complete(f"t{len(probed)}", result={"val_accuracy": float(m.signal[probed[-1]])})
            config = searcher.suggest(f"t{len(probed) + 1}")
            if config is None or not isinstance(config, dict):
                return None
            text = config["placement"] if "placement" in config else ss._slot_text(config, gt.space)
            return index[str(Placement.parse(text))]

        out[f"prior-gp+{policy}"].append(play(suggest, m.signal, hits, m.cost, m.share, rule, eta,
                                              start=gt.scoring_cost()))
    return out


_GTS: dict = {}


def _ground_truths(name: str):
    """The searcher selection's GroundTruth of store ``name`` and its pool of prior sources (each
    loaded once)."""
    import searcher_selection as ss

    with tempfile.TemporaryDirectory() as tmp:
        if "pool" not in _GTS:
            _GTS["pool"] = [ss.load_ground_truth(p, Path(tmp)) for p in ss.SELECTION_STORES]
        if name not in _GTS:
            _GTS[name] = ss.load_ground_truth(ROOT / "analysis/results" / f"{name}.sqlite", Path(tmp))
    return _GTS[name], _GTS["pool"]


#: the plan's selection maps (PLAN.md): the MiniLM maps that chose the shipped defaults
SELECTION = ("minilm_trec6", "minilm_trec_fine", "minilm_movie_sentiment", "minilm_tweet_sentiment")
#: the probe recipes the plan's rule is applied to (PLAN.md; ``n750 e1`` is a diagnostic, not a candidate)
CANDIDATES = ("n375 e1", "n375 e1 b8")


def choose(table: pd.DataFrame, probe: str = "n375 e1") -> tuple[str, pd.DataFrame]:
    """The plan's rule for the probe recipe labelled ``probe``: the (policy, eta) whose figures on
    the selection maps, worst first, are smallest (leximin, as searcher_selection.rank_key), and
    each selection map left out in turn (the choice on the others, read on it)."""
    sel = table[table["probe"] == probe]

    def pick(stores) -> str:
        part = sel[sel["store"].isin(stores)]
        return min(SETTINGS, key=lambda k: tuple(sorted(part[k], reverse=True)))

    stores = [s for s in SELECTION if s in set(sel["store"])]
    folds = [{"left_out": s, "chosen": (c := pick([o for o in stores if o != s])),
              **{f"on_it_{t}": float(sel[(sel["store"] == s) & (sel["target"] == t)][c].iloc[0]) for t in ("a", "b")}}
             for s in stores]
    return pick(stores), pd.DataFrame(folds)


def plot_maps(maps: list[ProbeMap]):
    """Probe accuracy against the ground truth's, one panel per probe map, coloured by edge type,
    the top-5 % edges ringed: whether the probe's top is the map's top is what screening needs."""
    from placement_search.analysis.plots import TYPE_COLORS, _figure
    from placement_search.placement.edges import Placement

    cols = min(3, len(maps))
    rows = -(-len(maps) // cols)
    fig = _figure((4.2 * cols, 3.6 * rows))
    for k, m in enumerate(maps):
        ax = fig.add_subplot(rows, cols, k + 1)
        types = np.array([Placement.parse(p).edges[0].type for p in m.placements])
        for t, color in TYPE_COLORS.items():
            sel = types == t
            ax.scatter(m.signal[sel], m.final[sel], s=12, alpha=0.75, color=color, edgecolors="none",
                       label=t if k == 0 else None)
        top = m.hits[:, 0]
        ax.scatter(m.signal[top], m.final[top], s=60, facecolors="none", edgecolors="black", linewidths=0.8,
                   label="top 5 %" if k == 0 else None)
        ax.set_title(f"{m.store} ({m.probe}), Spearman {m.spearman[0]:.2f}", fontsize=9)
        ax.set_xlabel("probe val accuracy")
        ax.set_ylabel("ground-truth val accuracy")
        ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=5, fontsize=8, frameon=False)
    return fig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="edge orders replayed per target (default 200)")
    ap.add_argument("--out", type=Path, default=PROBES)
    ap.add_argument("--with-prior", metavar="POLICY", help="also replay the shipped prior-gp alone and choosing what "
                    "to probe under POLICY (e.g. asha5: the plan's second stage; MiniLM maps, minutes)")
    ap.add_argument("--only", action="append", metavar="STORE", help="only this ground truth (its store's file stem, "
                    "e.g. minilm_nyt_sentiment; repeatable); the outputs then hold only these maps")
    args = ap.parse_args(argv)
    pairs = [(ROOT / "analysis/results" / p.name, p) for p in sorted(PROBES.glob("*.sqlite"))]
    pairs = [(s, p) for s, p in pairs if s.is_file() and (not args.only or s.stem in args.only)]
    if not pairs:
        raise SystemExit(f"error: no probe store in {PROBES} beside a ground-truth store of the same name; "
                         "sweep one with analysis/sweep_local.py (module doc)")
    rows, headroom, maps = [], [], []
    for store, probe_store in pairs:
        for m in probe_maps(store, probe_store):
            r, h = compare(m, args.seeds, args.with_prior)
            rows += r
            headroom.append(h)
            maps.append(m)
    if not rows:
        raise SystemExit("error: no finished probe sweep to compare yet; let the sweeps finish (module doc)")
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "low_fidelity.csv", index=False, float_format="%.4f")
    heads = pd.concat(headroom, ignore_index=True)
    heads = heads[["store", "probe", *[c for c in heads.columns if c not in ("store", "probe")]]]
    heads.to_csv(args.out / "probe_headroom.csv", index=False, float_format="%.4f")
    plot_maps(maps).savefig(args.out / "probe_vs_ground_truth.png", dpi=110)
    choices = {p: choose(table, p) for p in CANDIDATES if (table["probe"] == p).any()}
    complete = [f.assign(probe=p) for p, (_, f) in choices.items() if len(f) == len(SELECTION)]
    if complete:
        folds = pd.concat(complete, ignore_index=True)
        folds[["probe", *(c for c in folds.columns if c != "probe")]].to_csv(args.out / "loo_choice.csv", index=False, float_format="%.4f")
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(table.drop(columns=[c for c in table.columns if c.endswith(("_lo", "_hi"))]).round(3).to_string(index=False))
        print()
        print(heads.assign(stop=heads["stop_share"].map(lambda q: f"stop {q:.2f}"))
              .pivot_table(index=["store", "probe", "target"], columns="stop", values="factor").round(2).to_string())
        for probe, (chosen, folds) in choices.items():
            if len(folds) > 1:
                print(f"\nthe plan's rule for {probe} on {', '.join(folds['left_out'])} chooses {chosen}; "
                      "each map left out:")
                print(folds.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
