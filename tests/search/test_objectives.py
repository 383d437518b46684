"""Multi-objective and price-limited searches (search/objectives.py), replayed over a hand-made
single-edge ground truth of the tiny model, and the report's Pareto fronts (analysis/pareto.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray.tune.search import Searcher

from placement_search.analysis.pareto import baseline_groups, front_table, hypervolume, pareto_front
from placement_search.config import load_config
from placement_search.errors import PlacementSearchError
from placement_search.experiment import edge_space
from placement_search.placement.edges import Edge, Placement
from placement_search.search.objectives import make_objective_searcher, make_pricer
from placement_search.search.service import RunOptions, run_search
from placement_search.store import TrialRecord, benchmark_description, benchmark_key, open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"


def tiny(*overrides: str):
    return load_config(TINY, ["space.k=1", *overrides])


def accuracy(edge: Edge) -> float:
    """Recurrent edges into early points are best and dearest at inference: a real trade-off."""
    return round(0.6 + 0.05 * (edge.source - edge.destination if edge.is_recurrent else 1) + 0.01 * edge.source, 4)


@pytest.fixture
def store_path(tmp_path):
    """A store with an exhaustive single-edge ground truth (priced as a migrated store is) and the
    baselines the report compares with: the probe and parallel-all."""
    cfg = tiny()
    pricer = make_pricer(cfg)
    path = tmp_path / "store.sqlite"
    store = open_store(str(path))
    key = benchmark_key(cfg)
    store.ensure_benchmark(key, benchmark_description(cfg))
    space = edge_space(cfg)
    store.create_search("gt", key, "exhaustive", len(space), cfg.to_dict())
    store.create_search("base", key, "baseline", 2, cfg.to_dict())

    def record(search, i, placement, acc, label=None):
        curve = [{"step": 14, "epoch": 1.0, "val_accuracy": acc, "val_loss": 1 - acc, "train_loss": 1.0, "lr": 0.01}]
        return TrialRecord(search, f"{search}{i}", placement, cfg.training.seed, "completed",
                           {"val_accuracy": acc, "best_val_accuracy": acc, "test_accuracy": acc, "epochs": 1.0,
                            "num_trainable_params": 1, **pricer(placement)}, curve, label=label)

    store.record_trials([record("gt", i, str(Placement.of([e])), accuracy(e)) for i, e in enumerate(space.edges)])
    store.record_trials([record("base", 0, "", 0.55, "probe"),
                         record("base", 1, "0->1,1->2,2->3,3->4", 0.7, "parallel-all")])
    store.close()
    return path


@pytest.mark.parametrize("searcher", ["nsga2", "tpe"])
def test_multi_objective_replay_never_trains_over_its_limit(store_path, searcher):
    cfg = tiny()
    summary = run_search(cfg, RunOptions(store=str(store_path), replay=True, searcher=searcher, num_samples=12,
                                         objectives=["val_accuracy", "inference_cost"], max_inference_cost=1.3,
                                         name=f"mo-{searcher}", verbose=0))
    trials = summary.trials
    assert len(trials) == 12 and set(trials["status"]) <= {"replayed", "reused"}
    assert trials["inference_cost"].notna().all() and (trials["inference_cost"] <= 1.3).all()
    with open_store(str(store_path)) as store:
        assert store.get_search(f"mo-{searcher}").config["search"]["objectives"] == ["val_accuracy", "inference_cost"]


def test_adapter_parameter_limit_never_lets_three_adapters_out():
    """K from 1 to 3 under a limit of two adapters' parameters: no suggestion with three adapters."""
    cfg = tiny("space.k_max=3", "search.objectives=[val_accuracy, adapter_params]")
    pricer = make_pricer(cfg)
    one = pricer("0->1")["num_adapter_params"]
    cfg.search.max_adapter_params = 2 * one
    pricer.max_adapter_params = 2 * one
    space = edge_space(cfg)
    for name in ("nsga2", "tpe", "random"):
        searcher = make_objective_searcher(name, cfg, space, 20, 0, lambda: {}, pricer)
        ks = []
        for i in range(20):
            config = searcher.suggest(f"t{i}")
            assert config not in (None, Searcher.FINISHED)
            placement = Placement.parse(str(config["placement"])) if "placement" in config else None
            k = len(placement) if placement is not None else int(config["k"])
            ks.append(k)
            searcher.on_trial_complete(f"t{i}", {"val_accuracy": 0.5 + 0.01 * i, "placement": str(placement or "")}
                                       if placement is not None else {"val_accuracy": 0.5 + 0.01 * i})
        assert max(ks) <= 2, name
        assert set(ks) == {1, 2}, name


