"""timm ``VisionTransformer`` (and variants built from its ``Block``) as a residual stream.

Pre-LN, optionally with layer-scale (``init_values``), mirroring ``VisionTransformer.forward_features``:

    point 0      = norm_pre(patch_drop(_pos_embed(patch_embed(pixels))))   prefix tokens + patches
    point 2k-1   = x + drop_path1(ls1(attn(norm1(x))))
    point 2k     = x + drop_path2(ls2(mlp(norm2(x))))
    final norm   = model.norm        (the identity when the model normalises after pooling: fc_norm)

Pooling follows timm: "cls" is the class token, "mean" averages the patch tokens (prefix tokens only
if the model says ``pool_include_prefix``), and a non-identity ``fc_norm`` is applied after pooling.
A learned attention-pooling head (``global_pool="map"``) is not used: such models pool by "mean".
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from placement_search.backbones.base import Backbone, StreamContext
from placement_search.errors import PlacementSearchError

_BLOCK_PARTS = ("norm1", "attn", "ls1", "drop_path1", "norm2", "mlp", "ls2", "drop_path2")


def is_timm_vit(model: nn.Module) -> bool:
    from timm.models.vision_transformer import VisionTransformer

    return isinstance(model, VisionTransformer)


class TimmViTBackbone(Backbone):
    """A frozen timm VisionTransformer whose blocks have the standard pre-LN Block structure."""

    modality = "image"
    norm_style = "pre-ln"

    def __init__(
        self,
        model: nn.Module,
        pooling: str | None = None,
        data_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not is_timm_vit(model):
            raise PlacementSearchError(
                f"timm model class {type(model).__name__} is not supported; use a VisionTransformer variant"
            )
        for k, block in enumerate(model.blocks):
            missing = [p for p in _BLOCK_PARTS if not hasattr(block, p)]
            if missing:
                raise PlacementSearchError(
                    f"timm block {k} ({type(block).__name__}) lacks {', '.join(missing)}; only pre-LN "
                    "blocks x + ls1(attn(norm1(x))), x + ls2(mlp(norm2(x))) are supported"
                )
        self.model = model
        self.hidden_size = int(model.embed_dim)
        self.num_blocks = len(model.blocks)
        self.num_prefix_tokens = int(model.num_prefix_tokens)
        self.has_class_token = model.cls_token is not None
        if pooling is None:
            pooling = "cls" if model.global_pool == "token" and self.has_class_token else "mean"
        if pooling == "cls" and not self.has_class_token:
            raise PlacementSearchError(
                f"timm model {type(model).__name__} has no class token; use backbone.pooling: mean"
            )
        self.pooling = pooling
        data_config = dict(data_config or {})
        input_size = data_config.get("input_size", (3, *model.patch_embed.img_size))
        patch = model.patch_embed.patch_size
        self.patch_size = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        self.image_size = int(input_size[-1])
        self.mean = tuple(float(m) for m in data_config.get("mean", (0.485, 0.456, 0.406)))
        self.std = tuple(float(s) for s in data_config.get("std", (0.229, 0.224, 0.225)))
        self.data_config = data_config

    def embed(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, StreamContext]:
        m = self.model
        x = inputs["pixel_values"].to(m.patch_embed.proj.weight.dtype)
        x = m.norm_pre(m.patch_drop(m._pos_embed(m.patch_embed(x))))
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return x, StreamContext(token_mask=mask, attention=None)

    def sublayer(self, index: int, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        blk = self.model.blocks[(index - 1) // 2]
        if index % 2 == 1:
            return x + blk.drop_path1(blk.ls1(blk.attn(blk.norm1(x))))
        return x + blk.drop_path2(blk.ls2(blk.mlp(blk.norm2(x))))

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.norm(x)

    def pool(self, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        x = self.final_norm(x)
        if self.pooling == "cls":
            if not self.has_class_token:
                raise PlacementSearchError("this timm model has no class token; use backbone.pooling: mean")
            pooled = x[:, 0]
        elif self.pooling == "mean":
            start = 0 if getattr(self.model, "pool_include_prefix", False) else self.num_prefix_tokens
            pooled = x[:, start:].mean(1)
        else:
            raise ValueError(f"unknown pooling {self.pooling!r}")
        return self.model.fc_norm(pooled)

    def input_spec(self) -> dict[str, Any]:
        spec = {"image_size": self.image_size, "mean": self.mean, "std": self.std, "patch_size": self.patch_size}
        for key in ("interpolation", "crop_pct"):
            if key in self.data_config:
                spec[key] = self.data_config[key]
        return spec


def tiny_vit_model() -> nn.Module:
    """A 2-block, d=32 VisionTransformer (28 px, 7 px patches, class token, LayerScale); seed around it."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=28,
        patch_size=7,
        num_classes=0,
        global_pool="token",
        embed_dim=32,
        depth=2,
        num_heads=4,
        mlp_ratio=2.0,
        init_values=0.5,
        class_token=True,
    )


def timm_random_model(name: str, device: str | torch.device | None = None) -> nn.Module:
    """timm architecture ``name`` (e.g. ``vit_giant_patch14_224``) with timm's own random
    initialisation: no files, no hub, for measuring a size offline (seed around it). On
    ``device="meta"`` only the shapes exist: points and edges of a 1B-parameter model for free."""
    import timm

    with torch.device(device) if device is not None else contextlib.nullcontext():
        return timm.create_model(name, pretrained=False, num_classes=0)


TINY_VIT_DATA_CONFIG = {
    "input_size": (3, 28, 28),
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "interpolation": "bicubic",
    "crop_pct": 1.0,
}
