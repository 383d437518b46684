"""analysis/searcher_selection.py's in-process replays: a stratified sweep is replayed on the edges it
holds (an unmeasured suggestion is skipped at no cost), and medians stay defined when seeds never
find a target. A hand-made 4-point ground truth; no store, no training."""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import searcher_selection as ss  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402


def _ground_truth(keep) -> ss.GroundTruth:
    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    space = EdgeSpace(4, tuple(cfg.space.edge_types))
    acc = {e: 0.7 + 0.01 * i for i, e in enumerate(space.edges)}
    scores = pd.DataFrame({"source": [e.source for e in space.edges], "destination": [e.destination for e in space.edges],
                           "rank": np.arange(len(space.edges), dtype=float)})
    measured = {e: a for i, (e, a) in enumerate(acc.items()) if keep(i)}
    gt = ss.GroundTruth("made-up", cfg, space, measured, scores, 0.005, 1.0)
    gt.cost = lambda placement: 1.0  # every edge one epoch-equivalent: compute = trials run
    return gt


def test_a_stratified_sweep_is_replayed_on_the_edges_it_holds():
    gt = _ground_truth(lambda i: i % 4 == 0)  # every 4th edge, as sweep_local.py --every 4
    assert len(gt.accuracy) == 4 and gt.top5 == max(gt.accuracy.values())
    skipped = 0
    for seed in range(5):
        seen: list[str] = []
        searcher = ss.make_baseline("random", gt, seed, 16)
        suggest = searcher.suggest

        def spy(trial_id, _suggest=suggest, seen=seen):
            config = _suggest(trial_id)
            seen.append(config["placement"] if "placement" in config else ss._slot_text(config, gt.space))
            return config

        searcher.suggest = spy
        out = ss.replay(searcher, gt, budget=16, uses_scores=False)
        # the replay stops at the best measured edge (top 5 % and within noise of the best at once),
        # having counted, and paid for, only the measured edges it ran
        run = [p for p in seen if ss.Placement.parse(p).edges[0] in gt.accuracy]
        assert gt.accuracy[ss.Placement.parse(run[-1]).edges[0]] == gt.top5
        assert out["trials_top5"] == out["compute_top5"] == len(run) == out["trials_noise"]
        skipped += len(seen) - len(run)
    assert skipped > 0  # the searcher did suggest unmeasured edges, and they cost nothing

def test_prior_gp_replays_a_partial_sweep():
    gt = _ground_truth(lambda i: i % 3 == 0)
    prior = ss.transfer_for(None, [])
    rows = ss.run_prior_gp(gt, prior, ss.DEFAULT_PARAMS, range(3), budget=16)
    assert all(1 <= r["trials_top5"] <= len(gt.accuracy) for r in rows)


def test_medians_with_never():
    rows = [{"trials_top5": t, "compute_top5": t, "trials_noise": math.inf, "compute_noise": math.inf} for t in (1, 2, math.inf)]
    out = ss.summarize(rows)
    assert out["trials_top5_median"] == 2 and out["trials_top5_q75"] == math.inf
    assert out["compute_noise_median"] == math.inf and out["compute_noise_found"] == 0.0
    rows.append({"trials_top5": math.inf, "compute_top5": math.inf, "trials_noise": 1, "compute_noise": 1})
    assert ss.summarize(rows)["trials_top5_median"] == math.inf  # half never: between 2 and never is never


def test_sensitivity_moves_one_hyper_parameter_at_a_time():
    from dataclasses import asdict

    base = asdict(ss.DEFAULT_PARAMS)
    for label, params in ss.sensitivity_variants(ss.DEFAULT_PARAMS):
        changed = {k for k, v in asdict(params).items() if v != base[k]}
        assert len(changed) == 1 and label.startswith(changed.pop() + "=")


def test_a_grid_axis_given_on_the_command_line_widens_the_grid_and_names_each_setting():
    import pytest

    axes = ss.parse_grid_axes(["trust_var=0.5,2", "cost_exponent=1"])
    assert axes == {"trust_var": [0.5, 2.0], "cost_exponent": [1.0]}
    grid = {**ss.GRID, **axes}
    settings = ss.grid_settings(grid)
    assert len(settings) == len(ss.grid_settings()) // len(ss.GRID["cost_exponent"]) * 2
    ids = {ss.setting_id(p, tuple(grid)) for p in settings}
    assert len(ids) == len(settings) and all("trust_var=" in i for i in ids)
    assert ss.setting_id(ss.DEFAULT_PARAMS) == ss.setting_id(ss.DEFAULT_PARAMS, tuple(ss.GRID))  # shipped ids unchanged
    for bad in ("trust_var", "no_such=1", "trust_var=", "trust_var=high"):
        with pytest.raises(SystemExit, match="--grid"):
            ss.parse_grid_axes([bad])


