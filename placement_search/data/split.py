"""Prepared task data: tensors the backbone can eat, with labels, in three fixed splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch


@dataclass
class Split:
    """One split, fully prepared: ``inputs`` are the backbone's input tensors (first dim = examples)."""

    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def index_batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[torch.Tensor]:
        """Example indices of each mini-batch; a seeded ``generator`` makes the order reproducible."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]

    def take(self, idx: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {k: v[idx] for k, v in self.inputs.items()}, self.labels[idx]

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
        """Yield (inputs, labels) mini-batches (see ``index_batches``)."""
        for idx in self.index_batches(batch_size, shuffle, generator):
            yield self.take(idx)


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
