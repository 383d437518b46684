"""The paper-scale presets: ViT-B/16 (625 edges) and ViT-g/14 (6,561 edges), offline with random
weights (``timm-random:``) and by hub name; the 1B-parameter model is only built on the meta device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from placement_search.backbones import load_backbone, wrap_timm_model
from placement_search.backbones.timm_vit import timm_random_model
from placement_search.config import load_config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import EdgeSpace

PRESETS = Path(__file__).resolve().parents[2] / "search_spaces"
# preset -> (points, d, edges)
PAPER_SCALE = {
    "vit_b16_random_fashion": (25, 768, 625),
    "vit_b16_in21k_cifar100": (25, 768, 625),
    "vit_g14_random_fashion": (81, 1408, 6561),
    "vit_g14_laion2b_cifar100": (81, 1408, 6561),
}


def _architecture(backbone_name: str) -> str:
    """timm-random:vit_x -> vit_x; timm:vit_x.tag -> vit_x."""
    return backbone_name.split(":", 1)[1].split(".")[0]


@pytest.mark.parametrize("preset", sorted(PAPER_SCALE))
def test_paper_scale_presets_have_the_papers_points_and_edges(preset):
    cfg = load_config(PRESETS / f"{preset}.yaml")
    model = timm_random_model(_architecture(cfg.backbone.name), device="meta")  # shapes only, no memory
    assert next(model.parameters()).device.type == "meta"
    backbone = wrap_timm_model(model)
    points, d, edges = PAPER_SCALE[preset]
    assert (backbone.num_points, backbone.hidden_size) == (points, d)
    assert len(EdgeSpace(backbone.num_points)) == edges


def test_offline_presets_are_the_hub_checkpoints_architectures():
    for size, hub in (("b16", "vit_b16_in21k_cifar100"), ("g14", "vit_g14_laion2b_cifar100")):
        offline = load_config(PRESETS / f"vit_{size}_random_fashion.yaml").backbone.name
        online = load_config(PRESETS / f"{hub}.yaml").backbone.name
        assert offline.startswith("timm-random:") and online.startswith("timm:")
        assert _architecture(offline) == _architecture(online)


def test_timm_random_loads_offline_seeded_and_frozen():
    a = load_backbone("timm-random:vit_tiny_patch16_224")
    b = load_backbone("timm-random:vit_tiny_patch16_224")
    assert (a.num_points, a.hidden_size) == (25, 192)
    pa, pb = next(a.parameters()), next(b.parameters())
    assert torch.equal(pa, pb) and not pa.requires_grad


def test_timm_random_unknown_architecture_is_one_line():
    with pytest.raises(PlacementSearchError, match="timm-random:vit_nonexistent could not be loaded"):
        load_backbone("timm-random:vit_nonexistent")


def test_edge_space_of_a_timm_config_builds_no_weights():
    from placement_search import experiment

    cfg = load_config(PRESETS / "vit_g14_random_fashion.yaml")
    experiment.clear_cache()
    space = experiment.edge_space(cfg)
    assert (space.num_points, len(space)) == (81, 6561)
    assert not experiment._BACKBONES  # answered on the meta device: the 1B-parameter model was never built
