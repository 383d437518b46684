"""Hugging Face DINOv2 (``Dinov2Model``, also ``Dinov2WithRegistersModel``) as a residual stream.

DINOv2 is pre-LN with layer-scale, so a point value is the raw residual stream (DESIGN.md §2):

    point 0      = model.embeddings(pixel_values)          CLS (+ register tokens) + patches, + positions
    point 2k-1   = x + drop_path(layer_scale1(attention(norm1(x))))
    point 2k     = x + drop_path(layer_scale2(mlp(norm2(x))))
    final norm   = model.layernorm                          (Dinov2Model.last_hidden_state is after it)

drop_path is the identity in eval mode, which the frozen backbone always is. The embeddings
interpolate the position table, so any image size that is a multiple of the patch size works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from placement_search.backbones.base import Backbone, StreamContext
from placement_search.errors import PlacementSearchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_LAYER_PARTS = ("norm1", "attention", "layer_scale1", "norm2", "mlp", "layer_scale2")


def is_dinov2_family(model: nn.Module) -> bool:
    """True if ``model`` has the Dinov2Model layout this wrapper relies on (duck-typed)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if getattr(model, "embeddings", None) is None or getattr(model, "layernorm", None) is None:
        return False
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        return False
    return all(all(hasattr(layer, part) for part in _LAYER_PARTS) for layer in layers)


class HFDinov2Backbone(Backbone):
    """A frozen DINOv2 (pre-LN, layer-scale); "mean" pooling averages the patch tokens only."""

    modality = "image"
    norm_style = "pre-ln"

    def __init__(
        self,
        model: nn.Module,
        pooling: str = "cls",
        image_size: int = 224,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if not is_dinov2_family(model):
            raise PlacementSearchError(
                f"{type(model).__name__} is not a DINOv2 model (needs embeddings, layernorm and "
                "encoder.layer[k] with norm1/attention/layer_scale1/norm2/mlp/layer_scale2)"
            )
        self.model = model
        config = model.config
        patch = config.patch_size
        self.patch_size = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        self.hidden_size = int(config.hidden_size)
        self.num_blocks = len(model.encoder.layer)
        #: CLS + register tokens ahead of the patch tokens; "mean" pooling skips them (as DINOv2's
        #: classifier and timm's avg pooling do)
        self.num_prefix_tokens = 1 + int(getattr(config, "num_register_tokens", 0) or 0)
        self.pooling = pooling
        self.image_size = int(image_size)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def embed(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, StreamContext]:
        x = self.model.embeddings(inputs["pixel_values"])
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return x, StreamContext(token_mask=mask, attention=None)

    def sublayer(self, index: int, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        layer = self.model.encoder.layer[(index - 1) // 2]
        if index % 2 == 1:
            out = layer.attention(layer.norm1(x))
            out = out[0] if isinstance(out, tuple) else out
            return x + layer.drop_path(layer.layer_scale1(out))
        return x + layer.drop_path(layer.layer_scale2(layer.mlp(layer.norm2(x))))

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.layernorm(x)

    def pool(self, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        if self.pooling == "mean":
            return self.final_norm(x)[:, self.num_prefix_tokens :].mean(1)
        return super().pool(x, ctx)

    def input_spec(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "mean": self.mean, "std": self.std, "patch_size": self.patch_size}


def tiny_dinov2_model() -> nn.Module:
    """A 2-layer, d=32 Dinov2Model (28 px images, 7 px patches) from a config; seed around the call."""
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        mlp_ratio=2,
        image_size=28,
        patch_size=7,
        layerscale_value=0.5,
        use_mask_token=False,
    )
    return Dinov2Model(config)
