"""The HTML report: one page, a section per benchmark key, every table and plot backed by a CSV.

The page is self-contained apart from the PNGs beside it (no scripts, no external CSS), so it can
be opened from disk, attached to an issue or served as static files. Missing pieces (no ground
truth, no score table, no replays) are said in the page instead of failing the report.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from itertools import combinations, permutations
from pathlib import Path
from typing import Any

import pandas as pd

from placement_search.analysis.correlation import cross_task_correlation, join_scores, rank_accuracy_correlation
from placement_search.analysis.experiments import measured_noise, multi_adapter_table, seed_noise
from placement_search.analysis.fidelity import benchmark_headroom
from placement_search.analysis.maps import edge_type_breakdown, single_edge_heatmap, top_edges, transfer_regret
from placement_search.analysis.pareto import pareto_section
from placement_search.analysis.plots import plot_edge_type_box, plot_heatmap, plot_rank_vs_accuracy, plot_regret
from placement_search.analysis.regret import (
    DEFAULT_TRIAL_SD,
    near_best_threshold,
    optimum,
    regret_compute_summary,
    regret_curves,
    regret_summary,
    replay_searches,
    target_summary,
    top_fraction_threshold,
    trials_to_top_fraction,
)
from placement_search.analysis.results import Results, load_results, matching_score_keys
from placement_search.errors import PlacementSearchError
from placement_search.search.cost import scoring_cost, table_for_description, trial_cost_function, uses_scores
from placement_search.search.features import score_columns

DEFAULT_REPORT_DIR = Path("analysis") / "report"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .4em 0; }
.note { color: #8a5a00; background: #fff7e0; padding: .4em .8em; border-left: 3px solid #e0a800; }
.muted { color: #666; font-size: 90%; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.figs figure { margin: 0; flex: 1 1 460px; }
.figs figure.wide { flex-basis: 100%; }
figcaption { font-size: 90%; color: #555; }
"""


class _Page:
    """Collects HTML parts and writes every table and figure to the report folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts: list[str] = []
        self.files: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def heading(self, level: int, text: str, anchor: str | None = None) -> None:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.add(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def para(self, text: str, cls: str | None = None) -> None:
        self.add(f'<p{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html.escape(text)}</p>')

    def note(self, text: str) -> None:
        self.para(text, "note")

    def csv(self, frame: pd.DataFrame, name: str, index: bool = False) -> str:
        frame.to_csv(self.out / name, index=index)
        self.files.append(name)
        return name

    def table(self, frame: pd.DataFrame, name: str, caption: str = "", index: bool = False) -> None:
        """The frame as an HTML table, with a link to the CSV written beside the page."""
        self.csv(frame, name, index)
        shown = frame.to_html(index=index, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}",
                              escape=True)
        link = f' <a href="{html.escape(name)}">CSV</a>'
        self.add(f'<p class="muted">{html.escape(caption)}{link}</p>{shown}')

    def figure(self, fig, name: str, caption: str, csv_name: str | None = None, wide: bool = False) -> str:
        """``wide``: a row of its own (the single-edge heatmap: an 81 x 81 map at half width has
        5 px cells and 7 px labels)."""
        fig.savefig(self.out / name, dpi=110)
        self.files.append(name)
        data = f' (data: <a href="{html.escape(csv_name)}">{html.escape(csv_name)}</a>)' if csv_name else ""
        opening = '<figure class="wide">' if wide else "<figure>"
        return (f'{opening}<img src="{html.escape(name)}" alt="{html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)}{data}</figcaption></figure>")

    def figures(self, items: list[str]) -> None:
        if items:
            self.add('<div class="figs">' + "".join(items) + "</div>")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _describe(desc: dict[str, Any]) -> str:
    """backbone name / task name and the training recipe's headline numbers, from a description."""
    backbone = (desc.get("backbone") or {}).get("name", "?")
    task = (desc.get("task") or {}).get("name", "?")
    training = desc.get("training") or {}
    extra = ", ".join(f"{k}={training[k]}" for k in ("epochs", "lr", "batch_size") if k in training)
    adapter = desc.get("adapter") or {}
    extra_a = ", ".join(f"{k}={adapter[k]}" for k in ("rank", "r", "activation", "scale") if k in adapter)
    return " · ".join(x for x in (f"backbone {backbone}", f"task {task}", extra, extra_a) if x)


