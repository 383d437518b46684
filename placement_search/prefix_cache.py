"""Frozen-prefix cache: plain backbone activations, computed once per task and reused.

The backbone is frozen and runs in eval mode, so the value of every point a placement does not
change is the same in every epoch and every trial. A single-edge trial on edge (i, j) reads points
0..j unchanged (for a recurrent edge, all of pass 1 up to i), so with the cache it runs only the
blocks after them. Values are kept per split and point, in memory, up to a byte budget (points
past the budget are computed as usual); one cache serves every trial on a worker process.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from placement_search.backbones.base import Backbone
from placement_search.data.task_data import Split


class PrefixCache:
    def __init__(self, backbone: Backbone, max_bytes: int, batch_size: int = 256):
        self.backbone, self.max_bytes, self.batch_size = backbone, max_bytes, batch_size
        self._points: dict[str, list[torch.Tensor]] = {}   # split key -> [point 0, point 1, ...]
        self.used_bytes = 0

    def points(self, key: str, split: Split, through: int, device: torch.device) -> list[torch.Tensor]:
        """Values of points 0..``through`` for every example of ``split``, each (N, T, d) on
        ``device`` (fewer points when the byte budget runs out: the caller computes the rest)."""
        have = self._points.setdefault(key, [])
        if len(have) <= through:
            self._extend(have, split, through, device)
        return have[: through + 1]

    @torch.no_grad()
    def _extend(self, have: list[torch.Tensor], split: Split, through: int, device: torch.device) -> None:
        """Compute points len(have)..through over the split, as many as the budget allows."""
        start = len(have)
        chunks: list[list[torch.Tensor]] = []
        for idx in split.index_batches(self.batch_size):
            inputs, _ = split.take(idx)
            x, ctx = self.backbone.embed({k: v.to(device) for k, v in inputs.items()})
            if not chunks:  # first batch: how many more points fit in the budget?
                per_point = len(split) * x[0].numel() * x.element_size()
                fit = (self.max_bytes - self.used_bytes) // per_point
                through = min(through, start + fit - 1)
                if through < start:
                    return
                chunks = [[] for _ in range(start, through + 1)]
            if start > 0:
                x = have[-1][idx.to(have[-1].device)]
            for offset, point in enumerate(range(start, through + 1)):
                if point > 0:
                    x = self.backbone.sublayer(point, x, ctx)
                chunks[offset].append(x)
        for chunk in chunks:
            tensor = torch.cat(chunk)
            have.append(tensor)
            self.used_bytes += tensor.numel() * tensor.element_size()

    def clear(self) -> None:
        self._points.clear()
        self.used_bytes = 0


class BatchPoints(Sequence):
    """One mini-batch's rows of cached points, gathered only when read: a placement reads a few
    of the points before its first write (its sources and that point), not all of them."""

    def __init__(self, points: list[torch.Tensor], idx: torch.Tensor):
        self.points, self.idx = points, idx

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, point: int) -> torch.Tensor:
        return self.points[point].index_select(0, self.idx)


_CACHES: dict[int, PrefixCache] = {}


def cache_for(backbone: Backbone, max_bytes: int) -> PrefixCache:
    """The process-wide cache of ``backbone`` (trials on one Ray worker share it)."""
    cache = _CACHES.get(id(backbone))
    if cache is None or cache.backbone is not backbone:
        cache = _CACHES[id(backbone)] = PrefixCache(backbone, max_bytes)
    cache.max_bytes = max_bytes
    return cache
