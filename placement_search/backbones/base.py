"""The one contract every backbone honours: a frozen transformer seen as a residual stream.

A backbone with L blocks exposes n = 2L + 1 residual-stream points (DESIGN.md §2):

    point 0            = embed(inputs)
    point k (1..2L)    = sublayer(k, point k-1)      # attention for odd k, MLP for even k
    features           = pool(point 2L)              # final norm (if any) + pooling

``sublayer(k, x)`` includes the residual add and, for post-LN models, the LayerNorm after it, so
its output is exactly what the next sub-layer reads. The placed model (placement/placed_model.py)
adds adapter outputs between these calls; it never needs to know which library the backbone came
from. Implementations wrap the library's own modules rather than copying model code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class StreamContext:
    """Per-batch state the sub-layers need besides the stream itself.

    token_mask: (B, T) bool, True for real (non-padding) tokens; scoring and mean pooling use it.
    attention: whatever the backbone's attention modules take as their mask (may be None).
    """

    token_mask: torch.Tensor
    attention: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Backbone(nn.Module):
    """Base class: subclasses set the attributes below and implement the four stream methods."""

    #: "text" (inputs: input_ids, attention_mask[, token_type_ids]) or "image" (inputs: pixel_values)
    modality: str
    hidden_size: int
    num_blocks: int
    #: "pre-ln" or "post-ln": where point values sit relative to the norms (DESIGN.md §2)
    norm_style: str
    #: how pooled features are made from the final stream: "cls" or "mean" (over real tokens)
    pooling: str

    @property
    def num_points(self) -> int:
        return 2 * self.num_blocks + 1

    def embed(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, StreamContext]:
        """Return point 0, shape (B, T, d), and the context the sub-layers need."""
        raise NotImplementedError

    def sublayer(self, index: int, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        """Map point ``index - 1`` to point ``index`` (1 <= index <= 2L), residual add included."""
        raise NotImplementedError

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's final norm (identity for post-LN encoders without one)."""
        return x

    def pool(self, x: torch.Tensor, ctx: StreamContext) -> torch.Tensor:
        """Pooled features (B, d) from the last point: final norm, then CLS or masked mean."""
        x = self.final_norm(x)
        if self.pooling == "cls":
            return x[:, 0]
        if self.pooling == "mean":
            mask = ctx.token_mask.unsqueeze(-1).to(x.dtype)
            return (x * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        raise ValueError(f"unknown pooling {self.pooling!r}")

    def stream(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """All n point values of the plain backbone (no adapters); used by tests and scoring."""
        x, ctx = self.embed(inputs)
        points = [x]
        for k in range(1, self.num_points):
            points.append(self.sublayer(k, points[-1], ctx))
        return points

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pooled features of the plain backbone."""
        x, ctx = self.embed(inputs)
        for k in range(1, self.num_points):
            x = self.sublayer(k, x, ctx)
        return self.pool(x, ctx)

    def freeze(self) -> Backbone:
        """Freeze every parameter and switch to eval mode (no dropout): runs are deterministic."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> Backbone:
        # The backbone is frozen and always runs in eval mode (DESIGN.md §5), even inside a
        # placed model that is put in training mode.
        return super().train(False)

    def input_spec(self) -> dict[str, Any]:
        """What the data pipeline needs to prepare inputs (tokenizer, or image size/mean/std)."""
        raise NotImplementedError
