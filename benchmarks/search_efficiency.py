"""Search efficiency on stored ground truth, in compute: what a searcher pays until it finds a good edge.

    python benchmarks/search_efficiency.py --store URL [--seeds N]

works on any store holding an exhaustive single-edge sweep (every edge of its space): the
committed stores and, by default, any other analysis/results/*.sqlite whose sweep is complete.
Nothing is set per store. The store itself is never changed, except that a missing
gradient-rank score table is computed into it: replays run in a temporary SQLite copy.

Each searcher is replayed (runners/replay.py: every trial looked up, not trained) over ``--seeds``
seeds (default 50): the default searcher of ``placement-search run`` (``SearchConfig``'s searcher
and scheduler), the baselines random, tpe and gga-tpe, and any ``--searchers`` (``NAME`` or
``NAME+asha``: the same with ASHA, simulated from the stored learning curves). The replays use the
ground truth's config with the shipped search defaults (SearchConfig()), single edges.

Compute is in epoch-equivalents (DESIGN.md §12, placement_search/search/cost.py): a trial costs
the epochs it trained (a stopped trial only those) times its placement's measured relative cost
per epoch (benchmarks/results/edge_cost.json; else the analytic model, printed); a reused trial
nothing; a searcher that reads the gradient-rank scores pays one scoring pass up front. Per
searcher, median and inter-quartile range over seeds of the compute (and, for continuity, the
trials) until it has run to the end
  (a) a top-5 % single edge, and
  (b) a single edge within one training-noise sd of the best edge's mean val accuracy (sd from
      the store's edges trained with two seeds, else DEFAULT_TRIAL_SD, printed).
Only a placement the searcher ran to the end counts as found (regret.py). Searchers are built
for ``--budget`` trials (it shapes their plan: gga-tpe warms up with a quarter of it); a replay
runs at least that many and goes on, up to the number of single edges, until it has found both,
so that a slow searcher gets a figure instead of 'never'. A seed that never finds one counts as
infinite compute. Each store's output ends with ``<store file>: default/random compute = X.XX``
(median compute of the default over random's, criterion (a)).

    python benchmarks/search_efficiency.py                         # default stores, 50 seeds
    python benchmarks/search_efficiency.py --store analysis/results/dinov2s_fashion.sqlite --seeds 20
    python benchmarks/search_efficiency.py --searchers random+asha --out-dir benchmarks/results/search_efficiency
    python benchmarks/search_efficiency.py --smoke-test            # 5 seeds, short replays
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.analysis.experiments import training_noise  # noqa: E402
from placement_search.analysis.regret import (  # noqa: E402
    FULL_STATUSES,
    hits,
    median_ratio_ci,
    near_best_threshold,
    regret_compute_summary,
    regret_curves,
    target_summary,
    top_fraction_threshold,
)
from placement_search.config import SearchConfig, apply_override, config_from_dict  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.experiment import edge_space  # noqa: E402
from placement_search.placement.edges import Placement  # noqa: E402
from placement_search.runners.base import RunnerOptions, SearchJob, disk_config  # noqa: E402
from placement_search.runners.replay import ReplayRunner  # noqa: E402
from placement_search.search.cost import table_for_config, trial_cost_function, uses_scores  # noqa: E402
from placement_search.search.dedup import DeduplicatingSearcher  # noqa: E402
from placement_search.search.searchers import make_searcher, parse_searcher  # noqa: E402
from placement_search.search.service import score_provider  # noqa: E402
from placement_search.store import (  # noqa: E402
    GROUND_TRUTH_SEARCHER,
    METRICS,
    TrialRecord,
    benchmark_key,
    open_store,
    score_description,
    score_key,
)
from placement_search.store.engine import mask_url, parse_url, sqlite_file, sqlite_snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "analysis" / "results"
COMMITTED = [RESULTS / "minilm_trec6.sqlite", RESULTS / "dinov2s_fashion.sqlite"]
BASELINES = ("random", "tpe", "gga-tpe")
FRACTION = 0.05
#: issue 12's targets for the default searcher, as ratios of random's median compute
TARGET_A, TARGET_ANY = 0.5, 1.0
PREFIX = "eff"


@dataclass(frozen=True)
class Entry:
    """One benchmarked searcher: its name, the scheduler it runs with, and its label."""

    searcher: str
    scheduler: str
    default: bool = False

    @property
    def label(self) -> str:
        return self.searcher + ("+asha" if self.scheduler == "asha" else "")

    @property
    def shown(self) -> str:
        return self.label + (" (default)" if self.default else "")


def entries(extra: list[str]) -> list[Entry]:
    """The default searcher first, then the baselines and ``extra`` (``NAME`` or ``NAME+asha``)."""
    default = SearchConfig()
    out = [Entry(default.searcher, default.scheduler, True)]
    for spec in [*BASELINES, *extra]:
        name, _, sched = spec.partition("+")
        if sched not in ("", "asha", "fifo"):
            raise SystemExit(f"error: searcher {spec!r}: write NAME or NAME+asha")
        parse_searcher(name)
        if name in ("exhaustive",) or name.startswith("baseline:"):
            raise SystemExit(f"error: {name} is not a search strategy to benchmark")
        entry = Entry(name, sched or "fifo")
        if all((e.searcher, e.scheduler) != (entry.searcher, entry.scheduler) for e in out):
            out.append(entry)
    return out


# ----------------------------------------------------------------------------------- the store


def snapshot(url: str, folder: Path) -> tuple[str, Path | None]:
    """A SQLite copy of the store to replay in: a consistent read-only copy of a SQLite file (a
    sweep may be writing it), or the ground-truth rows of any other store. (copy URL, source file)."""
    parsed = parse_url(url)
    path = sqlite_file(parsed)
    if path is not None:
        if not path.is_file():
            raise SystemExit(f"error: no results store at {path}")
        copy = sqlite_snapshot(path, folder)
        return f"sqlite:///{copy}", path
    copy = folder / "replay.sqlite"
    copy_rows(url, f"sqlite:///{copy}")
    return f"sqlite:///{copy}", None


def copy_rows(src_url: str, dst_url: str) -> None:
    """Copy what replays read (benchmark keys, exhaustive and repeat searches with their trials and
    curves, score tables) from any store into a new SQLite store."""
    with open_store(src_url, must_exist=True) as src, open_store(dst_url) as dst:
        searches = src.list_searches()
        for key in dict.fromkeys(searches["benchmark_key"]):
            dst.ensure_benchmark(key, src.get_benchmark(key) or {})
        for name in searches.loc[searches["searcher"].isin([GROUND_TRUTH_SEARCHER, "repeat"]), "name"]:
            record = src.get_search(name)
            dst.create_search(name, record.benchmark_key, record.searcher, record.num_samples, record.config,
                              record.options)
            trials, curves = src.trials_frame(name), src.curves_frame(name)
            by_trial = {t: g.drop(columns=["search", "trial_id", "trial_key", "placement", "seed"]).to_dict("records")
                        for t, g in curves.groupby("trial_id")}
            dst.record_trials([
                TrialRecord(name, r.trial_key, r.placement, int(r.seed), r.status,
                            {m: _plain(getattr(r, m)) for m in METRICS}, by_trial.get(r.trial_id, []),
                            error=r.error if isinstance(r.error, str) else None, node=_plain(r.node),
                            device=_plain(r.device), label=_plain(r.label))
                for r in trials.itertuples()])
            dst.set_search_status(name, record.status)
        for row in src.score_sets_frame().itertuples():
            frame = src.load_scores(row.score_key)
            if frame is not None:
                dst.save_scores(row.score_key, row.description, frame)


def _plain(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else value


def ground_truth_config(store):
    """(benchmark key, config) of the exhaustive sweep with the most single edges."""
    searches = store.list_searches()
    sweeps = searches[searches["searcher"] == GROUND_TRUTH_SEARCHER]
    if sweeps.empty:
        raise PlacementSearchError(f"{store.url} holds no exhaustive sweep")
    sizes = {k: len(store.ground_truth(k)) for k in dict.fromkeys(sweeps["benchmark_key"])}
    key = max(sizes, key=sizes.get)
    # the largest sweep, the first one among equals (a promoted extra seed ties with the sweep it repeats)
    row = sweeps[sweeps["benchmark_key"] == key].sort_values("trials_done", ascending=False, kind="stable").iloc[0]
    return key, row["name"], config_from_dict(store.get_search(row["name"]).config)


def replay_config(cfg, url: str, overrides: list[str]):
    """The ground truth's config with the shipped search defaults, single edges, the copy as store."""
    raw = cfg.to_dict()
    raw["search"] = {**SearchConfig().__dict__, "store": url}
    raw["space"]["k"], raw["space"]["k_max"] = 1, None
    for item in overrides:
        apply_override(raw, item)
    return config_from_dict(raw)


