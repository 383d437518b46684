"""Training with the frozen-prefix cache gives the same results as without it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from placement_search.config import load_config
from placement_search.experiment import load_experiment
from placement_search.placement.edges import Placement
from placement_search.prefix_cache import cache_for
from placement_search.training import train_placement, trainable_state

ROOT = Path(__file__).resolve().parents[1]


def assert_trains_alike(preset: str, placement: str, first: list[str], second: list[str], rtol: float, atol: float):
    """Train ``placement`` (float64, 2 epochs) with the overrides ``first``, then ``second``: the same
    accuracies, the same training loss, adapter and head weights within ``rtol`` / ``atol``."""
    runs = []
    for overrides in (first, second):
        cfg = load_config(ROOT / "search_spaces" / preset, ["backbone.dtype=float64", "training.epochs=2", *overrides])
        backbone, task = load_experiment(cfg)
        cache_for(backbone, 1).clear()
        result, model = train_placement(cfg, Placement.parse(placement), backbone, task)
        runs.append((result, trainable_state(model)))
    (a, w1), (b, w2) = runs
    assert a.val_accuracy == b.val_accuracy and a.test_accuracy == b.test_accuracy
    assert a.train_loss == pytest.approx(b.train_loss, rel=1e-9)
    for key in w1:
        torch.testing.assert_close(w1[key], w2[key], rtol=rtol, atol=atol)


@pytest.mark.parametrize("preset", ["tiny.yaml", "tiny_vision.yaml"])
@pytest.mark.parametrize("placement", ["empty", "1->3", "2->2", "4->1", "0->2,4->1", "3->0,4->2"])
@pytest.mark.parametrize("budget_gb", [4.0, 2e-4])  # everything cached / only a few points fit
def test_cached_training_equals_uncached(preset, placement, budget_gb):
    budget = f"training.prefix_cache_gb={budget_gb}"
    assert_trains_alike(preset, placement, ["training.prefix_cache=true", budget],
                        ["training.prefix_cache=false", budget], rtol=1e-8, atol=1e-10)


def test_cache_respects_its_budget():
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml")
    backbone, task = load_experiment(cfg)
    cache = cache_for(backbone, 1)
    cache.clear()
    point_bytes = len(task.train) * cfg.task.max_length * backbone.hidden_size * 4
    cache.max_bytes = int(2.5 * point_bytes)
    points = cache.points("k", task.train, backbone.num_points - 1, torch.device("cpu"))
    assert len(points) == 2 and cache.used_bytes <= cache.max_bytes
    plain = backbone.stream({k: v[:3] for k, v in task.train.inputs.items()})
    torch.testing.assert_close(points[1][:3], plain[1])
    cache.clear()


@pytest.mark.parametrize("placement", ["1->3", "4->1", "3->0,4->2"])
def test_trimmed_padding_trains_like_full_padding(placement):
    """Batches cut to their longest question (with the cache, which holds full-width values) train
    as batches padded to max_length do (64 tokens here: the tiny questions have 16 to 53)."""
    assert_trains_alike("tiny.yaml", placement,
                        ["task.max_length=64", "training.trim_padding=true", "training.prefix_cache=true"],
                        ["task.max_length=64", "training.trim_padding=false", "training.prefix_cache=false"],
                        rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("preset", ["tiny.yaml", "tiny_vision.yaml"])
def test_linear_probe_runs_the_backbone_once_per_example(preset):
    """The empty placement trains its head on pooled features computed in one backbone pass over
    the data (float32, the presets' own dtype: the same numbers as the uncached path), and a later
    probe trial on the same worker reuses them."""
    from placement_search import training

    cfg = load_config(ROOT / "search_spaces" / preset, ["training.epochs=3"])
    backbone, task = load_experiment(cfg)
    last = backbone.num_points - 1
    examples: list[int] = []
    original = backbone.sublayer

    def counting(index, x, ctx):
        if index == last:
            examples.append(x.shape[0])
        return original(index, x, ctx)

    training._FEATURES.clear()
    training.placement_price(cfg, backbone, task, "")  # its FLOP profile (one synthetic example) is kept
    backbone.sublayer = counting
    try:
        cached, _ = train_placement(cfg, Placement.of([]), backbone, task)
        assert sum(examples) == len(task.train) + len(task.validation) + len(task.test)
        examples.clear()
        again, _ = train_placement(cfg, Placement.of([]), backbone, task)
        assert examples == [] and again.curve == cached.curve
    finally:
        del backbone.sublayer
    cfg.training.prefix_cache = False
    plain, _ = train_placement(cfg, Placement.of([]), backbone, task)
    assert cached.val_accuracy == plain.val_accuracy and cached.test_accuracy == plain.test_accuracy
    for p, q in zip(cached.curve, plain.curve, strict=True):
        assert p.train_loss == pytest.approx(q.train_loss, rel=1e-5)
        assert p.val_loss == pytest.approx(q.val_loss, rel=1e-5)
    assert cached.train_flops < plain.train_flops
