"""The store's identity keys: which results are comparable with which (benchmark key), and which
score table belongs to a config (score key).

Two trials are comparable when the same placement would get the same accuracy from both: same
backbone, same task and split, same training recipe, same adapter. The key hashes exactly those
config sections (the training seed, device, evaluation batching and the prefix cache are left
out: seeds are a column of the results, the others do not change them). Any search can then be compared with the
exhaustive single-edge ground truth stored under the same key, and replay can look placements up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from placement_search.config import Config

#: bump when the meaning of a stored result changes (training loop, adapter or forward semantics)
RECIPE_VERSION = 1
_NOT_PART_OF_THE_KEY = ("seed", "device", "eval_batch_size", "eval_every", "prefix_cache", "prefix_cache_gb",
                        "trim_padding")


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def benchmark_description(cfg: Config) -> dict:
    training = {k: v for k, v in dataclasses.asdict(cfg.training).items() if k not in _NOT_PART_OF_THE_KEY}
    return {
        "recipe_version": RECIPE_VERSION,
        "backbone": dataclasses.asdict(cfg.backbone),
        "task": dataclasses.asdict(cfg.task),
        "adapter": dataclasses.asdict(cfg.adapter),
        "training": training,
    }


def benchmark_key(cfg: Config) -> str:
    return _digest(benchmark_description(cfg))


def score_description(cfg: Config) -> dict:
    return {
        "backbone": dataclasses.asdict(cfg.backbone),
        "task": dataclasses.asdict(cfg.task),
        "scoring": dataclasses.asdict(cfg.scoring),
    }


def score_key(cfg: Config) -> str:
    """Identity of a gradient-rank score table (scores do not depend on training or adapters)."""
    return _digest(score_description(cfg))