def missing_edges(cfg, gt: pd.DataFrame) -> list[str]:
    space = edge_space(cfg)
    have = set(gt["placement"])
    return [str(Placement.of([e])) for e in space.edges if str(Placement.of([e])) not in have]


def ensure_scores(cfg, store, source_url: str, source_file: Path | None) -> str:
    """The score table of the config: in the copy already, or computed now into the copy and the store."""
    key = score_key(cfg)
    if store.load_scores(key) is not None:
        return f"score table {key} in the store"
    from placement_search.scoring import stored_or_computed_scores

    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        stored_or_computed_scores(cfg, store)
    frame = store.load_scores(key)
    with open_store(f"sqlite:///{source_file}" if source_file else source_url) as source:
        if source.load_scores(key) is None:
            source.save_scores(key, score_description(cfg), frame)
    return f"score table {key} computed ({time.perf_counter() - start:.0f} s) and saved into the store"


# ------------------------------------------------------------------------------------ replays


def stop_when_found(gt_value: dict[str, float], thresholds: tuple[float, ...], min_trials: int):
    """A replay's stop rule: at least ``min_trials`` trials and every threshold reached by a
    placement run to the end (a reused copy of such a run counts as it)."""
    full: set[str] = set()
    reached = [False] * len(thresholds)

    def stop(records) -> bool:
        r = records[-1]
        if r.status in FULL_STATUSES or (r.status == "reused" and r.placement_text in full):
            full.add(r.placement_text)
            value = gt_value.get(r.placement_text, r.metrics.get("val_accuracy"))
            for i, t in enumerate(thresholds):
                reached[i] = reached[i] or (value is not None and value >= t - 1e-12)
        return len(records) >= min_trials and all(reached)

    return stop


