"""The adapter module (DESIGN.md §5): A(x) = s * W_up(phi(W_down(x))), W_up zero-initialised.

Zero-initialising W_up makes a freshly placed model compute exactly what the backbone computes,
so any accuracy change is learnt, and the gradient at the start is the gradient-rank signal.
``rank="full"`` is one d x d linear map (zero-initialised): the adapter whose gradient at zero
*is* G_ij = X_i^T D_j, used to check the one-pass scores against the naive per-edge computation.
"""

from __future__ import annotations

import torch
from torch import nn

from placement_search.config import AdapterConfig

_ACTIVATIONS = {"identity": nn.Identity, "gelu": nn.GELU, "relu": nn.ReLU}


class Adapter(nn.Module):
    def __init__(self, dim: int, rank: int | str = 8, activation: str = "identity", scale: float = 1.0):
        super().__init__()
        self.scale = scale
        if rank == "full":
            self.down = nn.Identity()
            self.act = nn.Identity()
            self.up = nn.Linear(dim, dim)
        else:
            self.down = nn.Linear(dim, int(rank))
            self.act = _ACTIVATIONS[activation]()
            self.up = nn.Linear(int(rank), dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    @classmethod
    def from_config(cls, dim: int, cfg: AdapterConfig) -> Adapter:
        return cls(dim, rank=cfg.rank, activation=cfg.activation, scale=cfg.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.up(self.act(self.down(x)))
