"""Prepared task data: tensors the backbone can eat, with labels, in three fixed splits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch


@dataclass
class Split:
    """One split, fully prepared: ``inputs`` are the backbone's input tensors (first dim = examples)."""

    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def index_batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
        by_length: bool = False,
    ) -> Iterator[torch.Tensor]:
        """Example indices of each mini-batch; a seeded ``generator`` makes the order reproducible.
        ``by_length`` groups text of similar length (shortest first), so batches cut to their
        longest sequence carry little padding: for evaluation, where the order does not matter."""
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator)
        elif by_length and "attention_mask" in self.inputs:
            order = torch.argsort(self.inputs["attention_mask"].sum(1), stable=True)
        else:
            order = torch.arange(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]

    def take(self, idx: torch.Tensor, trim: bool = False) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Inputs and labels of the examples ``idx``; ``trim`` drops the padding columns the whole
        batch shares (see :func:`trim_padding`)."""
        inputs = {k: v[idx] for k, v in self.inputs.items()}
        return (trim_padding(inputs) if trim else inputs), self.labels[idx]

    def length_groups(self, idx: torch.Tensor, saving: float = 0.25) -> list[torch.Tensor]:
        """The examples ``idx`` as one group, or as their shorter and longer part when the two,
        each cut to its own longest sequence, hold at least ``saving`` fewer tokens than the whole
        batch cut to its longest (the split point is the one with fewest tokens; each part keeps
        at least a quarter of the batch). Where work follows tokens (a CPU), a batch of mixed
        lengths is cheaper as two passes; the gradient of their summed loss is the batch's."""
        mask = self.inputs.get("attention_mask")
        n = len(idx)
        if mask is None or mask.dim() != 2 or n < 4:
            return [idx]
        lengths, order = torch.sort(mask[idx].sum(1), stable=True)
        k = torch.arange(max(1, n // 4), n - n // 4 + 1)
        tokens = k * lengths[k - 1] + (n - k) * lengths[-1]
        best = int(tokens.argmin())
        if tokens[best] > (1 - saving) * n * lengths[-1]:
            return [idx]
        cut = int(k[best])
        return [idx[order[:cut]], idx[order[cut:]]]

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        """Yield (inputs, labels) mini-batches (see ``index_batches``)."""
        for idx in self.index_batches(batch_size, shuffle, generator):
            yield self.take(idx)


def trim_padding(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cut a text batch to its longest sequence: drop the trailing token columns that are padding
    in every row. Attention masks padding, so the real tokens' values do not change (up to float
    rounding), but every sub-layer then works on ``longest`` tokens instead of ``max_length``;
    text is padded to ``max_length`` once when the task is prepared. Image inputs pass unchanged."""
    mask = inputs.get("attention_mask")
    if mask is None or mask.dim() != 2:
        return inputs
    real = mask.any(0).nonzero()
    length = int(real.max()) + 1 if len(real) else 1
    width = mask.shape[1]
    if length == width:
        return inputs
    return {k: v[:, :length] if v.dim() >= 2 and v.shape[1] == width else v for k, v in inputs.items()}


@dataclass
class TaskData:
    """A labelled task ready for training: three splits plus what identifies them.

    fingerprint: a hash of the task's identity and split recipe (source, columns, seed, sizes,
    preprocessing), part of the benchmark key that makes results comparable across searches.
    """

    name: str
    modality: str
    class_names: list[str]
    train: Split
    validation: Split
    test: Split
    fingerprint: str
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