def _searches_table(results: Results, key: str | None = None) -> pd.DataFrame:
    s = results.searches
    if key is not None:
        s = s[s["benchmark_key"] == key]
    cols = ["name", "searcher", *([] if key else ["benchmark_key"]), "status", "trials_done", "trials_failed", "num_samples", "best_val_accuracy",
            "test_at_best_val", "best_placement"]
    return s[[c for c in cols if c in s.columns]].reset_index(drop=True)


def _overview(results: Results, keys: list[str]) -> pd.DataFrame:
    """One row per benchmark key: what it is and which pieces of analysis it has."""
    rows = []
    for key in keys:
        desc = results.benchmarks.get(key, {})
        s = results.searches[results.searches["benchmark_key"] == key]
        t = results.trials[results.trials["benchmark_key"] == key]
        gt = results.ground_truth.get(key)
        rows.append({
            "benchmark_key": key,
            "backbone": (desc.get("backbone") or {}).get("name"),
            "task": (desc.get("task") or {}).get("name"),
            "searches": len(s),
            "trials": len(t),
            "ground_truth_edges": 0 if gt is None else len(gt),
            "best_single_edge_val": None if gt is None or gt.empty else optimum(gt),
            "score_tables": len(matching_score_keys(desc, results.score_sets)),
            "replay_searches": int(t.loc[t["status"] == "replayed", "search"].nunique()),
        })
    return pd.DataFrame(rows)


