"""Gradient-rank scores of every edge from one forward/backward pass per batch (DESIGN.md §6).

For edge (i, j), G_ij = X_i^T D_j is exactly the gradient, at zero, of a full linear adapter on
that edge (recurrent edges too: at zero both passes coincide). So a single backward pass that keeps
the gradient D_j at every point yields all n^2 gradients at once: stacking the points side by side,
X = [X_0 .. X_{n-1}] and D = [D_0 .. D_{n-1}] (rows = tokens), the (i, j) block of X^T D is G_ij.
Singular values of all n^2 blocks are batched; the score is the numerical rank (singular values
above rtol * sigma_max). Whole spectra are kept, so other tolerances cost nothing.

Two ways to the spectra (``score_edges(spectra=...)``):

- ``reference``: form the (n*d, n*d) matrix X^T D, summed over batches, and take the singular
  values of each d x d block. Memory (n*d)^2: 1.5 GB for ViT-B/16, 52 GB for ViT-g/14.
- ``auto`` (the default): keep the N pooled rows of X and D (N * n * d each) and
  - when N < d, take each spectrum from an N x N core: with the thin QR factorisations
    X_i^T = Q_i R_i and D_j^T = P_j S_j (Q_i, P_j: d x N with orthonormal columns; R_i, S_j: N x N),
    G_ij = X_i^T D_j = Q_i (R_i S_j^T) P_j^T, so the nonzero singular values of G_ij are those of
    R_i S_j^T, and the other d - N are exactly zero. 2n QRs, then n^2 SVDs of N x N, not d x d;
  - otherwise compute the d x d blocks of one source at a time from the rows (memory d * n * d per
    worker) and take their singular values with the reference kernel. On CPU that is LAPACK's SVD:
    float64 eigenvalues of the Gram matrix were not faster there (measured at d = 768 and 1408 on 2
    cores), and float32 Gram eigenvalues lose everything below sqrt(eps) * sigma_max, which rtol =
    1e-4 needs; on a GPU both ways use float64 Gram eigenvalues (below).
  Rows that would outgrow X^T D (N > n*d / 2, many token batches) are folded into X^T D and the
  reference way finishes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from placement_search.backbones.base import Backbone
from placement_search.config import ScoringConfig
from placement_search.data.task_data import Split
from placement_search.placement.edges import Edge, EdgeSpace, edge_type

#: tolerances reported next to the configured one, for calibration
REPORTED_RTOLS = (1e-1, 1e-2, 1e-3, 1e-4)
#: ways to the singular values (module docstring); ``auto`` is the default
SPECTRA_METHODS = ("auto", "core", "blocks", "reference")
#: the default way folds its stored rows into X^T D once they exceed this fraction of n*d
FOLD_FRACTION = 0.5


@dataclass
class EdgeScores:
    """Singular-value spectra of every G_ij and the rank at the configured tolerance.

    singular_values: (n, n, d) tensor, descending along the last axis.
    """

    singular_values: torch.Tensor
    rtol: float
    config: dict = field(default_factory=dict)

    @property
    def num_points(self) -> int:
        return int(self.singular_values.shape[0])

    def ranks(self, rtol: float | None = None) -> torch.Tensor:
        """(n, n) numerical ranks: singular values above rtol * sigma_max (rank 0 if G is 0)."""
        rtol = self.rtol if rtol is None else rtol
        s = self.singular_values
        top = s[..., :1]
        return ((s > rtol * top) & (top > 0)).sum(-1)

    def mapping(self, rtol: float | None = None) -> dict[Edge, float]:
        """Edge -> rank, the form GGA and top-k take."""
        r = self.ranks(rtol)
        n = self.num_points
        return {Edge(i, j): float(r[i, j]) for i in range(n) for j in range(n)}

    def to_frame(self, space: EdgeSpace | None = None) -> pd.DataFrame:
        """One row per edge: rank, spectrum summary, and ranks at the reported tolerances."""
        s = self.singular_values.double()
        top = s[..., 0]
        safe_top = torch.where(top > 0, top, torch.ones_like(top))
        energy = (s**2).sum(-1)
        p = s / s.sum(-1, keepdim=True).clamp_min(1e-300)
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
        columns = {
            "rank": self.ranks(),
            "sigma_max": top,
            "stable_rank": energy / safe_top**2,
            "effective_rank": torch.exp(entropy),
            "nuclear_norm": s.sum(-1),
            **{f"rank_rtol_{r:g}": self.ranks(r) for r in REPORTED_RTOLS},
        }
        n = self.num_points
        rows = []
        edges = space.edges if space is not None else [Edge(i, j) for i in range(n) for j in range(n)]
        for e in edges:
            i, j = e.source, e.destination
            row = {"source": i, "destination": j, "type": edge_type(i, j)}
            row.update({k: v[i, j].item() for k, v in columns.items()})
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame.attrs["rtol"] = self.rtol
        return frame


def scores_from_frame(frame: pd.DataFrame, column: str = "rank") -> dict[Edge, float]:
    """Edge -> score from a table written by ``EdgeScores.to_frame`` (a CSV or the store)."""
    return {Edge(int(r.source), int(r.destination)): float(getattr(r, column)) for r in frame.itertuples()}


def make_head(dim: int, num_classes: int, init: str, seed: int, dtype: torch.dtype) -> nn.Linear:
    """The seeded fresh head the scores are taken through (a zero head would give zero gradients)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    head = nn.Linear(dim, num_classes)
    if init == "normal":
        nn.init.normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
    elif init == "orthogonal":
        nn.init.orthogonal_(head.weight)
        nn.init.zeros_(head.bias)
    torch.random.set_rng_state(gen_state)
    return head.to(dtype)


