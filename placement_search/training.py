"""Fine-tune one placement: adapters + head on a frozen backbone, AdamW, warm-up + schedule.

``train_placement`` is the unit of work every search trial runs. It is seeded and deterministic on
CPU (the backbone runs in eval mode, batch order and initialisation come from ``training.seed``),
evaluates on validation every ``eval_every`` steps (default: once per epoch) so schedulers can stop
bad placements early, and on test once at the end.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from placement_search.backbones.base import Backbone
from placement_search.config import Config, TrainingConfig
from placement_search.data.split import Split, TaskData
from placement_search.placement.edges import Placement
from placement_search.placement.placed_model import PlacedModel


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

    def metrics(self) -> dict:
        """Flat scalar metrics (no curve), as reported to Tune and stored."""
        out = asdict(self)
        out.pop("curve")
        return out


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


PrefixFn = Callable[[str, Split, torch.Tensor], "list[torch.Tensor] | None"]


def no_prefix(name: str, split: Split, idx: torch.Tensor) -> None:
    return None


def cached_prefix(cfg: TrainingConfig, backbone: Backbone, task: TaskData, model: PlacedModel,
                  device: torch.device) -> PrefixFn:
    """Batch slices of the cached plain backbone points the placement reads (or no_prefix)."""
    if not cfg.prefix_cache:
        return no_prefix
    from placement_search.prefix_cache import cache_for

    cache = cache_for(backbone, int(cfg.prefix_cache_gb * 2**30))
    through = model.prefix_points() - 1

    def prefix(name: str, split: Split, idx: torch.Tensor) -> list[torch.Tensor]:
        points = cache.points(f"{task.fingerprint}:{name}", split, through, device)
        idx = idx.to(device)
        return [p[idx] for p in points]

    return prefix


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int, device: torch.device,
             prefix: PrefixFn = no_prefix, name: str = "validation") -> tuple[float, float]:
    """(accuracy, mean cross-entropy) over a whole split."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device: one sync per split
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    for idx in split.index_batches(batch_size):
        inputs, labels = split.take(idx)
        inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
        labels = labels.to(device, non_blocking=True)
        logits = model(inputs, prefix(name, split, idx))
        loss_sum += nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
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


def train_placement(
    cfg: Config,
    placement: Placement,
    backbone: Backbone,
    task: TaskData,
    on_eval: Callable[[EvalPoint, PlacedModel], None] | None = None,
) -> tuple[TrainResult, PlacedModel]:
    """Train ``placement`` and return its metrics and the trained model.

    ``on_eval`` is called after every validation (Tune reporting, checkpoints, learning curves).
    Raises :class:`TrainingDiverged` on a non-finite loss.
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
    steps_per_epoch = math.ceil(len(task.train) / tc.batch_size)
    total = tc.max_steps or max(1, math.ceil(tc.epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(tc, total))
    eval_every = tc.eval_every or steps_per_epoch
    gen = torch.Generator().manual_seed(tc.seed)

    curve: list[EvalPoint] = []
    # On a GPU, reading the loss every step would stall the queue of kernels: the running loss
    # stays on the device and its finiteness is checked at each evaluation (every step on CPU).
    check_every_step = device.type == "cpu"
    step, running, running_n = 0, torch.zeros((), dtype=torch.float64, device=device), 0
    prefix = cached_prefix(tc, backbone, task, model, device)
    while step < total:
        for idx in task.train.index_batches(tc.batch_size, shuffle=True, generator=gen):
            model.train()
            inputs, labels = task.train.take(idx)
            inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
            logits = model(inputs, prefix("train", task.train, idx))
            loss = nn.functional.cross_entropy(logits.float(), labels.to(device, non_blocking=True))
            if check_every_step:
                _check_finite(loss.item(), step, placement)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip:
                nn.utils.clip_grad_norm_(model.trainable_parameters(), tc.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            running += loss.detach()
            running_n += 1
            if step % eval_every == 0 or step == total:
                train_loss = running.item() / running_n
                _check_finite(train_loss, step, placement)
                val_acc, val_loss = evaluate(model, task.validation, tc.eval_batch_size, device, prefix)
                point = EvalPoint(step, step / steps_per_epoch, train_loss, val_loss, val_acc,
                                  scheduler.get_last_lr()[-1])
                running.zero_()
                running_n = 0
                curve.append(point)
                if on_eval is not None:
                    on_eval(point, model)
            if step >= total:
                break

    test_acc, test_loss = evaluate(model, task.test, tc.eval_batch_size, device, prefix, "test")
    last = curve[-1]
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
        wall_time_s=time.perf_counter() - start,
        curve=curve,
    )
    return result, model
