"""The search configuration: one dataclass per section, loaded from a YAML file or a shipped preset.

Every key has a default, so a preset only says what differs. Unknown sections and keys (in the file
or in a ``--set`` override), keys given twice and bad values raise :class:`PlacementSearchError`
naming the key (as ``section.key``), the nearest valid name and what is allowed: a typo in a config
must never silently fall back to a default.

YAML is read as YAML 1.2 reads numbers: ``lr: 1e-3`` is the float 0.001 (PyYAML alone would read a
string). Float keys also accept such strings from Python; integer keys stay strict (``1e3`` is
refused for ``batch_size``). Floats must be finite, seeds in ``0 .. 2**32 - 1``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from placement_search.errors import PlacementSearchError

EDGE_TYPES = ("sequential", "parallel", "long-range", "recurrent")
ACTIVATIONS = ("identity", "gelu", "relu")
POOLINGS = ("cls", "mean")
SCHEDULES = ("cosine", "linear", "constant")
SCORE_POOLINGS = ("tokens", "mean")
HEAD_INITS = ("default", "normal", "orthogonal")
RECURRENT_GRADS = ("both", "pass2")


@dataclass
class BackboneConfig:
    """Which pre-trained transformer, and how its final stream becomes features.

    name: a registry name (``minilm-l6``, ``dinov2-s14``, ``tiny-bert``, ...) or a hub id with its
    library as prefix (``hf:roberta-base``, ``timm:vit_base_patch16_224.augreg_in21k``).
    pooling: ``cls``, ``mean`` or null for the backbone's own convention.
    """

    name: str = "minilm-l6"
    pooling: str | None = None
    dtype: str = "float32"


@dataclass
class TaskConfig:
    """The labelled task and its deterministic split.

    name: a built-in (``trec6``, ``fashion-mnist``, ``tiny-text``, ``tiny-image``), a hub data set
    (``hf:glue/sst2``), or a local file / image folder path (``data/train.csv``).
    Sample limits cut each split after the seeded shuffle (null = all).
    """

    name: str = "trec6"
    text_column: str | None = None
    text_pair_column: str | None = None
    image_column: str | None = None
    label_column: str | None = None
    train_split: str | None = None
    validation_split: str | None = None
    test_split: str | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    train_samples: int | None = None
    validation_samples: int | None = None
    test_samples: int | None = None
    max_length: int = 128
    image_size: int | None = None


@dataclass
class AdapterConfig:
    """A(x) = scale * W_up(act(W_down(x))) with W_up zero-initialised (DESIGN.md §5).

    rank: the bottleneck r, or ``full`` for one d x d linear map (what the gradient-rank score
    describes).
    """

    rank: int | str = 8
    activation: str = "identity"
    scale: float = 1.0


@dataclass
class TrainingConfig:
    """How one placement is fine-tuned: AdamW on adapters + head, warm-up then a schedule."""

    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 32
    eval_batch_size: int = 256
    lr: float = 1e-3
    head_lr: float | None = None
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    schedule: str = "cosine"
    eval_every: int | None = None
    grad_clip: float | None = 1.0
    seed: int = 0
    recurrent_grad: str = "both"
    #: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"
    device: str = "auto"
    #: reuse plain backbone activations of the points a placement leaves unchanged (prefix_cache.py)
    prefix_cache: bool = True
    #: memory budget of that cache per worker process, in GiB
    prefix_cache_gb: float = 4.0
    #: run each text batch at its longest sequence, not at task.max_length (data/task_data.py)
    trim_padding: bool = True


@dataclass
class SpaceConfig:
    """The edge space a search draws from, and the adapter budget K (or K..k_max when K varies)."""

    edge_types: list[str] = field(default_factory=lambda: list(EDGE_TYPES))
    k: int = 1
    k_max: int | None = None

    @property
    def k_range(self) -> tuple[int, int]:
        return self.k, self.k_max or self.k


@dataclass
class ScoringConfig:
    """Gradient-rank scoring (DESIGN.md §6).

    rtol: singular values above rtol * sigma_max count towards the rank.
    pooling: ``tokens`` (every real token is a row of X_i and D_j) or ``mean`` (one row per example:
    its mean activation and summed gradient).
    head_init: how the seeded fresh head is initialised.
    """

    rtol: float = 1e-2
    batch_size: int = 64
    num_batches: int = 1
    pooling: str = "tokens"
    head_init: str = "default"
    seed: int = 0


@dataclass
class SearchConfig:
    """How a search runs on Ray Tune (``placement-search run``); CLI flags override these.

    searcher: prior-gp (the default: a Gaussian process over edge features whose prior, from other
    tasks' single-edge maps and the gradient-rank scores, is trusted as far as the trials confirm
    it; it tries the edge with the best expected improvement per unit of compute), random, tpe,
    gga-tpe, nsga2, exhaustive or baseline:NAME (NAME as in ``--placement``).
    seeds: training seeds each placement is trained with (several give the noise level).
    scheduler: fifo (the default: every trial runs to the end) or asha (Tune's ASHA stops weak
    placements after ``asha_grace_period`` epochs). The default searcher reads each trial's final
    accuracy: replayed on the ground truths, prior-gp with ASHA cost 2.75x random's compute to a
    top-5 % edge on MiniLM x TREC-6 against 0.48x without (a stopped trial's one-epoch accuracy
    reads as final, and a good slow starter is never tried again). Exhaustive sweeps, baselines and
    fixed placement lists always run to the end (they are ground truth), and so does every trial
    of the local runner.
    store: results store (a SQLite path or an SQLAlchemy URL); default runs/placement_search.sqlite.
    storage_path: where Tune keeps experiment state and checkpoints (shared storage on clusters).
    max_failures: retries of a failed trial (from its last checkpoint).
    gga_gammas / warm_starts: the GGA placements that seed gga-tpe (warm_starts null = a quarter
    of num_samples, at least 2).
    objectives: what the search optimises: val_accuracy first, then optionally adapter_params and
    inference_cost (minimised; DESIGN.md §13) for a Pareto front (search/objectives.py).
    max_adapter_params / max_inference_cost: placements above these are never trained.
    backbone_map_weight: prior-gp only: how far its prior leans on the single-edge maps measured on
    this very backbone (their edge-for-edge mean, from three maps on; only MiniLM-L6 has that many
    in the shipped prior). null is the searcher's default, 0 (off): the selection rule kept it off
    (movie sentiment 0.96x to 1.04x random at 1), and on two held-out MiniLM tasks it made no
    difference; 1 pays where the task is a sibling of a source task (TREC fine, whose questions
    TREC-6 shares: 0.75x / 0.82x to 0.36x / 0.14x). README, "The backbone's own maps".
    prior_sources: prior-gp only: results stores (paths or URLs) whose exhaustive single-edge sweeps of
    related tasks join its transfer prior as more source maps (search/prior_sources.py); what pays
    is a sibling of the searched task, e.g. the same inputs under other labels. README, "Your own
    sweeps as sources".
    source_map_var: prior-gp only: the prior variance of a slope it learns from the trials on each
    source map measured on this very backbone (how far the task resembles each source task). null
    is the searcher's default, 0 (off): the selection rule kept it off (movie sentiment 0.96x to
    1.01x-1.08x random) and on two held-out MiniLM tasks it made no consistent difference; 2 pays
    where a source task is a sibling of the task (TREC fine (b) 0.82x to 0.26x). README,
    "Resemblance learned from the trials".
    """

    searcher: str = "prior-gp"
    num_samples: int = 8
    seeds: list[int] | None = None
    seed: int = 0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    scheduler: str = "fifo"
    asha_grace_period: int = 1
    asha_reduction_factor: int = 3
    store: str | None = None
    storage_path: str | None = None
    max_failures: int = 0
    gga_gammas: list[float] = field(default_factory=lambda: [0.6, 0.0, 0.3, 0.9])
    warm_starts: int | None = None
    objectives: list[str] = field(default_factory=lambda: ["val_accuracy"])
    max_adapter_params: int | None = None
    max_inference_cost: float | None = None
    backbone_map_weight: float | None = None
    source_map_var: float | None = None
    prior_sources: list[str] = field(default_factory=list)


#: what a search can optimise (search/objectives.py): accuracy, then the price of a placement
OBJECTIVES = ("val_accuracy", "adapter_params", "inference_cost")


@dataclass
class Config:
    name: str = "search"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    def to_dict(self) -> dict[str, Any]:
        """The YAML-shaped mapping: ``config_from_dict(cfg.to_dict())`` rebuilds the same config."""
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """A short stable hash of the named sections (e.g. the benchmark key's parts)."""
        payload = {s: dataclasses.asdict(getattr(self, s)) for s in sections}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_SECTIONS = {
    "backbone": BackboneConfig,
    "task": TaskConfig,
    "adapter": AdapterConfig,
    "training": TrainingConfig,
    "space": SpaceConfig,
    "scoring": ScoringConfig,
    "search": SearchConfig,
}
#: every top-level key a config file may hold
TOP_LEVEL = ("name", *_SECTIONS)

#: seeds feed numpy's and torch's generators, which take 0 .. 2**32 - 1
SEED_LIMIT = 2**32
_SEEDS = {("task", "split_seed"), ("training", "seed"), ("scoring", "seed"), ("search", "seed")}


def _suggest(word: str, choices) -> str:
    """`` did you mean 'x'?`` for the nearest of ``choices`` (difflib), or nothing."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def unknown_section_error(section: Any, where: str = "") -> PlacementSearchError:
    """The error for a top-level key that is not a section, with the nearest valid one."""
    hint = _suggest(section, TOP_LEVEL)
    return PlacementSearchError(
        f"unknown config section {str(section)!r}{where};{hint} sections: {', '.join(TOP_LEVEL)}"
    )


def unknown_key_error(section: str, key: Any, where: str = "") -> PlacementSearchError:
    """The error for a key its section does not have, with the nearest valid one."""
    names = [f.name for f in dataclasses.fields(_SECTIONS[section])]
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    hint = f" did you mean {section}.{close[0]}?" if close else ""
    return PlacementSearchError(
        f"unknown config key {section}.{key}{where};{hint} allowed keys: {', '.join(names)}"
    )


# ------------------------------------------------------------------------------------------ YAML

#: floats with an exponent as YAML 1.2 writes them (1e-3, 5E4, 1.5e3); PyYAML follows YAML 1.1, which
#: wants a dot and a signed exponent (1.0e-3), and reads the others as strings
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float and refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise PlacementSearchError(
                    f"key {key!r} appears twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1}); "
                    "keep one of them"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """Parse config YAML (see the module docstring); raises ``yaml.YAMLError`` on bad syntax."""
    return yaml.load(text, Loader=_ConfigLoader)


def _float_text(value: str) -> float | None:
    """``value`` as a float if it is written as a number (``1e-3``, ``0.5``), else None."""
    text = value.strip()
    if _FLOAT_12.match(text) or re.fullmatch(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)", text):
        return float(text.replace("_", ""))
    return None


_CHOICES = {
    ("backbone", "pooling"): (None, *POOLINGS),
    ("backbone", "dtype"): ("float32", "float64", "bfloat16"),
    ("adapter", "activation"): ACTIVATIONS,
    ("training", "schedule"): SCHEDULES,
    ("training", "recurrent_grad"): RECURRENT_GRADS,
    ("scoring", "pooling"): SCORE_POOLINGS,
    ("scoring", "head_init"): HEAD_INITS,
    ("search", "scheduler"): ("fifo", "asha"),
}

_POSITIVE = {
    ("training", "epochs"), ("training", "batch_size"), ("training", "eval_batch_size"),
    ("training", "lr"), ("training", "max_steps"), ("training", "eval_every"),
    ("space", "k"), ("scoring", "rtol"), ("scoring", "batch_size"), ("scoring", "num_batches"),
    ("task", "max_length"), ("task", "image_size"), ("task", "train_samples"),
    ("task", "validation_samples"), ("task", "test_samples"), ("adapter", "scale"),
    ("space", "k_max"), ("search", "num_samples"), ("search", "cpus_per_trial"),
    ("search", "max_concurrent"), ("search", "asha_grace_period"), ("search", "warm_starts"),
    ("training", "prefix_cache_gb"), ("search", "max_adapter_params"), ("search", "max_inference_cost"),
}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check a YAML value against the dataclass field's annotation; return it converted."""
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    if value is None:
        if "None" in text:
            return None
        raise PlacementSearchError(f"config key {key} must not be null")
    if text in ("int", "int | None"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlacementSearchError(f"config key {key} must be an integer, got {value!r}")
        return value
    if text in ("float", "float | None"):
        if isinstance(value, str) and _float_text(value) is not None:
            value = _float_text(value)  # "1e-3" from Python, or quoted in YAML
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlacementSearchError(f"config key {key} must be a number (e.g. 0.001 or 1e-3), got {value!r}")
        if not math.isfinite(value):
            raise PlacementSearchError(f"config key {key} must be a finite number, got {value!r}")
        return float(value)
    if text in ("str", "str | None"):
        if not isinstance(value, str):
            raise PlacementSearchError(f"config key {key} must be a string, got {value!r}")
        return value
    if text == "list[str]":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PlacementSearchError(f"config key {key} must be a list of strings, got {value!r}")
        return list(value)
    if text in ("list[int] | None", "list[float]"):
        kind = int if "int" in text else (int, float)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]
        if kind is not int and isinstance(value, list):
            value = [_float_text(v) if isinstance(v, str) and _float_text(v) is not None else v for v in value]
        what = "integers" if kind is int else "numbers"
        if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise PlacementSearchError(f"config key {key} must be a list of {what}, got {value!r}")
        if not all(math.isfinite(v) for v in value):
            raise PlacementSearchError(f"config key {key} must hold finite numbers, got {value!r}")
        return list(value)
    if text == "int | str":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise PlacementSearchError(f"config key {key} must be an integer or 'full', got {value!r}")
        return value
    return value


def _build_section(section: str, cls: type, raw: Any) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PlacementSearchError(f"config section {section} must be a mapping, got {type(raw).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        if key not in names:
            raise unknown_key_error(section, key)
        full = f"{section}.{key}"
        value = _coerce(full, value, hints[key])
        choices = _CHOICES.get((section, key))
        if choices is not None and value not in choices:
            shown = ", ".join("null" if c is None else str(c) for c in choices)
            raise PlacementSearchError(f"config key {full} is {value!r}; allowed values: {shown}")
        if (section, key) in _POSITIVE and value is not None and value <= 0:
            raise PlacementSearchError(f"config key {full} must be positive, got {value!r}")
        if (section, key) in _SEEDS and not 0 <= value < SEED_LIMIT:
            raise PlacementSearchError(f"config key {full} must be a seed from 0 to {SEED_LIMIT - 1}, got {value!r}")
        values[key] = value
    return cls(**values)


def _validate(cfg: Config) -> None:
    rank = cfg.adapter.rank
    if isinstance(rank, str) and rank != "full" or isinstance(rank, int) and rank <= 0:
        raise PlacementSearchError(f"config key adapter.rank is {rank!r}; use a positive integer or 'full'")
    bad = [t for t in cfg.space.edge_types if t not in EDGE_TYPES]
    if bad:
        raise PlacementSearchError(
            f"unknown edge type {bad[0]!r} in space.edge_types; allowed values: {', '.join(EDGE_TYPES)}"
        )
    if cfg.space.k_max is not None and cfg.space.k_max < cfg.space.k:
        raise PlacementSearchError(f"config key space.k_max ({cfg.space.k_max}) must be >= space.k ({cfg.space.k})")
    if cfg.search.gpus_per_trial < 0 or cfg.search.max_failures < 0:
        raise PlacementSearchError("config keys search.gpus_per_trial and search.max_failures must be >= 0")
    if cfg.search.backbone_map_weight is not None and cfg.search.backbone_map_weight < 0:
        raise PlacementSearchError(f"config key search.backbone_map_weight must be >= 0 (0 turns the backbone map "
                                   f"off, 1 is the measured weight), got {cfg.search.backbone_map_weight:g}")
    if cfg.search.source_map_var is not None and cfg.search.source_map_var < 0:
        raise PlacementSearchError(f"config key search.source_map_var must be >= 0 (0 turns the source-map slopes "
                                   f"off, 2 is the measured variance), got {cfg.search.source_map_var:g}")
    bad_seeds = [s for s in cfg.search.seeds or [] if not 0 <= s < SEED_LIMIT]
    if bad_seeds:
        raise PlacementSearchError(
            f"config key search.seeds holds {bad_seeds[0]}; seeds run from 0 to {SEED_LIMIT - 1}"
        )
    if cfg.search.asha_reduction_factor < 2:
        raise PlacementSearchError(
            f"config key search.asha_reduction_factor must be at least 2, got {cfg.search.asha_reduction_factor}"
        )
    if not cfg.space.edge_types:
        raise PlacementSearchError("space.edge_types is empty; list at least one of: " + ", ".join(EDGE_TYPES))
    objectives = cfg.search.objectives
    bad = [o for o in objectives if o not in OBJECTIVES]
    if bad or not objectives or objectives[0] != "val_accuracy" or len(set(objectives)) < len(objectives):
        raise PlacementSearchError(
            f"config key search.objectives is {','.join(objectives) or 'empty'}; write val_accuracy first, then "
            f"any of {', '.join(OBJECTIVES[1:])}, each once (e.g. val_accuracy,adapter_params)")
    for key in ("validation_fraction", "test_fraction"):
        v = getattr(cfg.task, key)
        if not 0.0 < v < 1.0:
            raise PlacementSearchError(f"config key task.{key} must be between 0 and 1, got {v}")
    if not 0.0 <= cfg.training.warmup_ratio < 1.0:
        raise PlacementSearchError(
            f"config key training.warmup_ratio must be in [0, 1), got {cfg.training.warmup_ratio}"
        )


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a parsed YAML mapping.

    The mapping holds ``name`` and the sections (:data:`TOP_LEVEL`); anything else is refused with
    the nearest valid name, so a misspelled section never falls back to the defaults.
    """
    if not isinstance(raw, dict):
        raise PlacementSearchError("a config file must hold a YAML mapping of sections (backbone, task, ...)")
    unknown = [k for k in raw if k not in TOP_LEVEL]
    if unknown:
        raise unknown_section_error(unknown[0])
    name = raw.get("name", "search")
    if not isinstance(name, str) or not name:
        raise PlacementSearchError("config key name must be a non-empty string")
    sections = {s: _build_section(s, cls, raw.get(s)) for s, cls in _SECTIONS.items()}
    cfg = Config(name=name, **sections)
    _validate(cfg)
    return cfg


#: the presets that ship with the package: ``search_spaces/`` of a checkout, which
#: ``placement_search/presets`` links to (a wheel holds the files themselves)
PRESETS_DIR = Path(__file__).parent / "presets"


def preset_names() -> list[str]:
    """The names of the shipped presets (``minilm_trec6``, ``tiny``, ...)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def config_file(config: str | Path) -> Path:
    """The YAML file of a CONFIG argument: a path, or the name of a shipped preset (``minilm_trec6``
    or ``minilm_trec6.yaml``); a path that is a file wins over a preset of the same name."""
    path = Path(config)
    if path.is_file():
        return path
    name = path.name.removesuffix(".yaml")
    if len(path.parts) == 1 and (PRESETS_DIR / f"{name}.yaml").is_file():
        return PRESETS_DIR / f"{name}.yaml"
    names = preset_names()
    raise PlacementSearchError(
        f"config file {path} does not exist and is not a preset;{_suggest(name, names)} presets: {', '.join(names)}")


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (a path or a preset name, ``config_file``); ``overrides`` are
    ``section.key=value`` strings (YAML-parsed values)."""
    path = config_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise PlacementSearchError(f"config file {path} cannot be read ({reason}); check the file") from None
    try:
        raw = load_yaml(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PlacementSearchError(f"config file {path} is not valid YAML{where}; fix its syntax") from None
    except PlacementSearchError as exc:
        raise PlacementSearchError(f"config file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise PlacementSearchError(f"config file {path} must hold a mapping of sections (backbone, task, ...)")
    for item in overrides or []:
        apply_override(raw, item)
    return config_from_dict(raw)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``section.key=value`` (or ``name=value``) override to a raw config mapping, in place.

    The value is parsed as YAML (``training.lr=1e-3``, ``space.edge_types=[parallel]``); an unknown
    section or key is refused here, naming the override and the nearest valid name.
    """
    dotted, sep, text = item.partition("=")
    dotted = dotted.strip()
    if not sep or ("." not in dotted and dotted != "name"):
        raise PlacementSearchError(f"override {item!r} is malformed; write section.key=value, e.g. training.epochs=1")
    where = f" in --set {item}"
    try:
        value = load_yaml(text) if text else None
    except yaml.YAMLError:
        raise PlacementSearchError(
            f"override {item!r} has a value that is not valid YAML; quote it (e.g. key='[1') or fix its brackets"
        ) from None
    except PlacementSearchError as exc:
        raise PlacementSearchError(f"override {item!r}: {exc}") from None
    if dotted == "name":
        raw["name"] = value
        return
    section, key = dotted.split(".", 1)
    if section == "name":
        raise PlacementSearchError(f"override {item!r}: name has no keys; write name=VALUE")
    if section not in _SECTIONS:
        raise unknown_section_error(section, where)
    if key not in {f.name for f in dataclasses.fields(_SECTIONS[section])}:
        raise unknown_key_error(section, key, where)
    target = raw.get(section)
    if target is None:
        target = raw[section] = {}
    if not isinstance(target, dict):
        raise PlacementSearchError(f"override {item!r}: config section {section} is not a mapping")
    target[key] = value