def _rows(t: torch.Tensor, mask: torch.Tensor, pooling: str, reduce: str) -> torch.Tensor:
    """Rows of X_i or D_j: every real token, or one per example (mean of x / sum of grad)."""
    if pooling == "tokens":
        return t[mask]
    m = mask.unsqueeze(-1).to(t.dtype)
    summed = (t * m).sum(1)
    return summed / m.sum(1).clamp_min(1.0) if reduce == "mean" else summed


def point_gradients(
    backbone: Backbone, head: nn.Linear, inputs: dict[str, torch.Tensor], labels: torch.Tensor
) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...], torch.Tensor]:
    """One forward/backward: the activations x_i at every point, the loss gradients dL/dx_j, the token mask."""
    x0, ctx = backbone.embed(inputs)
    points = [x0.detach().requires_grad_(True)]
    for k in range(1, backbone.num_points):
        points.append(backbone.sublayer(k, points[-1], ctx))
    logits = head(backbone.pool(points[-1], ctx))
    loss = nn.functional.cross_entropy(logits, labels)
    grads = torch.autograd.grad(loss, points)
    return points, grads, ctx.token_mask.bool()


def pooled_rows(
    points: list[torch.Tensor], grads: tuple[torch.Tensor, ...], mask: torch.Tensor, pooling: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """X = [X_0 .. X_{n-1}] and D = [D_0 .. D_{n-1}], (N, n*d) each: one row per token or example."""
    with torch.no_grad():
        X = torch.cat([_rows(p.detach(), mask, pooling, "mean") for p in points], dim=1)
        D = torch.cat([_rows(g, mask, pooling, "sum") for g in grads], dim=1)
    return X, D


def gradient_rows(
    backbone: Backbone, head: nn.Linear, inputs: dict[str, torch.Tensor], labels: torch.Tensor, pooling: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of X and D for one batch: X^T D is the (n*d, n*d) matrix whose (i, j) block is G_ij."""
    return pooled_rows(*point_gradients(backbone, head, inputs, labels), pooling)


def gradient_products(
    backbone: Backbone, head: nn.Linear, inputs: dict[str, torch.Tensor], labels: torch.Tensor, pooling: str
) -> torch.Tensor:
    """X^T D for one batch: the (n*d, n*d) matrix whose (i, j) block is G_ij."""
    X, D = gradient_rows(backbone, head, inputs, labels, pooling)
    return X.T @ D


def _singular_values(blocks: torch.Tensor) -> torch.Tensor:
    """Descending singular values of a batch of matrices (..., a, b) -> (..., b), b <= a.

    On a GPU, batched SVD of many d x d blocks is slow (cuSOLVER's batched SVD targets tiny
    matrices), so the spectra come from the eigenvalues of each block's Gram matrix B^T B in
    float64: sigma = sqrt(lambda), exact to ~1e-8 * sigma_1, far below any useful rtol.
    """
    if blocks.is_cuda:
        B = blocks.double()
        eig = torch.linalg.eigvalsh(B.mT @ B)  # ascending
        return eig.flip(-1).clamp_min(0).sqrt().to(blocks.dtype)
    return torch.linalg.svdvals(blocks)


def _per_source(n: int, one_source: Callable[[int], None], on_gpu: bool, progress: bool) -> None:
    """Run ``one_source(i)`` for every source point. On CPU, LAPACK parallelises a single small SVD
    poorly, so the sources run in a thread pool with one torch thread each (1.5x on 2 cores)."""
    with tqdm(total=n, desc="singular values", unit="source", disable=not progress, leave=False) as bar:
        if on_gpu:
            for i in range(n):
                one_source(i)
                bar.update()
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for _ in pool.map(one_source, range(n)):
                    bar.update()
        finally:
            torch.set_num_threads(threads)


def _block_singular_values(G: torch.Tensor, n: int, d: int, progress: bool) -> torch.Tensor:
    """Singular values of the n^2 d x d blocks of G (the reference way)."""
    blocks = G.view(n, d, n, d).permute(0, 2, 1, 3)
    if G.is_cuda:
        return _singular_values(blocks)
    out = torch.empty(n, n, d, dtype=G.dtype, device=G.device)

    def one_source(i: int) -> None:
        out[i] = _singular_values(blocks[i].contiguous())

    _per_source(n, one_source, False, progress)
    return out


def edge_spectra(
    X: torch.Tensor, D: torch.Tensor, n: int, d: int, method: str = "auto", progress: bool = False
) -> torch.Tensor:
    """(n, n, d) descending singular values of every G_ij = X_i^T D_j from the (N, n*d) rows.

    method: ``auto`` (``core`` when N < d, else ``blocks``), ``core`` (N x N cores from thin QRs;
    needs N <= d), ``blocks`` (each d x d block from the rows, one source at a time) or
    ``reference`` (the whole X^T D, then its blocks). See the module docstring.
    """
    if method not in SPECTRA_METHODS:
        raise ValueError(f"spectra method {method!r}; use one of {', '.join(SPECTRA_METHODS)}")
    N = X.shape[0]
    if method == "auto":
        method = "core" if N < d else "blocks"
    if method == "reference":
        return _block_singular_values(X.T @ D, n, d, progress)
    out = torch.zeros(n, n, d, dtype=X.dtype, device=X.device)
    if method == "core":
        if N > d:
            raise ValueError(f"the core way needs N <= d rows; got N = {N}, d = {d}")
        # R factors of the thin QRs of every X_i^T and D_j^T (d x N): (n, N, N) each
        R = torch.linalg.qr(X.view(N, n, d).permute(1, 2, 0), mode="r").R
        S = torch.linalg.qr(D.view(N, n, d).permute(1, 2, 0), mode="r").R
        St = S.mT.contiguous()

        def one_source(i: int) -> None:
            out[i, :, :N] = _singular_values(R[i] @ St)
    else:
        def one_source(i: int) -> None:
            Gi = X[:, i * d:(i + 1) * d].T @ D  # (d, n*d): the blocks G_i0 .. G_i(n-1)
            out[i] = _singular_values(Gi.view(d, n, d).permute(1, 0, 2).contiguous())

    _per_source(n, one_source, X.is_cuda, progress)
    return out


def scoring_rows(
    backbone: Backbone, split: Split, num_classes: int, cfg: ScoringConfig, progress: bool = True,
    head: nn.Linear | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The rows X and D of each of the config's seeded scoring batches, through the seeded fresh
    head: what the edge scores (and any other per-edge gradient statistic) are computed from.
    ``head``: another head to take the gradients through (a trained linear probe's, in
    analysis/probe_head.py); it is not changed."""
    backbone.freeze()
    dtype = next(backbone.parameters()).dtype
    device = next(backbone.parameters()).device
    if head is None:
        head = make_head(backbone.hidden_size, num_classes, cfg.head_init, cfg.seed, dtype)
    head = copy.deepcopy(head).to(device=device, dtype=dtype)
    for p in head.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = split.batches(cfg.batch_size, shuffle=True, generator=gen)
    total = min(cfg.num_batches, math.ceil(len(split) / cfg.batch_size))
    for _, (inputs, labels) in zip(
        range(total), tqdm(batches, total=total, desc="scoring batches", unit="batch", disable=not progress)
    ):
        inputs = {k: v.to(device) for k, v in inputs.items()}
        yield gradient_rows(backbone, head, inputs, labels.to(device), cfg.pooling)


def score_edges(
    backbone: Backbone,
    split: Split,
    num_classes: int,
    cfg: ScoringConfig | None = None,
    progress: bool = True,
    spectra: str = "auto",
    head: nn.Linear | None = None,
) -> EdgeScores:
    """Gradient-rank scores of all n^2 edges, summing G over ``cfg.num_batches`` seeded batches.

    spectra: ``auto`` (the default) or ``reference``, the way the singular values are computed
    (module docstring); both give the same spectra up to rounding and the same ranks.
    head: the head to take the gradients through instead of the seeded fresh one (``scoring_rows``).
    """
    if spectra not in SPECTRA_METHODS:
        raise ValueError(f"spectra method {spectra!r}; use one of {', '.join(SPECTRA_METHODS)}")
    cfg = cfg or ScoringConfig()
    n, d = backbone.num_points, backbone.hidden_size
    G: torch.Tensor | None = None  # X^T D so far: the reference way, or rows folded in
    xs: list[torch.Tensor] = []
    ds: list[torch.Tensor] = []
    for X, D in scoring_rows(backbone, split, num_classes, cfg, progress, head):
        xs.append(X)
        ds.append(D)
        if spectra == "reference" or (spectra == "auto" and sum(len(x) for x in xs) > FOLD_FRACTION * n * d):
            G = _fold(G, xs, ds)
    if G is not None:
        G = _fold(G, xs, ds)
        values = _block_singular_values(G, n, d, progress)
    else:
        values = edge_spectra(torch.cat(xs), torch.cat(ds), n, d, spectra, progress)
    return EdgeScores(values.cpu(), cfg.rtol, config=vars(cfg).copy())


def _fold(G: torch.Tensor | None, xs: list[torch.Tensor], ds: list[torch.Tensor]) -> torch.Tensor:
    """Add the stored rows' X^T D to G (None: start it) and forget them."""
    for X, D in zip(xs, ds):
        G = X.T @ D if G is None else G.addmm_(X.T, D)
    xs.clear()
    ds.clear()
    assert G is not None
    return G


def naive_edge_spectrum(
    backbone: Backbone, edge: Edge, head: nn.Linear, inputs: dict[str, torch.Tensor], labels: torch.Tensor
) -> torch.Tensor:
    """Singular values of the gradient of a full linear adapter placed alone on ``edge``.

    The slow reference the one-pass scores must equal: build the placed model, one
    forward/backward, SVD of the adapter weight's gradient.
    """
    from placement_search.config import AdapterConfig
    from placement_search.placement.edges import Placement
    from placement_search.placement.placed_model import PlacedModel, adapter_key

    device = next(backbone.parameters()).device
    model = PlacedModel(backbone, Placement.of([edge]), head.out_features, AdapterConfig(rank="full")).to(device)
    model.head.load_state_dict(head.state_dict())
    loss = nn.functional.cross_entropy(model(inputs), labels)
    weight = model.adapters[adapter_key(edge.source, edge.destination)].up.weight
    (grad,) = torch.autograd.grad(loss, [weight])
    return torch.linalg.svdvals(grad)


def stored_or_computed_scores(cfg, store) -> dict[Edge, float]:
    """The config's edge -> rank table from the results store, or computed now and saved there,
    so every search and analysis of one backbone and task uses the same table."""
    from placement_search.experiment import load_experiment
    from placement_search.store.keys import score_description, score_key

    key = score_key(cfg)
    frame = store.load_scores(key)
    if frame is None:
        backbone, task = load_experiment(cfg)
        frame = score_edges(backbone, task.train, task.num_classes, cfg.scoring).to_frame()
        store.save_scores(key, score_description(cfg), frame)
    return scores_from_frame(frame)