def _benchmark_section(page: _Page, results: Results, key: str, n_boot: int) -> None:
    desc = results.benchmarks.get(key, {})
    page.heading(2, f"Benchmark {key}", anchor=f"bench-{key}")
    page.para(_describe(desc), "muted")
    p = _slug(key) + "_"
    page.table(_searches_table(results, key), p + "searches.csv", "Searches under this key.")

    gt = results.ground_truth.get(key)
    if gt is None or gt.empty:
        page.note("No ground truth: no exhaustive single-edge search has completed trials under this key, so "
                  "heatmap, edge types, correlation and regret are not available. Run "
                  "`placement-search run CONFIG --searcher exhaustive` with the same config.")
        return

    # ------------------------------------------------------------------ ground truth
    page.heading(3, "Single-edge ground truth")
    seeds = gt["n_seeds"]
    page.para(f"{len(gt)} edges measured, {int(seeds.min())}–{int(seeds.max())} training seed(s) each; "
              f"best mean val accuracy {optimum(gt):.4f}.")
    page.csv(gt, p + "ground_truth.csv")
    matrix = single_edge_heatmap(gt)
    page.csv(matrix, p + "heatmap_val_accuracy.csv", index=True)
    breakdown = edge_type_breakdown(gt)
    figs = [page.figure(plot_heatmap(matrix, f"single-edge val accuracy ({key})"), p + "heatmap.png",
                        "Mean val accuracy of each single adapter (i → j); grey = not measured; "
                        "the diagonal (sequential edges) is outlined.", p + "heatmap_val_accuracy.csv", wide=True),
            page.figure(plot_edge_type_box(gt), p + "edge_types.png", "Single-edge val accuracy by edge type.",
                        p + "ground_truth.csv")]
    page.figures(figs)
    page.table(breakdown, p + "edge_types.csv", "Accuracy by edge type and share of the 10 best edges; mean cost "
               "of an edge of the type: adapter parameters, inference FLOPs over the linear probe's (a recurrent "
               "edge re-runs the network from its destination), training wall time and training TFLOPs.")
    cols = ["placement", "type", "val_accuracy_mean", "val_accuracy_std", "test_accuracy_mean", "n_seeds"]
    page.table(top_edges(gt)[cols], p + "top_edges.csv", "The 10 best single edges by mean val accuracy.")

    trials = results.trials[results.trials["benchmark_key"] == key]
    noise = seed_noise(trials, n_boot=min(n_boot, 1000))
    if len(noise):
        page.heading(3, "Training noise")
        page.para("Single edges trained again with another seed: trial_sd (= sd of the paired difference / sqrt 2) "
                  "is one trial's noise; spread_sd is how much accuracy varies across edges. Differences between "
                  "single placements smaller than about 2 x trial_sd are not resolved.")
        page.table(noise, p + "seed_noise.csv", "Seed-to-seed agreement of single-edge accuracy.")
    multi = multi_adapter_table(trials, optimum(gt))
    if len(multi):
        page.heading(3, "Several adapters: GGA, random placements and baselines")
        page.para("Mean, sd and best val/test accuracy per search, variant and number of adapters K; the last "
                  "column compares the mean val accuracy with the best single edge (selected on val accuracy, so "
                  "that optimum is biased upwards).")
        page.table(multi, p + "multi_adapter.csv", "Multi-adapter placements.")

    # ------------------------------------------------------------------ scores
    page.heading(3, "Gradient rank vs accuracy")
    keys = [k for k in matching_score_keys(desc, results.score_sets) if k in results.scores]
    if not keys:
        page.note("No gradient-rank score table in this store for this backbone and task; compute one with "
                  "`placement-search score` or any search using a GGA searcher.")
    for sk in keys:
        scores = results.scores[sk]
        if "rank" not in scores.columns:
            page.note(f"Score table {sk} has no rank column.")
            continue
        rtol = scores.attrs.get("rtol")
        corr = rank_accuracy_correlation(scores, gt, n_boot=n_boot)
        q = f"{p}scores_{_slug(sk)}_"
        page.para(f"Score table {sk}" + (f" (rtol {rtol})" if rtol is not None else "") +
                  f": Spearman and Kendall tau-b of rank vs mean val accuracy, 95 % bootstrap intervals over "
                  f"{n_boot} edge resamples.")
        page.table(corr, q + "correlation.csv", "Rank–accuracy correlation, overall and per edge type.")
        # the proxy table shows Kendall without its interval: its bootstrap is not computed
        proxies = pd.concat([rank_accuracy_correlation(scores, gt, score_col=c, by_type=False, n_boot=n_boot,
                                                       kendall_ci=False)
                             .assign(proxy=c) for c in score_columns(scores)], ignore_index=True)
        page.table(proxies[["proxy", "n", "spearman", "spearman_lo", "spearman_hi", "kendall"]],
                   q + "proxies.csv", "Every zero-cost column of the score table as a predictor of single-edge "
                   "accuracy (the paper's open question 2): Spearman with its 95 % bootstrap interval.")
        joined_cols = ["source", "destination", "type", "rank", "val_accuracy_mean"]
        page.csv(join_scores(scores, gt)[joined_cols], q + "rank_vs_accuracy.csv")
        page.figures([page.figure(plot_rank_vs_accuracy(scores, gt, title=f"rank vs accuracy ({sk})"),
                                  q + "rank_vs_accuracy.png", "Gradient rank against mean val accuracy per edge.",
                                  q + "rank_vs_accuracy.csv")])

    n_points = int(max(gt["source"].max(), gt["destination"].max())) + 1
    table = table_for_description(desc, n_points)
    thresholds, sd, sd_note = _targets(gt, noise)

    # ------------------------------------------------------------------ multi-fidelity ceiling
    headroom = benchmark_headroom(results, key, thresholds)
    if len(headroom):
        page.heading(3, "What stopping after one epoch could save")
        page.para("ASHA (search.scheduler: asha) stops trials whose one-epoch val accuracy ranks low. Its "
                  "ceiling on this task, from the ground truth's own learning curves: a halving that knows the "
                  "map's one-epoch quantiles stops the bottom share of the edges after epoch 1 (at 1/epochs of "
                  "their price) and trains the rest. factor = mean price per trial with stopping / without, "
                  "divided by the share of target edges that still run to the end: what the rule multiplies "
                  "random search's compute to a target by. Near 1 or above, leave ASHA off.")
        page.table(headroom, p + "stopping_headroom.csv", "The one-epoch ceiling per target and stopped share.")

    # ------------------------------------------------------------------ regret
    page.heading(3, "Searchers vs the exhaustive optimum")
    if regret_curves(trials, gt).empty:
        page.note("No replay searches under this key: run `placement-search run CONFIG --searcher random "
                  "--replay --replay-seeds 10` (and tpe, gga-tpe) to compare searchers against the ground truth.")
        return
    searchers = sorted(set(trials.loc[trials["search"].isin(replay_searches(trials)), "searcher"]))
    overhead = {s: scoring_cost(table) if _reads_scores(s, n_points) else 0.0 for s in searchers}
    curves = regret_curves(trials, gt, trial_cost=trial_cost_function(table), overhead=overhead)
    summary = regret_summary(curves)
    by_compute = regret_compute_summary(curves)
    page.csv(curves, p + "regret_curves.csv")
    page.csv(summary, p + "regret_summary.csv")
    page.csv(by_compute, p + "regret_compute_summary.csv")
    page.para("Compute is in epoch-equivalents (one epoch of the recipe on the average single edge): a trial "
              "costs its epochs times its placement's relative cost per epoch, a reused trial nothing, and a "
              "searcher that reads the gradient-rank scores starts at one scoring pass "
              f"({scoring_cost(table):.2f}). Cost model: {table.describe()}. Only placements a search ran to "
              "the end count as found (not trials a scheduler stopped early).")
    page.figures([
        page.figure(_plot_by_compute(by_compute, f"regret vs compute ({key})"), p + "regret_compute.png",
                    "Median regret over seeds against cumulative compute; band = inter-quartile range; each "
                    "line ends where its first seed's replay ends.", p + "regret_compute_summary.csv"),
        page.figure(plot_regret(summary, f"regret ({key})"), p + "regret.png",
                    "Median regret over seeds by trial count (one replay search = one seed); band = "
                    "inter-quartile range.", p + "regret_summary.csv")])
    targets = pd.concat([target_summary(curves, t).assign(criterion=c) for c, t in thresholds.items()],
                        ignore_index=True)
    page.para(f"(a) top 5 % of single edges: val accuracy ≥ {thresholds['a: top 5 %']:.4f}; (b) within one "
              f"training-noise sd ({sd:.4f}, {sd_note}) of the best edge: ≥ "
              f"{thresholds['b: within 1 sd of best']:.4f}. A seed that never got there counts as infinite.")
    page.table(targets[["criterion", *[c for c in targets.columns if c != "criterion"]]], p + "compute_to_target.csv",
               "Compute (epoch-equivalents) and trials until a placement meeting the criterion was run to the "
               "end: median and quartiles over seeds.")
    top = trials_to_top_fraction(trials, gt, 0.05)
    page.table(top, p + "trials_to_top5.csv", "Trials until a top-5 % placement is found, per searcher.")
    last = curves.groupby("search", sort=False).tail(1)
    final = last.groupby("searcher").agg(n_seeds=("regret", "size"), trials=("trial", "max"),
                                         compute_median=("compute", "median"),
                                         final_regret_median=("regret", "median"),
                                         final_regret_max=("regret", "max")).reset_index()
    page.table(final, p + "final_regret.csv", "Regret at the end of each replay, over seeds.")


