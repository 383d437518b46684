"""The price of a placement (placement/price.py): the schedule is what PlacedModel runs, and the
FLOPs are what torch's counter counts on the placed model itself."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import torch

from placement_search.config import AdapterConfig, TaskConfig, load_config
from placement_search.placement.edges import Edge, Placement
from placement_search.placement.placed_model import PlacedModel
from placement_search.placement.price import (
    _count,
    flop_profile,
    forward_schedule,
    placement_price,
    synthetic_inputs,
)

ROOT = Path(__file__).resolve().parents[2]


def placements(n: int, count: int = 40, seed: int = 0) -> list[Placement]:
    rng = random.Random(seed)
    out = [Placement.of([]), Placement.of([Edge(n - 1, 0)]), Placement.of([Edge(0, 1), Edge(n - 1, 2)])]
    while len(out) < count:
        k = rng.randint(1, 4)
        out.append(Placement.of({Edge(rng.randrange(n), rng.randrange(n)) for _ in range(k)}))
    return out


def test_schedule_is_what_the_placed_model_runs(tiny_backbone):
    """Sub-layer calls and adapter applications of one forward, counted on the model."""
    n = tiny_backbone.num_points
    calls: list[int] = []
    original = tiny_backbone.sublayer

    def counting(index, x, ctx):
        calls.append(index)
        return original(index, x, ctx)

    tiny_backbone.sublayer = counting
    inputs = synthetic_inputs(tiny_backbone, TaskConfig(max_length=8))
    for p in placements(n):
        model = PlacedModel(tiny_backbone, p, 3)
        applied: Counter[str] = Counter()
        for key, adapter in model.adapters.items():
            adapter.register_forward_hook(lambda m, i, o, key=key, applied=applied: applied.update([key]))
        calls.clear()
        with torch.no_grad():
            model(inputs)
        schedule = forward_schedule(p, n)
        assert sorted(calls) == sorted(schedule.plain + schedule.adapted), str(p)
        assert {f"{e.source}->{e.destination}": k for e, k in schedule.applications if k} == dict(applied), str(p)


def test_inference_flops_are_the_placed_models_counted_flops(tiny_backbone):
    """The profile's sum for a placement equals torch's FlopCounterMode over the placed model's
    whole forward (adapters and head included); the linear probe costs exactly 1.0."""
    task, adapter = TaskConfig(max_length=8), AdapterConfig(rank=4)
    profile = flop_profile(tiny_backbone, task, adapter, 3)
    inputs = synthetic_inputs(tiny_backbone, task)
    assert profile.sublayer(1) > 0 and profile.adapter > 0 and profile.head > 0
    for p in placements(tiny_backbone.num_points, 12):
        model = PlacedModel(tiny_backbone, p, 3, adapter)
        with torch.no_grad():
            _, counted = _count(lambda model=model: model(inputs))
        assert profile.inference_flops(p) == pytest.approx(counted, rel=1e-12), str(p)
    assert profile.inference_flops(Placement.of([])) == profile.probe_flops()


def test_trained_trial_records_its_price():
    from placement_search.experiment import load_experiment
    from placement_search.training import train_placement

    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["training.epochs=1"])
    backbone, task = load_experiment(cfg)
    results = {}
    for text in ("", "0->1", "4->1"):
        result, _ = train_placement(cfg, Placement.parse(text), backbone, task)
        results[text] = result
        price = placement_price(cfg, backbone, task, text)
        assert result.inference_cost == pytest.approx(price.inference_cost)
        assert result.num_adapter_params == price.adapter_params
        assert result.train_flops == pytest.approx(price.train_flops(1.0, len(result.curve), True))
    assert results[""].inference_cost == 1.0 and results[""].num_adapter_params == 0
    # a recurrent edge re-runs the network from its destination: it costs more at inference and
    # the same to train as the forward edge into that destination (pass 1 is the cached backbone)
    assert results["4->1"].inference_cost > results["0->1"].inference_cost > 1.0
    assert results["4->1"].train_flops == pytest.approx(results["0->1"].train_flops)
    # the linear probe trains its head on features computed once
    assert results[""].train_flops < results["0->1"].train_flops


def test_every_tune_report_carries_the_cost_so_far(monkeypatch):
    """A trial a scheduler stops after any report is recorded with the epochs it ran and their cost."""
    from placement_search.runners import tune_trainable

    reports: list[dict] = []
    monkeypatch.setattr(tune_trainable.tune, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    monkeypatch.setattr(tune_trainable.tune, "get_checkpoint", lambda: None)
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["training.epochs=3", "training.device=cpu"])
    tune_trainable.run_trial({"placement": "3->1", "seed": 0}, cfg.to_dict())
    assert len(reports) == 3 and "test_accuracy" in reports[-1]
    for r in reports:
        assert r["num_adapter_params"] > 0 and r["inference_cost"] > 1.0 and r["wall_time_s"] > 0
    assert [r["epochs"] for r in reports[:-1]] == [1.0, 2.0]
    flops = [r["train_flops"] for r in reports]
    assert flops[0] < flops[1] < flops[2]