def replay(cfg, store, name: str, entry: Entry, seed: int, budget: int, max_trials: int, stop) -> None:
    """One seeded search, built as ``run`` builds it for ``budget`` trials, allowed ``max_trials``."""
    cfg = config_from_dict(cfg.to_dict())
    cfg.search.searcher, cfg.search.scheduler, cfg.search.seed = entry.searcher, entry.scheduler, seed
    space = edge_space(cfg)
    inner, _ = make_searcher(entry.searcher, cfg, space, budget, seed, score_provider(cfg, store))
    searcher = DeduplicatingSearcher(inner, space, cfg.training.seed, max_trials, store.url, name)
    store.create_search(name, benchmark_key(cfg), entry.searcher, max_trials, disk_config(cfg),
                        {"seed": seed, "runner": "replay", "replay": True, "budget": budget})
    ReplayRunner(RunnerOptions(verbose=0), stop=stop).run(SearchJob(cfg, store, name, searcher, max_trials, space))
    store.set_search_status(name, "completed")


def fmt(x: float) -> str:
    return "never" if math.isinf(x) else "-" if math.isnan(x) else f"{x:.1f}"


def spread(row, what: str) -> str:
    return f"{fmt(row[what + '_median']):>6} [{fmt(row[what + '_q25'])}, {fmt(row[what + '_q75'])}]"


def ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(a):
        return math.inf if not math.isinf(b) else math.nan
    return a / b if b > 0 else math.nan


