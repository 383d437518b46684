"""A frozen backbone with adapters on the edges of a placement, plus a task head (DESIGN.md §4).

At each point j, after the sub-layer has produced the raw value r_j:

    x_j = r_j + sum over edges (i, j) of A_ij(src_i)
    src_i = x_i (already adapted)  if i < j
          = r_j (before addition)  if i == j   (self-loop)
          = x_i from pass 1        if i > j    (recurrent)

Recurrent edges need values from later in the network, so the model runs twice: pass 1 is the
placed model without its recurrent edges, run only up to the largest recurrent source; pass 2
re-runs from the smallest recurrent destination with every edge. Points before that destination
are identical in both passes, so pass 2 reuses them. Loss and predictions come from pass 2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from placement_search.backbones.base import Backbone, StreamContext
from placement_search.config import AdapterConfig
from placement_search.placement.adapter import Adapter
from placement_search.placement.edges import EdgeSpace, Placement


def adapter_key(source: int, destination: int) -> str:
    return f"{source}->{destination}"


class PlacedModel(nn.Module):
    """Backbone (frozen, eval) + one adapter per edge + linear head on the pooled features.

    recurrent_grad: "both" lets gradients flow through pass 1 into what recurrent edges read
    (the default, DESIGN.md §4); "pass2" stops them there (cheaper, a truncated gradient).
    """

    def __init__(
        self,
        backbone: Backbone,
        placement: Placement,
        num_classes: int,
        adapter: AdapterConfig | None = None,
        recurrent_grad: str = "both",
    ):
        super().__init__()
        self.backbone = backbone.freeze()
        self.placement = EdgeSpace(backbone.num_points).validate(placement)
        self.recurrent_grad = recurrent_grad
        cfg = adapter or AdapterConfig()
        dtype = next(backbone.parameters()).dtype
        self.adapters = nn.ModuleDict(
            {adapter_key(e.source, e.destination): Adapter.from_config(backbone.hidden_size, cfg).to(dtype)
             for e in placement}
        )
        self.head = nn.Linear(backbone.hidden_size, num_classes).to(dtype)
        self._incoming: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for e in placement:
            self._incoming[e.destination].append((e.source, adapter_key(e.source, e.destination)))
        recurrent = [e for e in placement if e.is_recurrent]
        self._last_source = max((e.source for e in recurrent), default=None)
        self._first_destination = min((e.destination for e in recurrent), default=None)
        self._first_write = min((e.destination for e in placement), default=None)
        self._has_forward_edges = len(recurrent) < len(placement)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.trainable_parameters())

    def _propagate(
        self,
        ctx: StreamContext,
        before: Callable[[int], torch.Tensor],
        start: int,
        raw: torch.Tensor,
        stop: int,
        recurrent_sources: Callable[[int], torch.Tensor] | None,
    ) -> list[torch.Tensor]:
        """Adapted values of points start..stop, from the raw value at ``start``; ``before(i)``
        gives the adapted value of a point i < start. Recurrent edges apply only when
        ``recurrent_sources`` is given."""
        out: list[torch.Tensor] = []

        def value(i: int) -> torch.Tensor:
            return out[i - start] if i >= start else before(i)

        for j in range(start, stop + 1):
            if j > start:
                raw = self.backbone.sublayer(j, out[-1], ctx)
            x = raw
            for i, key in self._incoming.get(j, ()):
                if i < j:
                    src = value(i)
                elif i == j:
                    src = raw
                elif recurrent_sources is not None:
                    src = recurrent_sources(i)
                else:
                    continue
                x = x + self.adapters[key](src)
            out.append(x)
        return out

    def prefix_points(self) -> int:
        """How many leading points are plain backbone values this placement reads: points before
        the first point any edge writes to, plus the raw value there; when pass 1 has no edges
        (only recurrent ones), the whole of pass 1. These can come from a cache (prefix_cache.py)."""
        if not self.placement:
            return self.backbone.num_points
        if self._last_source is not None and not self._has_forward_edges:
            return self._last_source + 1
        return self._first_write + 1

    def final_stream(
        self, inputs: dict[str, torch.Tensor], prefix: Sequence[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, StreamContext]:
        """The last point's value (after pass 2 when the placement has recurrent edges).

        ``prefix``: plain backbone values of points 0..c for this batch (c may be short of what
        ``prefix_points`` asks for: the rest is computed); only the points the placement reads
        are taken from it. Without it everything is computed.
        """
        last = self.backbone.num_points - 1
        x0, ctx = self.backbone.embed(inputs)
        plain = _PlainStream(self.backbone, x0, ctx, prefix)
        if not self.placement:
            return plain[last], ctx
        s = self._first_write
        if self._last_source is None:
            return self._propagate(ctx, plain.__getitem__, s, plain[s], last, None)[-1], ctx
        if self._has_forward_edges:
            tail = self._propagate(ctx, plain.__getitem__, s, plain[s], self._last_source, None)

            def pass1(i: int) -> torch.Tensor:
                return plain[i] if i < s else tail[i - s]
        else:  # pass 1 is the plain backbone
            pass1 = plain.__getitem__
        sources = (lambda i: pass1(i).detach()) if self.recurrent_grad == "pass2" else pass1
        m = self._first_destination
        raw_m = plain[m] if m == s else self.backbone.sublayer(m, pass1(m - 1), ctx)
        return self._propagate(ctx, pass1, m, raw_m, last, sources)[-1], ctx

    def features(self, inputs: dict[str, torch.Tensor], prefix: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        x, ctx = self.final_stream(inputs, prefix)
        return self.backbone.pool(x, ctx)

    def forward(self, inputs: dict[str, torch.Tensor], prefix: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Class logits (``prefix``: cached plain backbone points for this batch, see final_stream)."""
        return self.head(self.features(inputs, prefix))


class _PlainStream:
    """Plain backbone values of one batch, each made on first use: taken from the cached prefix
    when it has the point, else computed from the point before (and kept for later reads).

    The cache holds whole padded sequences; a batch cut to its longest sequence
    (data.split.trim_padding) reads the leading tokens of each cached value."""

    def __init__(self, backbone: Backbone, x0: torch.Tensor, ctx: StreamContext,
                 cached: Sequence[torch.Tensor] | None):
        self.backbone, self.ctx, self.cached = backbone, ctx, cached or ()
        self.values: dict[int, torch.Tensor] = {0: x0}
        self.tokens = x0.shape[1]

    def _from_cache(self, point: int) -> torch.Tensor:
        value = self.cached[point]
        return value[:, : self.tokens] if value.shape[1] != self.tokens else value

    def __getitem__(self, point: int) -> torch.Tensor:
        if point not in self.values:  # recursion no deeper than the backbone's points
            self.values[point] = (self._from_cache(point) if point < len(self.cached)
                                  else self.backbone.sublayer(point, self[point - 1], self.ctx))
        return self.values[point]
