"""The fast ways to the spectra (N x N cores from thin QRs, blocks from the rows) against the reference
(the whole X^T D, then its d x d blocks): the same spectra up to rounding and identical ranks."""

import pytest
import torch
from conftest import make_inputs

from placement_search import scoring
from placement_search.config import ScoringConfig
from placement_search.data.task_data import Split
from placement_search.scoring import REPORTED_RTOLS, edge_spectra, score_edges

#: the configured default, the reported tolerances and a tight one
RTOLS = sorted({ScoringConfig().rtol, *REPORTED_RTOLS, 1e-5})


def _rows(N: int, n: int, d: int, dtype: torch.dtype, seed: int = 0, rank: int | None = None):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(N, n * d, generator=gen, dtype=torch.float64)
    D = torch.randn(N, n * d, generator=gen, dtype=torch.float64)
    if rank is not None:  # every X_i and D_j of rank `rank` < min(N, d)
        X = torch.randn(N, rank, generator=gen, dtype=torch.float64) @ torch.randn(rank, n * d, generator=gen, dtype=torch.float64)
        D = torch.randn(N, rank, generator=gen, dtype=torch.float64) @ torch.randn(rank, n * d, generator=gen, dtype=torch.float64)
    return X.to(dtype), D.to(dtype)


def _ranks(s: torch.Tensor, rtol: float) -> torch.Tensor:
    top = s[..., :1]
    return ((s > rtol * top) & (top > 0)).sum(-1)


def _assert_same(fast: torch.Tensor, ref: torch.Tensor, rtols=RTOLS) -> None:
    assert fast.shape == ref.shape
    scale = ref[..., :1].clamp_min(1e-30)
    tol = 1e-4 if ref.dtype == torch.float32 else 1e-10
    assert ((fast - ref).abs() / scale).max() < tol
    for rtol in rtols:
        assert torch.equal(_ranks(fast, rtol), _ranks(ref, rtol)), rtol


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("N", [1, 7, 24, 40])  # < d: the core way; >= d: blocks
def test_fast_spectra_equal_reference_on_random_rows(N, dtype):
    n, d = 5, 24
    X, D = _rows(N, n, d, dtype, seed=N)
    ref = edge_spectra(X, D, n, d, "reference")
    _assert_same(edge_spectra(X, D, n, d), ref)
    _assert_same(edge_spectra(X, D, n, d, "blocks"), ref)
    if N <= d:
        _assert_same(edge_spectra(X, D, n, d, "core"), ref)
        assert (edge_spectra(X, D, n, d)[..., N:] == 0).all()  # the core leaves exact zeros beyond N


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_spectra_equal_reference_on_rank_deficient_rows(dtype):
    n, d, N = 4, 32, 12
    X, D = _rows(N, n, d, dtype, seed=1, rank=5)
    X[:, :d] = 0  # X_0 = 0: a whole source row of zero gradients (rank 0)
    D[:, 2 * d:3 * d] = 0  # D_2 = 0
    X[:, 3 * d:4 * d] = X[:, 1 * d:2 * d]  # X_3 = X_1, repeated rows below
    D[6:] = D[:6]
    ref = edge_spectra(X, D, n, d, "reference")
    # float32 rounding leaves the reference's zero directions at ~1e-7 sigma_max, the core's at 0:
    # ranks agree at every tolerance above that noise
    rtols = RTOLS if dtype == torch.float64 else [r for r in RTOLS if r >= 1e-4]
    for method in ("auto", "core", "blocks"):
        fast = edge_spectra(X, D, n, d, method)
        _assert_same(fast, ref, rtols)
        assert (_ranks(fast, 1e-4)[0] == 0).all() and (_ranks(fast, 1e-4)[:, 2] == 0).all()
        assert int(_ranks(fast, 1e-4).max()) == 5


def test_core_refuses_more_rows_than_width_and_unknown_methods():
    X, D = _rows(10, 2, 8, torch.float32)
    with pytest.raises(ValueError, match="N <= d"):
        edge_spectra(X, D, 2, 8, "core")
    with pytest.raises(ValueError, match="spectra method"):
        edge_spectra(X, D, 2, 8, "svd")


@pytest.mark.parametrize("pooling,num_batches", [("mean", 1), ("tokens", 1), ("tokens", 3)])
def test_score_edges_default_equals_reference(tiny_backbone64, pooling, num_batches, monkeypatch):
    if num_batches > 1:  # stored rows outgrow the fold limit after the first batch: folded into X^T D
        monkeypatch.setattr(scoring, "FOLD_FRACTION", 0.1)
    bb = tiny_backbone64
    inputs = make_inputs(bb, batch=4)
    split = Split(inputs, torch.tensor([0, 1, 2, 1]))
    cfg = ScoringConfig(batch_size=4 // num_batches + (num_batches > 1), num_batches=num_batches, pooling=pooling)
    fast = score_edges(bb, split, 3, cfg, progress=False)
    ref = score_edges(bb, split, 3, cfg, progress=False, spectra="reference")
    _assert_same(fast.singular_values, ref.singular_values, [*RTOLS, 1e-8])