def _targets(gt: pd.DataFrame, noise: pd.DataFrame) -> tuple[dict[str, float], float, str]:
    """Issue 12's targets on a ground truth: (a) a top-5 % edge, (b) one within a training-noise sd of
    the best (the measured sd, else the documented default); with the sd and where it came from."""
    row = measured_noise(noise)
    sd = float(row["trial_sd"]) if row is not None else DEFAULT_TRIAL_SD
    sd_note = "measured (training noise above)" if row is not None else "default: no edge trained with two seeds"
    return ({"a: top 5 %": top_fraction_threshold(gt, 0.05), "b: within 1 sd of best": near_best_threshold(gt, sd)},
            sd, sd_note)


def _reads_scores(searcher: str, n_points: int) -> bool:
    """Whether replays of ``searcher`` paid for the score table (search/cost.uses_scores); a name
    the searchers module does not know (an old store's) is taken not to."""
    try:
        return uses_scores(searcher, n_points)
    except Exception:  # noqa: BLE001 - a searcher that cannot be built here is charged nothing
        return False


def _plot_by_compute(summary: pd.DataFrame, title: str):
    """plot_regret's figure over compute: each searcher up to where all its seeds still ran."""
    full = summary[summary["n_seeds"] == summary.groupby("searcher")["n_seeds"].transform("max")]
    shown = full.replace([float("inf")], float("nan")).rename(columns={"compute": "trial"})
    fig = plot_regret(shown, title)
    fig.axes[0].set_xlabel("compute (epoch-equivalents on the average edge)")
    return fig


