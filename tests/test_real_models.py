"""End to end on the real offline backbones and tasks (slow: minutes on 2 CPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from placement_search.config import load_config
from placement_search.experiment import load_experiment
from placement_search.placement.edges import EdgeSpace, Placement
from placement_search.placement.selection import gga
from placement_search.scoring import score_edges
from placement_search.training import train_placement

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "preset, overrides",
    [
        ("minilm_trec6.yaml", ["training.epochs=1", "task.train_samples=800"]),
        ("dinov2s_fashion.yaml", ["training.epochs=1", "task.train_samples=1000"]),
    ],
)
def test_gga_edge_beats_the_linear_probe(preset, overrides):
    cfg = load_config(ROOT / "search_spaces" / preset, overrides)
    backbone, task = load_experiment(cfg)
    scores = score_edges(backbone, task.train, task.num_classes, cfg.scoring, progress=False)
    edge = gga(scores.mapping(), EdgeSpace(backbone.num_points), k=1)
    probe, _ = train_placement(cfg, Placement(), backbone, task)
    placed, _ = train_placement(cfg, edge, backbone, task)
    assert placed.test_accuracy > probe.test_accuracy, (str(edge), placed.test_accuracy, probe.test_accuracy)