def test_ablation_rows_cover_every_variant_store_and_target():
    gt = _ground_truth(lambda i: True)
    prior = ss.transfer_for(None, [])
    random_runs = {gt.name: pd.DataFrame(ss.run_baseline("random", gt, range(4), 16))}
    table = ss.ablation([gt], {gt.name: prior}, random_runs, ss.DEFAULT_PARAMS, 2, 16, np.random.default_rng(0))
    variants = 8 + len(ss.sensitivity_variants(ss.DEFAULT_PARAMS))  # default + 7 parts removed or swapped
    assert len(table) == variants * len(ss.TARGETS) and table["variant"].nunique() == variants
    assert (table["ratio"] > 0).all() and (table["lo"] <= table["hi"]).all()


def test_a_copied_store_counts_once():
    first, copy, other = (_ground_truth(lambda i: True) for _ in range(3))
    first.name, copy.name, other.name = "trec6", "trec6_k3", "fashion"
    first.benchmark = copy.benchmark = "b1"
    other.benchmark = "b2"
    assert [g.name for g in ss.distinct([first, copy, other])] == ["trec6", "fashion"]


def test_a_complete_sweep_counts_over_a_sample_of_it():
    """The digits sample (163 edges) and the complete digits map share a benchmark key: whichever
    comes first, the complete one stays."""
    sample, full = (_ground_truth(lambda i: True) for _ in range(2))
    sample.name, full.name = "digits", "digits_full"
    sample.benchmark = full.benchmark = "b1"
    sample.accuracy = dict(list(sample.accuracy.items())[::4])
    assert [g.name for g in ss.distinct([sample, full])] == ["digits_full"]
    assert [g.name for g in ss.distinct([full, sample])] == ["digits_full"]



def test_a_store_is_never_its_own_prior_source():
    """Neither the store searched nor a copy holding its ground truth feeds its transfer prior."""
    first, copy, other = (_ground_truth(lambda i: True) for _ in range(3))
    first.name, copy.name, other.name = "trec6", "trec6_k3", "fashion"
    first.benchmark = copy.benchmark = "b1"
    other.benchmark = "b2"
    pool = [first, copy, other]
    assert [g.name for g in ss.sources_for(first, pool)] == ["fashion"]
    assert [g.name for g in ss.sources_for(other, pool)] == ["trec6", "trec6_k3"]
    assert ss.sources_for(None, pool) == pool
    # the prior is fitted on the sources only: with none left it is flat
    assert not ss.transfer_for(first, [first, copy]).tasks
    assert len(ss.transfer_for(first, pool).tasks) == 1

def test_the_selection_stores_are_the_shipped_priors_sources():
    """A store completed later must not slip into the selection or the prior through a glob: the
    default stores are exactly the ground truths the shipped transfer prior was fitted on."""
    from placement_search.search.surrogate import prior_task_name
    from placement_search.search.transfer_prior import PRIOR

    assert all(p.exists() for p in ss.SELECTION_STORES)
    with tempfile.TemporaryDirectory() as tmp:
        gts = [ss.load_ground_truth(p, Path(tmp)) for p in ss.SELECTION_STORES]
    assert {prior_task_name(g.cfg.backbone.name, g.cfg.task.name) for g in gts} == set(PRIOR.sources)
    assert set(ss.SELECTION_STORES) < set(ss.ALL_STORES)


def test_a_seed_averaged_map_judges_by_its_mean_but_shows_one_trial():
    """On a map averaged over seeds, a replayed trial shows the searcher the edge's trial at the
    preset's seed (as the benchmark's replay looks it up), while the targets read the mean."""
    gt = _ground_truth(lambda i: True)
    gt.observed = {e: 0.5 for e in gt.accuracy}  # every trial reads far below its edge's mean

    class Recorder:
        def __init__(self):
            self.edges, self.shown = iter(sorted(gt.accuracy, key=gt.accuracy.get, reverse=True)), []

        def suggest(self, trial_id):
            return {"placement": str(ss.Placement.of([next(self.edges)]))}

        def on_trial_complete(self, trial_id, result=None, error=False):
            self.shown.append(result["val_accuracy"])

    searcher = Recorder()
    out = ss.replay(searcher, gt, budget=16, uses_scores=False)
    assert out["trials_top5"] == 1 and out["trials_noise"] == 1  # the first (best) edge meets both targets
    assert searcher.shown == [0.5]