def _cross_task(page: _Page, results: Results, keys: list[str], n_boot: int) -> None:
    with_gt = [k for k in keys if k in results.ground_truth and len(results.ground_truth[k])]
    if len(with_gt) < 2:
        return
    page.heading(2, "Across benchmarks", anchor="cross")
    rows = []
    for a, b in combinations(with_gt, 2):
        c = cross_task_correlation(results.ground_truth[a], results.ground_truth[b], n_boot=n_boot)
        if c["n"].iloc[0] >= 3:
            rows.append(c.assign(group=f"{a} vs {b}"))
    if not rows:
        page.note("No two benchmarks share three or more measured edges.")
        return
    page.table(pd.concat(rows, ignore_index=True).rename(columns={"group": "pair"}), "cross_benchmark.csv",
               "Agreement of single-edge maps over the edges both measured (Spearman, Kendall, 95 % bootstrap).")
    moved = [transfer_regret(results.ground_truth[a], results.ground_truth[b]).assign(moved=f"{a} → {b}")
             for a, b in permutations(with_gt, 2)]
    page.table(pd.concat(moved, ignore_index=True)[["moved", *moved[0].columns]], "transfer_regret.csv",
               "Moving one benchmark's best single edges to the other: the best of its top edges there, its "
               "regret and percentile among the target's edges, and the regret of their mean.")


def write_report(
    store_url: str | Results,
    out_dir: str | Path = DEFAULT_REPORT_DIR,
    benchmark: str | None = None,
    n_boot: int = 2000,
) -> Path:
    """Write ``index.html``, its PNGs and CSVs for a store (or loaded Results); returns the page path."""
    results = store_url if isinstance(store_url, Results) else load_results(store_url)
    keys = list(dict.fromkeys(results.searches["benchmark_key"])) if len(results.searches) else []
    if benchmark is not None:
        if benchmark not in keys:
            shown = ", ".join(keys) or "none"
            raise PlacementSearchError(f"no benchmark key {benchmark!r} in {results.store_url}; keys: {shown}")
        keys = [benchmark]
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlacementSearchError(f"cannot create report folder {out}: {exc.strerror}; choose another --out") from None
    page = _Page(out)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page.heading(1, "placement-search report")
    page.para(f"Store {results.store_url} · generated {stamp} · {len(results.searches)} searches, "
              f"{len(results.trials)} trials, {len(results.score_sets)} score tables.", "muted")
    if not keys:
        page.note("The store has no searches yet.")
    else:
        toc = "".join(f'<li><a href="#bench-{html.escape(k)}">{html.escape(k)}</a> — '
                      f"{html.escape(_describe(results.benchmarks.get(k, {})))}"
                      f"{'' if k in results.ground_truth else ' (no ground truth)'}</li>" for k in keys)
        page.add(f"<ul>{toc}</ul>")
        page.table(_overview(results, keys), "overview.csv", "Benchmark keys in this report.")
        page.csv(_searches_table(results, benchmark), "searches.csv")
        page.add('<p class="muted">Every search: <a href="searches.csv">searches.csv</a></p>')
    for key in keys:
        _benchmark_section(page, results, key, n_boot)
        pareto_section(page, results, key)  # multi-objective searches: fronts and hypervolumes
    _cross_task(page, results, keys, n_boot)
    body = "\n".join(page.parts)
    text = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>placement-search report</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")
    index = out / "index.html"
    index.write_text(text, encoding="utf-8")
    return index
