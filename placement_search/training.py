"""Fine-tune one placement: adapters + head on a frozen backbone, AdamW, warm-up + schedule.

``train_placement`` is the unit of work every search trial runs. It is seeded and deterministic on
CPU (the backbone runs in eval mode, batch order and initialisation come from ``training.seed``),
evaluates on validation every ``eval_every`` steps (default: once per epoch) so schedulers can stop
bad placements early, and on test once at the end. Each evaluation can snapshot a :class:`TrainState`
from which a retried trial continues exactly where the run stood.

The linear probe (the empty placement) with ``training.prefix_cache`` on computes the frozen
backbone's pooled features once per example (one backbone pass over the data, kept in memory and
reused by later probe trials on the worker) and trains its head on them for every epoch: the same
batches, optimizer and evaluations, the same numbers as running the backbone each time.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice

import torch
from torch import nn

from placement_search.backbones.base import Backbone
from placement_search.config import Config, TrainingConfig
from placement_search.data.task_data import Split, TaskData
from placement_search.placement.edges import Placement
from placement_search.placement.placed_model import PlacedModel
from placement_search.placement.price import placement_price


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the trial is recorded as failed with this message."""


@dataclass
class EvalPoint:
    step: int
    epoch: float
    train_loss: float
    val_loss: float
    val_accuracy: float
    lr: float


@dataclass
class TrainResult:
    placement: str
    val_accuracy: float
    val_loss: float
    best_val_accuracy: float
    test_accuracy: float
    test_loss: float
    train_loss: float
    num_trainable_params: int
    num_adapter_params: int
    steps: int
    wall_time_s: float
    curve: list[EvalPoint] = field(default_factory=list)
    #: the placement's price (placement/price.py): forward FLOPs per example, that over the linear
    #: probe's, and the FLOPs this run's training and evaluations took
    inference_flops: float | None = None
    inference_cost: float | None = None
    train_flops: float | None = None

    def metrics(self) -> dict:
        """Flat scalar metrics (no curve), as reported to Tune and stored."""
        out = asdict(self)
        out.pop("curve")
        return out


@dataclass
class TrainState:
    """Where a run stood at an evaluation: enough to continue it exactly (a retried trial).

    The batch order is replayed rather than stored: ``epoch_rng`` is the shuffling generator's
    state when the current pass over the training split began and ``batch`` counts the batches of
    that pass already trained, so a resumed run draws the same permutation and skips them; this
    holds at epoch ends and at evaluations inside an epoch (``eval_every`` below an epoch) alike.
    """

    weights: dict[str, torch.Tensor]  # trainable_state(model): adapters + head
    optimizer: dict
    scheduler: dict
    step: int
    batch: int
    epoch_rng: torch.Tensor
    curve: list[EvalPoint]
    running_loss: float = 0.0  # train-loss sum and count since the last evaluation
    running_n: int = 0
    elapsed_s: float = 0.0  # wall time of the run so far, so a resumed run reports the whole run's


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a placement's training produced: adapter and head weights (the backbone is frozen)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_lambda(cfg: TrainingConfig, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up over ``warmup_ratio`` of the steps, then cosine / linear decay or constant."""
    warmup = int(cfg.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if cfg.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def at_least_fp32(logits: torch.Tensor) -> torch.Tensor:
    """Losses are computed in fp32 from half-precision logits, and in fp64 from fp64 ones."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


PrefixFn = Callable[[str, Split, torch.Tensor], "Sequence[torch.Tensor] | None"]


def no_prefix(name: str, split: Split, idx: torch.Tensor) -> None:
    return None


def cached_prefix(cfg: TrainingConfig, backbone: Backbone, task: TaskData, model: PlacedModel,
                  device: torch.device) -> PrefixFn:
    """Batch slices of the cached plain backbone points the placement reads (or no_prefix)."""
    if not cfg.prefix_cache:
        return no_prefix
    from placement_search.prefix_cache import BatchPoints, cache_for

    cache = cache_for(backbone, int(cfg.prefix_cache_gb * 2**30))
    through = model.prefix_points() - 1

    def prefix(name: str, split: Split, idx: torch.Tensor) -> BatchPoints:
        return BatchPoints(cache.points(f"{task.fingerprint}:{name}", split, through, device), idx.to(device))

    return prefix


class ProbeOnFeatures(nn.Module):
    """The linear probe's forward on cached pooled features: ``(inputs, features) -> head(features)``."""

    def __init__(self, model: PlacedModel):
        super().__init__()
        self.head = model.head

    def forward(self, inputs: dict[str, torch.Tensor], features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


#: pooled features of the frozen backbone per (backbone, task split): a worker's later probe trials
#: (other seeds, another head learning rate) reuse them; a few splits' worth, N x d each. Each entry
#: keeps its backbone, so the backbone's id in the key cannot be reused while the entry lives.
_FEATURES: dict[tuple, tuple[Backbone, torch.Tensor]] = {}
_FEATURES_KEPT = 6


@torch.no_grad()
def pooled_features(model: PlacedModel, split: Split, batch_size: int, device: torch.device,
                    trim: bool) -> torch.Tensor:
    """The frozen backbone's pooled final representation of every example of ``split``: one pass."""
    model.eval()
    out = None
    for idx in split.index_batches(batch_size, by_length=trim):
        inputs, _ = split.take(idx, trim)
        feats = model.features({k: v.to(device, non_blocking=True) for k, v in inputs.items()})
        if out is None:
            out = torch.empty((len(split), feats.shape[-1]), dtype=feats.dtype, device=device)
        out[idx.to(device)] = feats
    return out if out is not None else torch.empty((0, model.backbone.hidden_size), device=device)


def cached_features(model: PlacedModel, task: TaskData, cfg: TrainingConfig, device: torch.device) -> PrefixFn:
    """Batch slices of the pooled features of each split, computed on first use (module doc of
    placement/price.py: the probe then costs one backbone pass over the data plus its head)."""
    def features(name: str, split: Split, idx: torch.Tensor) -> torch.Tensor:
        key = (id(model.backbone), task.fingerprint, name, str(device), cfg.trim_padding)
        if key not in _FEATURES:
            while len(_FEATURES) >= _FEATURES_KEPT:
                _FEATURES.pop(next(iter(_FEATURES)))
            _FEATURES[key] = model.backbone, pooled_features(model, split, cfg.eval_batch_size, device,
                                                             cfg.trim_padding)
        return _FEATURES[key][1][idx.to(device)]

    return features


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int, device: torch.device,
             prefix: PrefixFn = no_prefix, name: str = "validation", trim: bool = False) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) over a whole split (``trim``: see data.split.trim_padding)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device: one sync per split
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    for idx in split.index_batches(batch_size, by_length=trim):
        inputs, labels = split.take(idx, trim)
        inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
        labels = labels.to(device, non_blocking=True)
        logits = model(inputs, prefix(name, split, idx))
        loss_sum += nn.functional.cross_entropy(at_least_fp32(logits), labels, reduction="sum")
        correct += (logits.argmax(-1) == labels).sum()
    n = max(1, len(split))
    return correct.item() / n, loss_sum.item() / n


