"""What a finished trial is, whichever runner ran it: one record, built one way, written one way.

The Tune callback, the local process pool and replay all describe a trial with ``identify``
(placement, seed and plan label from its config), say where it ran with ``where_trained``, and
hand ``trial_record``'s result to ``ResultsStore.record_trials``. So the store holds the same
fields in the same form (statuses, one-line errors, node and device, curves) for all three.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from placement_search.placement.edges import EdgeSpace
from placement_search.search.encoding import decode_placement
from placement_search.store import TrialRecord, error_line


@dataclass(frozen=True)
class TrialIdentity:
    placement: str
    seed: int
    label: str | None = None


def identify(config: Mapping[str, Any], space: EdgeSpace, default_seed: int) -> TrialIdentity:
    """The placement (canonical text), training seed and plan label a trial config stands for.
    A config that does not even decode still gets an identity (empty placement), so its failure
    is recorded rather than lost."""
    try:
        placement = str(decode_placement(dict(config), space))
    except Exception:  # noqa: BLE001 - recorded as a failed trial with the decoder's error
        placement = ""
    return TrialIdentity(placement, int(config.get("seed", default_seed)), config.get("label"))


def device_label(device: Any) -> str:
    """``cpu`` or ``cuda:0 (NVIDIA H100 80GB HBM3)``: the device column of a trial."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def where_trained(device: Any) -> dict[str, str]:
    """The node and device fields a worker reports with every result."""
    return {"node": socket.gethostname(), "device": device_label(device)}


def trial_record(
    search_name: str,
    trial_key: str,
    identity: TrialIdentity,
    status: str,
    metrics: Mapping[str, Any] | None = None,
    curve: Sequence[Any] = (),
    error: str | BaseException | None = None,
    reused_from: int | None = None,
) -> TrialRecord:
    """The store record of a finished trial; ``metrics`` may carry ``node`` and ``device``."""
    metrics = dict(metrics or {})
    return TrialRecord(
        search_name=search_name,
        trial_key=str(trial_key),
        placement_text=identity.placement,
        seed=identity.seed,
        status=status,
        metrics=metrics,
        curve=curve,
        error=None if error is None and status != "failed" else error_line(error),
        reused_from=reused_from,
        node=metrics.get("node"),
        device=metrics.get("device"),
        label=identity.label,
    )


def reused_record(store, search_name: str, trial_key: str, identity: TrialIdentity,
                  metrics: Mapping[str, Any]) -> TrialRecord:
    """The record of a trial that reused the search's earlier trial of the same placement and
    seed (``reused_from`` points at it when the store holds it)."""
    first = store.find_trial(search_name, identity.placement, identity.seed)
    return trial_record(search_name, trial_key, identity, "reused", metrics,
                        reused_from=first["trial_id"] if first else None)
