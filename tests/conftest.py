"""Shared fixtures: the tiny random-init backbones of all three families, and inputs for them."""

from __future__ import annotations

import pytest
import torch

from placement_search.backbones import load_backbone
from placement_search.config import BackboneConfig

TINY_BACKBONES = ["tiny-bert", "tiny-roberta", "tiny-dinov2", "tiny-vit"]

SENTENCES = [
    "what is the capital of france",
    "who wrote hamlet",
    "how many legs does a spider have and why do they need so many",
    "when",
]


def make_inputs(backbone, batch: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """A small batch for ``backbone``: padded sentences (text) or seeded random images."""
    dtype = next(backbone.parameters()).dtype
    if backbone.modality == "text":
        tok = backbone.input_spec()["tokenizer"]
        enc = tok(SENTENCES[:batch], padding=True, truncation=True, max_length=16, return_tensors="pt")
        return {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    size = backbone.input_spec()["image_size"]
    gen = torch.Generator().manual_seed(seed)
    return {"pixel_values": torch.randn(batch, 3, size, size, generator=gen).to(dtype)}


@pytest.fixture(params=TINY_BACKBONES)
def tiny_backbone(request):
    return load_backbone(BackboneConfig(name=request.param))


@pytest.fixture(params=TINY_BACKBONES)
def tiny_backbone64(request):
    """Float64 tiny backbones: exact comparisons without float32 summation-order noise."""
    return load_backbone(BackboneConfig(name=request.param, dtype="float64"))
