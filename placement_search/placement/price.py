"""The price of a placement (DESIGN.md §13): adapter parameters, inference FLOPs against the frozen
backbone, and the FLOPs its training costs.

Everything here is counted per example from a :class:`FlopProfile` of the backbone: the forward
FLOPs of its embedding and of each sub-layer 1..2L, of one adapter application and of the head, at
the task's padded input (text: ``task.max_length`` tokens, capped at what the tokenizer allows;
images: ``task.image_size`` or the backbone's own size). The profile is counted with torch's
``FlopCounterMode`` (matrix products and convolutions, 2 FLOPs per multiply-add; norms,
activations and element-wise adds are not counted) on one synthetic example, so it is the same on
every device. Torch does not register its CPU attention kernel with the counter; it is counted
here with torch's own attention formula, so a CPU and a GPU profile agree.

Which sub-layers a placement runs (:func:`forward_schedule`) follows ``PlacedModel.final_stream``
(DESIGN.md §4) call for call:

- the plain points before the first point any edge writes to (s) are backbone values;
- without recurrent edges, sub-layers s+1..last run once with the adapters;
- with recurrent edges, pass 1 runs up to the largest recurrent source (the plain backbone when
  the placement has only recurrent edges), and pass 2 re-runs from the smallest recurrent
  destination m: sub-layers m+1..last, plus sub-layer m itself when m != s (its raw value is
  recomputed from pass 1's point m-1). Every edge whose destination pass 2 re-runs applies again.

Inference cost (``inference_cost``) is the placed model's forward FLOPs per example over the
linear probe's (the frozen backbone + the same head): 1.0 for the empty placement, up to about 2
for a recurrent edge into point 0 (pass 2 re-runs every sub-layer). Training FLOPs
(``train_flops``) count, per training example, the sub-layers that run with gradients at 2x their forward (a frozen sub-layer's backward computes
input gradients only, about its forward), the adapters and the head at 3x (their weight gradients
too), and the plain prefix once, forward only, unless the prefix cache (``training.prefix_cache``)
serves it (the cache's one-off build per worker is not charged, as in benchmarks/edge_cost.py);
each evaluation adds a forward over its split. The linear probe with the cache on computes the
pooled features once per example of every split and then trains its head alone. Text batches cut to their longest question
(``training.trim_padding``) cost less than this padded-length figure: it is an upper bound there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from placement_search.placement.edges import Edge, Placement

#: the statuses whose trials evaluated on test once (a stopped trial did not; a failed one is unknown)
TESTED_STATUSES = ("completed", "reused", "replayed")


@dataclass(frozen=True)
class Schedule:
    """The sub-layer calls and adapter applications of one forward pass of a placed model.

    plain: sub-layers computed as plain backbone values (no adapter upstream of them); adapted:
    sub-layers run downstream of an adapter (each call listed, pass 2's re-runs again), the
    part a training step back-propagates through; applications: adapter applications per edge.
    """

    plain: tuple[int, ...]
    adapted: tuple[int, ...]
    applications: tuple[tuple[Edge, int], ...]

    @property
    def adapter_applications(self) -> int:
        return sum(n for _, n in self.applications)


def forward_schedule(placement: Placement | str | Iterable[Edge], num_points: int) -> Schedule:
    """What ``PlacedModel.final_stream`` runs for ``placement`` without a prefix cache (module doc)."""
    p = placement if isinstance(placement, Placement) else (
        Placement.parse(placement) if isinstance(placement, str) else Placement.of(placement))
    last = num_points - 1
    edges = list(p)
    if not edges:
        return Schedule(tuple(range(1, last + 1)), (), ())
    s = min(e.destination for e in edges)
    recurrent = [e for e in edges if e.is_recurrent]
    if not recurrent:
        return Schedule(tuple(range(1, s + 1)), tuple(range(s + 1, last + 1)), tuple((e, 1) for e in edges))
    m = min(e.destination for e in recurrent)
    src = max(e.source for e in recurrent)
    if len(recurrent) == len(edges):  # pass 1 is the plain backbone (m == s)
        plain, pass1 = tuple(range(1, src + 1)), ()
    else:
        plain, pass1 = tuple(range(1, s + 1)), tuple(range(s + 1, src + 1))
    pass2 = ((m,) if m != s else ()) + tuple(range(m + 1, last + 1))
    applications = []
    for e in edges:
        runs = int(m <= e.destination) + int(not e.is_recurrent and s <= e.destination <= src
                                             and len(recurrent) < len(edges))
        applications.append((e, runs))
    return Schedule(plain, pass1 + pass2, tuple(applications))


@dataclass(frozen=True)
class FlopProfile:
    """Forward FLOPs per example of a backbone's pieces at one input size (module doc)."""

    sublayers: tuple[float, ...]  # sub-layers 1..2L
    embed: float
    adapter: float  # one adapter application
    head: float
    tokens: int
    adapter_params: int  # weights and biases of one adapter

    @property
    def num_points(self) -> int:
        return len(self.sublayers) + 1

    def sublayer(self, k: int) -> float:
        return self.sublayers[k - 1]

    def probe_flops(self) -> float:
        """The frozen backbone + head: the linear probe's forward."""
        return self.embed + sum(self.sublayers) + self.head

    def inference_flops(self, placement: Placement | str) -> float:
        sched = forward_schedule(placement, self.num_points)
        return (self.embed + sum(self.sublayer(k) for k in sched.plain + sched.adapted)
                + self.adapter * sched.adapter_applications + self.head)

    def step_flops(self, placement: Placement | str, prefix_cache: bool) -> tuple[float, float, float]:
        """(one training example's forward + backward, one evaluated example's forward, the one-off
        forward per example of the cached pooled features). The last is non-zero only for the
        linear probe with the cache on: it trains its head on features computed once
        (training.py), so its epochs cost the head alone."""
        sched = forward_schedule(placement, self.num_points)
        trained = self.adapter * sched.adapter_applications + self.head
        if not sched.adapted and prefix_cache:  # the linear probe on cached features
            return 3 * trained, trained, self.probe_flops() - self.head
        plain = 0.0 if prefix_cache else sum(self.sublayer(k) for k in sched.plain)
        adapted = sum(self.sublayer(k) for k in sched.adapted)
        return self.embed + plain + 2 * adapted + 3 * trained, self.embed + plain + adapted + trained, 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlacementPrice:
    """What one placement costs under one recipe; ``metrics`` adds a trial's training FLOPs."""

    adapter_params: int
    inference_flops: float
    probe_flops: float
    train_example_flops: float
    eval_example_flops: float
    cached_example_flops: float  # one-off, per example of every split (the probe's feature cache)
    n_train: int
    n_validation: int
    n_test: int

    @property
    def inference_cost(self) -> float:
        return self.inference_flops / self.probe_flops

    def train_flops(self, epochs: float | None, evaluations: int, tested: bool) -> float | None:
        """Training FLOPs of a trial that trained ``epochs`` epochs and evaluated ``evaluations``
        times on validation (and once on test when ``tested``)."""
        if epochs is None or epochs != epochs:  # noqa: PLR0124 - NaN
            return None
        examples = self.n_train + self.n_validation + self.n_test
        return (examples * self.cached_example_flops + float(epochs) * self.n_train * self.train_example_flops
                + (evaluations * self.n_validation + (self.n_test if tested else 0)) * self.eval_example_flops)

    def metrics(self, epochs: float | None = None, evaluations: int = 0, tested: bool = False) -> dict[str, Any]:
        """The cost columns of a trial row (``train_flops`` only when ``epochs`` is known)."""
        out: dict[str, Any] = {"num_adapter_params": self.adapter_params, "inference_flops": self.inference_flops,
                               "inference_cost": self.inference_cost}
        if epochs is not None:
            out["train_flops"] = self.train_flops(epochs, evaluations, tested)
        return out


def price(profile: FlopProfile, placement: Placement | str, n_train: int, n_validation: int, n_test: int,
          prefix_cache: bool = True) -> PlacementPrice:
    p = placement if isinstance(placement, Placement) else Placement.parse(placement)
    train, evaluation, cached = profile.step_flops(p, prefix_cache)
    return PlacementPrice(len(p) * profile.adapter_params, profile.inference_flops(p), profile.probe_flops(),
                          train, evaluation, cached, n_train, n_validation, n_test)


# --- counting a backbone -------------------------------------------------------------------------


def synthetic_inputs(backbone, task_cfg) -> dict[str, torch.Tensor]:
    """One example at the task's padded size (text: ``max_length`` tokens, capped by the tokenizer;
    images: ``image_size`` or the backbone's own), on the backbone's device."""
    device = next(backbone.parameters()).device
    spec = backbone.input_spec()
    if backbone.modality == "text":
        limit = spec.get("max_length")
        tokens = int(task_cfg.max_length if limit is None else min(task_cfg.max_length, limit))
        ids = torch.full((1, tokens), 5, dtype=torch.long, device=device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    size = int(getattr(task_cfg, "image_size", None) or spec["image_size"])
    dtype = next(backbone.parameters()).dtype
    return {"pixel_values": torch.zeros((1, 3, size, size), dtype=dtype, device=device)}


def _counter():
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _count(fn):
    with _counter() as counter:
        out = fn()
    return out, float(counter.get_total_flops())


_PROFILES: dict[tuple, FlopProfile] = {}


@torch.no_grad()
def flop_profile(backbone, task_cfg, adapter_cfg, num_classes: int) -> FlopProfile:
    """The backbone's :class:`FlopProfile` at ``task_cfg``'s input size (memoised per backbone)."""
    from placement_search.placement.adapter import Adapter

    inputs = synthetic_inputs(backbone, task_cfg)
    key = (id(backbone), tuple((k, tuple(v.shape)) for k, v in inputs.items()), repr(adapter_cfg), num_classes)
    if key in _PROFILES:
        return _PROFILES[key]
    (x, ctx), embed = _count(lambda: backbone.embed(inputs))
    sublayers = []
    for k in range(1, backbone.num_points):
        x, flops = _count(lambda k=k, x=x: backbone.sublayer(k, x, ctx))
        sublayers.append(flops)
    pooled, pool = _count(lambda: backbone.pool(x, ctx))
    dtype, device = x.dtype, x.device
    adapter = Adapter.from_config(backbone.hidden_size, adapter_cfg).to(device=device, dtype=dtype)
    _, adapter_flops = _count(lambda: adapter(x))
    head = torch.nn.Linear(backbone.hidden_size, num_classes).to(device=device, dtype=dtype)
    _, head_flops = _count(lambda: head(pooled))
    profile = FlopProfile(tuple(sublayers), embed, adapter_flops, pool + head_flops, int(x.shape[1]),
                          sum(p.numel() for p in adapter.parameters()))
    _PROFILES[key] = profile
    return profile


def placement_price(cfg, backbone, task, placement: Placement | str) -> PlacementPrice:
    """The price of ``placement`` under the search config ``cfg`` on a loaded backbone and task."""
    profile = flop_profile(backbone, cfg.task, cfg.adapter, task.num_classes)
    return price(profile, placement, len(task.train), len(task.validation), len(task.test),
                 cfg.training.prefix_cache)


def stored_price(config: Mapping[str, Any], placement: str, head_params: int) -> PlacementPrice | None:
    """The price of a stored trial from its search's config alone, for the store migration: the
    backbone is built from the registry (registered names only; hub names would need the network),
    the split sizes are the config's ``*_samples`` and the classes follow from the head's
    parameters (d x C weights + C biases); None when any of these is unknown."""
    from placement_search.backbones import list_backbones
    from placement_search.config import config_from_dict
    from placement_search.experiment import cached_backbone

    cfg = config_from_dict(dict(config))
    sizes = (cfg.task.train_samples, cfg.task.validation_samples, cfg.task.test_samples)
    if cfg.backbone.name not in list_backbones() or any(n is None for n in sizes):
        return None
    backbone = cached_backbone(cfg.backbone)
    num_classes, rest = divmod(head_params, backbone.hidden_size + 1)
    if rest or num_classes < 1:
        return None
    profile = flop_profile(backbone, cfg.task, cfg.adapter, num_classes)
    return price(profile, placement, *sizes, cfg.training.prefix_cache)


__all__ = ["FlopProfile", "PlacementPrice", "Schedule", "flop_profile", "forward_schedule", "placement_price",
           "price", "stored_price", "synthetic_inputs", "TESTED_STATUSES"]