def build_model(cfg: Config, backbone: Backbone, task: TaskData, placement: Placement) -> PlacedModel:
    """The placed model, with adapters and head initialised from ``training.seed``."""
    torch.manual_seed(cfg.training.seed)
    return PlacedModel(backbone, placement, task.num_classes, cfg.adapter, cfg.training.recurrent_grad)


def _check_finite(loss: float, step: int, placement: Placement) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(f"loss became {loss} at step {step} for placement {placement or 'empty'}")


def schedule_length(tc, n_train: int) -> tuple[int, int]:
    """(optimizer steps per epoch, total steps) of the recipe ``tc`` on ``n_train`` examples; the
    last validation happens at the total (the Tune trainable merges it into its final report)."""
    steps_per_epoch = math.ceil(n_train / tc.batch_size)
    return steps_per_epoch, tc.max_steps or max(1, math.ceil(tc.epochs * steps_per_epoch))


def train_placement(
    cfg: Config,
    placement: Placement,
    backbone: Backbone,
    task: TaskData,
    on_eval: Callable[[EvalPoint, PlacedModel, Callable[[], TrainState]], None] | None = None,
    resume: TrainState | None = None,
) -> tuple[TrainResult, PlacedModel]:
    """Train ``placement`` and return its metrics and the trained model.

    ``on_eval(point, model, state)`` is called after every validation (Tune reporting, checkpoints,
    learning curves); ``state()`` snapshots the run (a copy, built only when asked for: logging
    alone should not pay for it). ``resume`` continues from such a snapshot: the result, curve and
    weights are those an uninterrupted run reaches. Raises :class:`TrainingDiverged` on a
    non-finite loss.
    """
    tc = cfg.training
    device = resolve_device(tc.device)
    start = time.perf_counter()
    model = build_model(cfg, backbone, task, placement).to(device)
    head_params = list(model.head.parameters())
    adapter_params = list(model.adapters.parameters())
    groups = [{"params": head_params, "lr": tc.head_lr or tc.lr}]
    if adapter_params:
        groups.append({"params": adapter_params, "lr": tc.lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=tc.weight_decay, fused=device.type == "cuda")
    steps_per_epoch, total = schedule_length(tc, len(task.train))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(tc, total))
    eval_every = tc.eval_every or steps_per_epoch
    gen = torch.Generator().manual_seed(tc.seed)

    curve: list[EvalPoint] = []
    # On a GPU, reading the loss every step would stall the queue of kernels: the running loss
    # stays on the device and its finiteness is checked at each evaluation (every step on CPU).
    check_every_step = device.type == "cpu"
    step, running, running_n = 0, torch.zeros((), dtype=torch.float64, device=device), 0
    epoch_rng, batch = gen.get_state(), 0  # the pass in progress: shuffling state at its start, batches done
    elapsed_before = 0.0
    if resume is not None:
        missing, unexpected = model.load_state_dict(resume.weights, strict=False)
        if unexpected or any(not k.startswith("backbone.") for k in missing):
            raise ValueError(f"the saved training state does not fit placement {placement or 'empty'}")
        optimizer.load_state_dict(resume.optimizer)
        scheduler.load_state_dict(resume.scheduler)
        step, batch, epoch_rng, curve = resume.step, resume.batch, resume.epoch_rng, list(resume.curve)
        running += resume.running_loss
        running_n, elapsed_before = resume.running_n, resume.elapsed_s

    def state() -> TrainState:
        return TrainState(trainable_state(model), copy.deepcopy(optimizer.state_dict()),
                          copy.deepcopy(scheduler.state_dict()), step, batch, epoch_rng.clone(), list(curve),
                          running.item(), running_n, elapsed_before + time.perf_counter() - start)

    if not placement and tc.prefix_cache:  # the linear probe: its head trains on pooled features computed once
        net, prefix = ProbeOnFeatures(model), cached_features(model, task, tc, device)
    else:
        net, prefix = model, cached_prefix(tc, backbone, task, model, device)
    # On a CPU the work follows the tokens, so a batch of mixed lengths trains as its shorter and
    # longer part (each cut to its longest sequence); on a GPU one wider pass is cheaper.
    split_by_length = tc.trim_padding and device.type == "cpu" and net is model
    while step < total:
        gen.set_state(epoch_rng)
        batches = task.train.index_batches(tc.batch_size, shuffle=True, generator=gen)
        for idx in islice(batches, batch, None):
            net.train()
            optimizer.zero_grad(set_to_none=True)
            loss = torch.zeros((), dtype=torch.float64, device=device)
            for part in (task.train.length_groups(idx) if split_by_length else [idx]):
                inputs, labels = task.train.take(part, tc.trim_padding)
                inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
                logits = net(inputs, prefix("train", task.train, part))
                part_loss = nn.functional.cross_entropy(at_least_fp32(logits), labels.to(device, non_blocking=True),
                                                        reduction="sum") / len(idx)
                part_loss.backward()  # gradients add up over the parts: the batch mean's gradient
                loss += part_loss.detach()
            if check_every_step:
                _check_finite(loss.item(), step, placement)
            if tc.grad_clip:
                nn.utils.clip_grad_norm_(model.trainable_parameters(), tc.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            batch += 1
            running += loss.detach()
            running_n += 1
            if step % eval_every == 0 or step == total:
                train_loss = running.item() / running_n
                _check_finite(train_loss, step, placement)
                val_acc, val_loss = evaluate(net, task.validation, tc.eval_batch_size, device, prefix,
                                            trim=tc.trim_padding)
                point = EvalPoint(step, step / steps_per_epoch, train_loss, val_loss, val_acc,
                                  scheduler.get_last_lr()[-1])
                running.zero_()
                running_n = 0
                curve.append(point)
                if on_eval is not None:
                    on_eval(point, model, state)
            if step >= total:
                break
        else:  # the pass is over: the next one draws its order from the generator as it is now
            epoch_rng, batch = gen.get_state(), 0

    test_acc, test_loss = evaluate(net, task.test, tc.eval_batch_size, device, prefix, "test", tc.trim_padding)
    last = curve[-1]
    price = placement_price(cfg, backbone, task, placement).metrics(last.epoch, len(curve), tested=True)
    result = TrainResult(
        placement=str(placement),
        val_accuracy=last.val_accuracy,
        val_loss=last.val_loss,
        best_val_accuracy=max(p.val_accuracy for p in curve),
        test_accuracy=test_acc,
        test_loss=test_loss,
        train_loss=last.train_loss,
        num_trainable_params=model.num_trainable_parameters(),
        num_adapter_params=sum(p.numel() for p in adapter_params),
        steps=step,
        wall_time_s=elapsed_before + time.perf_counter() - start,
        curve=curve,
        inference_flops=price["inference_flops"],
        inference_cost=price["inference_cost"],
        train_flops=price["train_flops"],
    )
    return result, model
