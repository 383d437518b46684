"""Search efficiency on stored ground truth: trials until a top-5 % single edge is found.

Replays random, tpe and gga-tpe against the exhaustive single-edge sweep in a results store
(no training: every suggestion is answered from the store), over many searcher seeds, and
reports the median number of trials each needed to reach a placement whose validation accuracy
is among the best 5 % of single edges. Target: gga-tpe needs at most a third of random's trials.
The committed store is never modified: replays run in a temporary copy.

    python benchmarks/search_efficiency.py                     # both committed stores, 50 seeds
    python benchmarks/search_efficiency.py --store sqlite:///analysis/results/dinov2s_fashion.sqlite
    python benchmarks/search_efficiency.py --smoke-test        # 5 seeds, for a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.analysis.regret import trials_to_top_fraction  # noqa: E402
from placement_search.config import apply_override, config_from_dict  # noqa: E402
from placement_search.search.service import RunOptions, run_search  # noqa: E402
from placement_search.store import open_store  # noqa: E402
from placement_search.store import GROUND_TRUTH_SEARCHER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STORES = [ROOT / "analysis/results/minilm_trec6.sqlite", ROOT / "analysis/results/dinov2s_fashion.sqlite"]
SEARCHERS = ("random", "tpe", "gga-tpe")
TARGET = 1 / 3


def ground_truth_search(store):
    """The exhaustive search with the most trials: its config defines the benchmark."""
    searches = store.list_searches()
    sweeps = searches[searches["searcher"] == GROUND_TRUTH_SEARCHER]
    if sweeps.empty:
        raise SystemExit(f"error: {store.url} holds no exhaustive sweep; run one first")
    row = sweeps.sort_values("trials_done").iloc[-1]
    return store.get_search(row["name"])


def replay_all(store_path: Path, seeds: int, budget: int, fraction: float, overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / store_path.name
        shutil.copy(store_path, copy)
        url = f"sqlite:///{copy}"
        store = open_store(url)
        record = ground_truth_search(store)
        gt_name, cfg_dict, key = record.name, record.config, record.benchmark_key
        for item in overrides:  # e.g. scoring.pooling=mean: settings outside the benchmark key
            apply_override(cfg_dict, item)
        cfg = config_from_dict(cfg_dict)
        cfg.space.k, cfg.space.k_max = 1, None  # the ground truth holds single edges
        gt = store.ground_truth(key)
        print(f"{store_path.name}: ground truth {gt_name}{' with ' + ', '.join(overrides) if overrides else ''}, {len(gt)} single edges; "
              f"{seeds} seeds x {len(SEARCHERS)} searchers, budget {budget} trials each", flush=True)
        for searcher in SEARCHERS:
            start = time.perf_counter()
            for seed in range(seeds):
                with contextlib.redirect_stdout(io.StringIO()):  # scoring progress and summaries
                    run_search(cfg, RunOptions(searcher=searcher, num_samples=budget, name=f"eff-{searcher}-s{seed}",
                                               store=url, replay=True, seed=seed, verbose=0))
            print(f"  {searcher:<8} {seeds} replays in {time.perf_counter() - start:5.1f} s", flush=True)
        trials = store.trials_frame(benchmark_key=key)
        trials = trials[trials["search"].str.startswith("eff-")]
        table = trials_to_top_fraction(trials, gt, fraction)
        print(table.to_string(index=False))
        med = table.set_index("searcher")["median_trials"]
        ratio = med["gga-tpe"] / med["random"]
        print(f"top {100 * fraction:.0f} % = val accuracy >= {table['threshold'].iloc[0]:.4f}; "
              f"median trials: random {med['random']:.1f}, tpe {med['tpe']:.1f}, gga-tpe {med['gga-tpe']:.1f}")
        print(f"gga-tpe / random = {ratio:.2f} (target <= {TARGET:.2f}): {'met' if ratio <= TARGET else 'NOT met'}\n",
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", action="append", help="sqlite:///path of a store with an exhaustive sweep")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--budget", type=int, default=60, help="trials per replayed search")
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--smoke-test", action="store_true", help="5 seeds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="change the replayed searches' config, e.g. scoring.pooling=mean (gga-tpe's scores)")
    args = parser.parse_args()
    stores = [Path(s.removeprefix("sqlite:///")) for s in args.store] if args.store else DEFAULT_STORES
    for path in stores:
        replay_all(path, 5 if args.smoke_test else args.seeds, args.budget, args.fraction, args.overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