def test_settings_rank_by_their_worst_figure_then_the_next_worst():
    random = {s: {"compute_top5_median": 10.0, "compute_noise_median": 10.0} for s in ("a", "b")}
    tied = {"a": {"compute_top5_median": 9.0, "compute_noise_median": 5.0},
            "b": {"compute_top5_median": 8.0, "compute_noise_median": 4.0}}
    better_below = {"a": {"compute_top5_median": 9.0, "compute_noise_median": 3.0},
                    "b": {"compute_top5_median": 6.0, "compute_noise_median": 4.0}}
    worse = {"a": {"compute_top5_median": 9.5, "compute_noise_median": 1.0},
             "b": {"compute_top5_median": 1.0, "compute_noise_median": 1.0}}
    keys = {name: ss.rank_key(rows, random, ["a", "b"]) for name, rows in
            (("tied", tied), ("better_below", better_below), ("worse", worse))}
    assert ss.criterion(tied, random, ["a", "b"]) == ss.criterion(better_below, random, ["a", "b"]) == keys["tied"][0]
    assert sorted(keys, key=keys.get) == ["better_below", "tied", "worse"]


def test_replays_read_the_backbone_map_of_the_searched_backbone():
    gt = _ground_truth(lambda i: True)
    backbone = gt.cfg.backbone.name
    rng = np.random.default_rng(1)
    maps = [(f"{backbone}/task{k}", {e: float(a + 0.02 * rng.normal()) for e, a in gt.accuracy.items()}, 4)
            for k in range(3)]
    prior = ss.TransferPrior.fit(maps)
    on = ss.make_prior_gp(gt, prior, ss.DEFAULT_PARAMS.replace(backbone_weight=1.0), 0).model
    off = ss.make_prior_gp(gt, prior, ss.DEFAULT_PARAMS, 0).model
    assert not np.allclose(on.mu0, off.mu0)
    # the mean map rates the edges as the maps do (accuracy rises with the edge's index here)
    assert np.corrcoef(on.X[:, 5], np.arange(len(gt.space.edges)))[0, 1] > 0.9


def test_replays_learn_slopes_on_the_searched_backbones_source_maps():
    gt = _ground_truth(lambda i: True)
    backbone = gt.cfg.backbone.name
    maps = [(f"{backbone}/task{k}", {e: float(sign * a) for e, a in gt.accuracy.items()}, 4)
            for k, sign in enumerate((1, -1))] + [("elsewhere/task", dict(gt.accuracy), 4)]
    prior = ss.TransferPrior.fit(maps)
    on = ss.make_prior_gp(gt, prior, ss.DEFAULT_PARAMS.replace(source_var=2.0), 0).model
    off = ss.make_prior_gp(gt, prior, ss.DEFAULT_PARAMS, 0).model
    assert on.X.shape[1] == off.X.shape[1] + 2  # the two maps of this backbone, not the other's
    assert np.corrcoef(on.X[:, 6], np.arange(len(gt.space.edges)))[0, 1] > 0.9
    assert np.corrcoef(on.X[:, 7], np.arange(len(gt.space.edges)))[0, 1] < -0.9


def test_confirm_ranks_one_axis_by_the_worst_figure_and_labels_the_choice():
    gt = _ground_truth(lambda i: True)
    random_runs = {gt.name: pd.DataFrame(ss.run_baseline("random", gt, range(6), 16))}
    table, chosen = ss.confirm_axis([gt], random_runs, "random_share", (0.25, 1.0), 6, 16, np.random.default_rng(0))
    assert list(table["random_share"]) == [0.25, 1.0] and table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "random_share"].item() == chosen
    worst = table.set_index("random_share")[[f"ratio_{m}" for m in ss.TARGETS]].max(axis=1)
    assert worst[chosen] == worst.min()


def test_set_changes_prior_gp_hyper_parameters_by_name():
    assert ss.params_with(["backbone_weight=1", "temperature=0"]) == ss.DEFAULT_PARAMS.replace(
        backbone_weight=1.0, temperature=0.0)
    assert ss.params_with([]) == ss.DEFAULT_PARAMS
    for bad, message in (("bogus=1", "bogus: not a prior-gp hyper-parameter"), ("backbone_weight", "NAME=VALUE")):
        with pytest.raises(SystemExit, match=message):
            ss.params_with([bad])