def replay_store(url: str, seeds: int, budget: int, extra: list[str], overrides: list[str],
                 out_dir: Path | None, explicit: bool) -> bool:
    shown = mask_url(url)
    with tempfile.TemporaryDirectory(prefix="search-efficiency-") as tmp:
        copy_url, source_file = snapshot(url, Path(tmp))
        store_file = source_file.name if source_file else shown
        with open_store(copy_url) as store:
            try:
                key, gt_name, stored_cfg = ground_truth_config(store)
            except PlacementSearchError as exc:
                if explicit:
                    raise SystemExit(f"error: {exc}") from None
                print(f"{store_file}: skipped ({exc})\n", flush=True)
                return False
            cfg = replay_config(stored_cfg, copy_url, overrides)
            gt = store.ground_truth(key)
            missing = missing_edges(cfg, gt)
            if missing:
                what = (f"its exhaustive sweep {gt_name} holds {len(gt)} of {len(gt) + len(missing)} single edges "
                        f"(missing e.g. {', '.join(missing[:3])})")
                if explicit:
                    raise SystemExit(f"error: {store_file}: {what}; finish the sweep first")
                print(f"{store_file}: skipped, {what} (a stratified sample? analysis/searcher_selection.py "
                      f"--evaluate replays the edges it holds)\n", flush=True)
                return False
            n_points = edge_space(cfg).num_points
            scores_line = ensure_scores(cfg, store, url, source_file)
            sd, sd_source = training_noise(store.trials_frame(benchmark_key=key))
            thr_a = top_fraction_threshold(gt, FRACTION)
            thr_b = near_best_threshold(gt, sd)
            table = table_for_config(cfg, n_points)
            todo = entries(extra)
            overhead = {e.label: table.scoring_epochs if uses_scores(e.searcher, n_points, cfg) else 0.0 for e in todo}
            max_trials = max(budget, len(gt))
            vals = gt["val_accuracy_mean"]
            n_seeds = sorted(set(gt["n_seeds"].astype(int)))
            per_edge = f"{n_seeds[0]}" if len(n_seeds) == 1 else f"{n_seeds[0]}-{n_seeds[-1]}"
            print(f"{store_file}: ground truth {gt_name} ({key}), {len(gt)} single edges, {per_edge} training "
                  f"seed(s) each, best mean val accuracy {vals.max():.4f}", flush=True)
            print(f"  cost: {table.describe()}; one scoring pass = {table.scoring_epochs:.2f} epoch-equivalents; "
                  f"{scores_line}")
            print(f"  training noise: trial sd {sd:.4f} ({sd_source})")
            print(f"  (a) top {100 * FRACTION:.0f} %: val accuracy >= {thr_a:.4f} ({int((vals >= thr_a - 1e-12).sum())} "
                  f"edges); (b) within 1 sd of the best: >= {thr_b:.4f} ({int((vals >= thr_b - 1e-12).sum())} edges)")
            print(f"  {seeds} seeds per searcher; searchers built for {budget} trials, each replay runs at least "
                  f"{budget} and on until it found (a) and (b), at most {max_trials}", flush=True)
            gt_value = dict(zip(gt["placement"], vals, strict=True))
            names: dict[str, str] = {}
            for i, entry in enumerate(todo):
                start = time.perf_counter()
                for seed in range(seeds):
                    name = f"{PREFIX}-{i}-s{seed}"
                    names[name] = entry.label
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                        replay(cfg, store, name, entry, seed, budget, max_trials,
                               stop_when_found(gt_value, (thr_a, thr_b), budget))
                uses = " (reads the scores)" if overhead[entry.label] else ""
                print(f"  {entry.shown:<24} {seeds} replays in {time.perf_counter() - start:6.1f} s{uses}", flush=True)
            trials = store.trials_frame(benchmark_key=key)
            trials = trials[trials["search"].isin(names)].copy()
            trials["searcher"] = trials["search"].map(names)
        curves = regret_curves(trials, gt, trial_cost=trial_cost_function(table), overhead=overhead)
    a, b = target_summary(curves, thr_a), target_summary(curves, thr_b)
    order = [e.label for e in todo]
    a, b = (t.set_index("searcher").loc[order] for t in (a, b))
    stopped = curves.groupby("searcher")["status"].apply(lambda s: (s == "stopped").mean())
    header = (f"  {'searcher':<24} {'scoring':>7}  {'(a) compute median [IQR]':>26} {'trials [IQR]':>22} {'found':>5}"
              f"  {'(b) compute median [IQR]':>26} {'trials [IQR]':>22} {'found':>5}  stopped")
    print(header)
    for e in todo:
        ra, rb = a.loc[e.label], b.loc[e.label]
        print(f"  {e.shown:<24} {overhead[e.label]:7.2f}  {spread(ra, 'compute'):>26} {spread(ra, 'trials'):>22} "
              f"{int(ra['n_found']):>2}/{int(ra['n_seeds']):<2}  {spread(rb, 'compute'):>26} {spread(rb, 'trials'):>22} "
              f"{int(rb['n_found']):>2}/{int(rb['n_seeds']):<2}  {100 * stopped.get(e.label, 0.0):5.1f} %")
    rnd = "random"
    print("  median compute / random's: " + "; ".join(
        f"{e.shown} (a) {ratio(a.loc[e.label, 'compute_median'], a.loc[rnd, 'compute_median']):.2f} "
        f"(b) {ratio(b.loc[e.label, 'compute_median'], b.loc[rnd, 'compute_median']):.2f}" for e in todo if e.label != rnd))
    default = todo[0].label
    ra_ = ratio(a.loc[default, "compute_median"], a.loc[rnd, "compute_median"])
    rb_ = ratio(b.loc[default, "compute_median"], b.loc[rnd, "compute_median"])
    print(f"  targets (issue 12) for the default {default}: (a) <= {TARGET_A:.2f}x random: "
          f"{'met' if ra_ <= TARGET_A else 'NOT met'}; never above {TARGET_ANY:.2f}x: (a) "
          f"{'met' if ra_ <= TARGET_ANY else 'NOT met'}, (b) {'met' if rb_ <= TARGET_ANY else 'NOT met'}")
    print("  " + default_ratio_intervals(curves, default, rnd, thr_a, thr_b))
    if out_dir is not None:
        write_outputs(out_dir, Path(store_file).stem, curves, a, b, thr_a, thr_b, table.describe())
    print(f"{store_file}: default/random compute = {ra_:.2f}\n", flush=True)
    return True