def test_a_limit_nothing_meets_is_one_clear_error():
    cfg = tiny("space.k=2", "search.max_adapter_params=10")
    with pytest.raises(PlacementSearchError, match="over the limits search.max_adapter_params=10"):
        make_objective_searcher("tpe", cfg, edge_space(cfg), 8, 0, lambda: {}).suggest("t0")


def test_bad_objectives_are_refused():
    with pytest.raises(PlacementSearchError, match="write val_accuracy first"):
        tiny("search.objectives=[inference_cost]")
    with pytest.raises(PlacementSearchError, match="does not take search.objectives"):
        cfg = tiny("search.objectives=[val_accuracy, inference_cost]")
        make_objective_searcher("prior-gp", cfg, edge_space(cfg), 8, 0, lambda: {})


def test_pareto_front_and_hypervolume():
    frame = pd.DataFrame({"val_accuracy": [0.8, 0.9, 0.85, 0.7, 0.9], "cost": [1.0, 2.0, 2.5, 0.5, 2.0],
                          "placement": list("abcde")})
    front = pareto_front(frame, "cost")
    assert list(front["placement"]) == ["d", "a", "b"]
    # from (0.7, 3): 0.1 x 2 (a) + 0.1 x 1 (b); d sits on the reference accuracy and adds nothing
    assert hypervolume(front["val_accuracy"], front["cost"], (0.7, 3.0)) == pytest.approx(0.3)
    assert hypervolume(np.array([0.6]), np.array([1.0]), (0.7, 3.0)) == 0.0


def test_report_draws_the_front_against_the_baselines(store_path, tmp_path):
    from placement_search.analysis.report import write_report

    run_search(tiny(), RunOptions(store=str(store_path), replay=True, searcher="nsga2", num_samples=10,
                                  objectives=["val_accuracy", "inference_cost"], name="mo", verbose=0))
    with open_store(str(store_path)) as store:
        trials = store.trials_frame()
    groups = baseline_groups(trials[trials["search"] != "mo"])
    assert set(groups["group"]) == {"probe", "parallel-all", "single edges"}
    front, table, reference = front_table(trials[trials["search"] == "mo"], groups, "inference_cost", 0.55)
    assert reference[0] == 0.55 and list(table["group"])[0] == "this search"
    singles = table.set_index("group").loc["single edges", "hypervolume"]
    assert 0 < table.set_index("group").loc["this search", "hypervolume"] <= singles  # 10 of the 25 edges
    index = write_report(str(store_path), tmp_path / "report", n_boot=50)
    text = index.read_text()
    assert "Pareto fronts" in text and "this search" in text
    assert list((tmp_path / "report").glob("*_mo_inference_cost_front.png"))


def test_cli_run_takes_objectives_and_limits(store_path, capsys):
    from placement_search.cli import main

    code = main(["run", TINY.as_posix(), "--set", "space.k=1", "--store", str(store_path), "--replay",
                 "--searcher", "nsga2", "--num-samples", "6", "--objectives", "val_accuracy,inference_cost",
                 "--max-inference-cost", "1.2", "--name", "cli-mo"])
    assert code == 0
    with open_store(str(store_path)) as store:
        trials = store.trials_frame("cli-mo")
    assert len(trials) == 6 and (trials["inference_cost"] <= 1.2).all()
    assert main(["run", TINY.as_posix(), "--store", str(store_path), "--replay", "--max-inference-cost", "0.5"]) == 2
    assert "--max-inference-cost must be in [1, inf)" in capsys.readouterr().err
