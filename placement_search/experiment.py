"""A config made concrete in this process: its backbone, task and edge space, each loaded once.

Search trials on one worker share the same backbone and task: loading a pre-trained model and
tokenising a data set per trial would dominate short trials. The memo is keyed by the config
sections that determine the result, so a worker that sees a different config loads afresh.
"""

from __future__ import annotations

import dataclasses
import json

from placement_search.backbones import load_backbone
from placement_search.backbones.base import Backbone
from placement_search.config import BackboneConfig, Config, TaskConfig
from placement_search.data import load_task
from placement_search.data.task_data import TaskData
from placement_search.placement.edges import EdgeSpace

_BACKBONES: dict[str, Backbone] = {}
_TASKS: dict[str, TaskData] = {}


def _key(*parts: object) -> str:
    return json.dumps([dataclasses.asdict(p) for p in parts], sort_keys=True, default=str)


def cached_backbone(cfg: BackboneConfig) -> Backbone:
    key = _key(cfg)
    if key not in _BACKBONES:
        _BACKBONES[key] = load_backbone(cfg)
    return _BACKBONES[key]


def cached_task(task_cfg: TaskConfig, backbone_cfg: BackboneConfig) -> TaskData:
    key = _key(task_cfg, backbone_cfg)
    if key not in _TASKS:
        _TASKS[key] = load_task(task_cfg, cached_backbone(backbone_cfg))
    return _TASKS[key]


def load_experiment(cfg: Config) -> tuple[Backbone, TaskData]:
    """The (frozen backbone, prepared task) pair for ``cfg``, memoised per process."""
    backbone = cached_backbone(cfg.backbone)
    return backbone, cached_task(cfg.task, cfg.backbone)


def clear_cache() -> None:
    _BACKBONES.clear()
    _TASKS.clear()


def num_points(cfg: BackboneConfig) -> int:
    """The backbone's points (2L + 1). A timm name is answered from its architecture built on the
    meta device (no weights: a replay at ViT-g/14 size would otherwise build a 1B-parameter model,
    or download one, to learn its depth); other names load the backbone, memoised."""
    prefix, _, arch = cfg.name.partition(":")
    if _key(cfg) not in _BACKBONES and prefix in ("timm", "timm-random") and arch:
        from placement_search.backbones.timm_vit import timm_random_model

        try:
            return 2 * len(timm_random_model(arch, device="meta").blocks) + 1
        except Exception:  # noqa: BLE001 - an unknown name: loading it gives the user's error
            pass
    return cached_backbone(cfg).num_points


def edge_space(cfg: Config) -> EdgeSpace:
    """The edges a search under ``cfg`` may use: its backbone's points, its allowed edge types.
    The one place a config becomes an edge space (see ``num_points``)."""
    return EdgeSpace(num_points(cfg.backbone), tuple(cfg.space.edge_types))