def default_ratio_intervals(curves: pd.DataFrame, default: str, rnd: str, thr_a: float, thr_b: float) -> str:
    """The default's two ratios to random with bootstrap 95 % intervals over the seeds: a 50-seed
    median ratio moves by about 0.2x between sets of seeds, so a target is read against these."""
    rng = np.random.default_rng(0)
    parts = []
    for name, thr in (("a", thr_a), ("b", thr_b)):
        h = hits(curves, thr)
        r, lo, hi = median_ratio_ci(h.loc[h["searcher"] == default, "compute"],
                                    h.loc[h["searcher"] == rnd, "compute"], rng)
        parts.append(f"({name}) {r:.2f} [{lo:.2f}, {hi:.2f}]")
    return (f"the default's ratios with bootstrap 95 % intervals (seeds resampled): {', '.join(parts)}; "
            f"a target inside an interval is within noise of it")


def write_outputs(out_dir: Path, stem: str, curves: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame,
                  thr_a: float, thr_b: float, cost_line: str) -> None:
    """CSV of compute to (a)/(b) per searcher, the regret-vs-compute summary and its plot."""
    from placement_search.analysis.plots import plot_regret

    out_dir.mkdir(parents=True, exist_ok=True)
    pd.concat([a.assign(criterion="a_top5"), b.assign(criterion="b_within_1sd")]).to_csv(
        out_dir / f"{stem}_compute_to_target.csv")
    summary = regret_compute_summary(curves)
    summary.to_csv(out_dir / f"{stem}_regret_compute.csv", index=False)
    full = summary[summary["n_seeds"] == summary.groupby("searcher")["n_seeds"].transform("max")]
    shown = full.replace([np.inf], np.nan).rename(columns={"compute": "trial"})
    fig = plot_regret(shown)
    ax = fig.axes[0]
    ax.set_xlabel("compute (epoch-equivalents on the average edge)")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_title(f"regret vs compute ({stem})\n{cost_line}", fontsize=8)
    fig.savefig(out_dir / f"{stem}_regret_compute.png", dpi=120)


def default_stores() -> list[tuple[str, bool]]:
    others = sorted(p for p in RESULTS.glob("*.sqlite") if p not in COMMITTED)
    return [(f"sqlite:///{p}", True) for p in COMMITTED] + [(f"sqlite:///{p}", False) for p in others]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", action="append", help="a store URL or SQLite path (repeatable); default: the "
                        "committed stores and any analysis/results/*.sqlite with a complete sweep")
    parser.add_argument("--seeds", type=int, default=50, help="replays per searcher (default 50)")
    parser.add_argument("--budget", type=int, default=60, help="trials the searchers are built for (default 60)")
    parser.add_argument("--searchers", default="", help="more searchers, comma-separated: NAME or NAME+asha")
    parser.add_argument("--out-dir", type=Path, help="write compute-to-target CSVs and regret-vs-compute plots here")
    parser.add_argument("--smoke-test", action="store_true", help="5 seeds, searchers built for 20 trials")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="change the replayed searches' config for every store, e.g. scoring.pooling=mean")
    args = parser.parse_args()
    if args.seeds < 1 or args.budget < 1:
        parser.error("--seeds and --budget must be at least 1")
    seeds, budget = (5, 20) if args.smoke_test else (args.seeds, args.budget)
    extra = [s.strip() for s in args.searchers.split(",") if s.strip()]
    stores = [(s, True) for s in args.store] if args.store else default_stores()
    for url, explicit in stores:
        try:
            replay_store(url, seeds, budget, extra, args.overrides, args.out_dir, explicit)
        except PlacementSearchError as exc:
            raise SystemExit(f"error: {exc}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
