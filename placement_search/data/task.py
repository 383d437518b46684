"""``load_task``: source -> columns and labels -> split plan -> tensors prepared for the backbone.

Named splits are used when the source has them (``task.train_split`` etc.; auto: ``train``,
``validation``/``valid``/``val``/``dev``, ``test``). A missing split, or one whose rows are all
unlabeled (GLUE test splits), is carved from train (see split_plan.py). The fingerprint hashes the
task identity, the split recipe, the preparation and the resulting labels, so equal configs give
equal fingerprints in any process and a changed data file changes it.

Refused with a one-line error: a task whose labeled rows hold a single class, and a split plan that
leaves train, validation or test without an example of some class (the error names the split and
the class). An image the task uses that cannot be decoded (a broken, truncated or unreadable file)
is **refused, naming the file**, never skipped: a silently smaller data set would change results
without a word. Images beyond the sample limits are not opened.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import torch
from datasets import Image

from placement_search.config import TaskConfig
from placement_search.data import prepare
from placement_search.data.arrow import dataset_table, fixed_array_numpy
from placement_search.data.columns import Columns, detect_modality, encode_labels, resolve_columns
from placement_search.data.sources import Source, builtin_modality, load_source
from placement_search.data.split_plan import ROLES, plan_splits
from placement_search.data.task_data import Split, TaskData
from placement_search.errors import PlacementSearchError

#: bump when the preparation changes in a way the recipe does not show
DATA_FORMAT_VERSION = 1
VALIDATION_NAMES = ("validation", "valid", "val", "dev")


@dataclass
class TaskPlan:
    """A task read and split but not yet prepared: enough to refuse a bad task cheaply."""

    source: Source
    modality: str
    columns: Columns
    tables: dict
    class_names: list
    ids: dict
    plan: object


def check_task(cfg: TaskConfig, backbone) -> None:
    """Everything ``load_task`` refuses that can be known without tokenising or decoding images
    (source, columns, classes, splits, memory): the search service calls it on the driver, so a
    task the workers could not load fails before any trial, with nothing written."""
    planned = plan_task(cfg, backbone)
    if planned.modality != "text":
        settings = prepare.image_settings(backbone.input_spec(), cfg.image_size)
        prepare.check_image_memory(cfg.name, sum(len(i) for i in planned.plan.indices.values()), settings)


def plan_task(cfg: TaskConfig, backbone) -> TaskPlan:
    """Load ``cfg.name``'s source, resolve its columns and labels and plan its splits."""
    known = builtin_modality(cfg.name)
    if known is not None:
        check_modality(cfg.name, known, backbone)
    source = load_source(cfg.name)
    roles = split_names(cfg, source)
    reference = source.splits[roles["train"]]
    modality = source.modality or detect_modality(cfg, reference.features)
    check_modality(cfg.name, modality, backbone)
    columns = resolve_columns(cfg, reference.features, modality, cfg.name)

    used = sorted({name for name in roles.values() if name is not None})
    tables = {name: dataset_table(source.splits[name]) for name in used}
    label_columns = {
        name: (tables[name].column(columns.label), source.splits[name].features[columns.label])
        for name in used
        if columns.label in source.splits[name].features
    }
    class_names, ids = encode_labels(cfg.name, columns.label, label_columns)
    labeled = {}
    for role, name in roles.items():
        has_labels = name is not None and name in ids and bool((ids[name] >= 0).any())
        if role == "train" and not has_labels:
            raise PlacementSearchError(
                f"task {cfg.name} split {name!r} has no labeled rows in column {columns.label!r}; "
                "set task.train_split or task.label_column"
            )
        labeled[role] = name if has_labels else None
        if has_labels:
            _check_inputs(cfg.name, name, columns, source)
    present = _present_classes(ids, labeled)
    if len(present) < 2:
        only = class_names[present[0]] if present else "none"
        raise PlacementSearchError(
            f"task {cfg.name} has only one class ({only!r}) in its label column {columns.label!r}; a classifier "
            "needs at least two: check task.label_column or add examples of the other classes"
        )
    plan = plan_splits(cfg, ids, labeled, cfg.name)
    _check_every_class_in_every_split(cfg, plan, ids, labeled, present, class_names)
    return TaskPlan(source, modality, columns, tables, class_names, ids, plan)


def load_task(cfg: TaskConfig, backbone) -> TaskData:
    """Load ``cfg.name``, split it deterministically and prepare it for ``backbone``'s inputs."""
    planned = plan_task(cfg, backbone)
    source, modality, columns, tables = planned.source, planned.modality, planned.columns, planned.tables
    class_names, ids, plan = planned.class_names, planned.ids, planned.plan
    spec = backbone.input_spec()
    if modality == "text":
        tokenizer, prep_recipe = prepare.text_settings(spec, cfg.max_length)
    else:
        settings = prepare.image_settings(spec, cfg.image_size)
        prep_recipe = dict(settings)
        prepare.check_image_memory(cfg.name, sum(len(i) for i in plan.indices.values()), settings)
    arrays: dict[str, np.ndarray | None] = {}
    splits = {}
    for role in ROLES:
        name, idx = plan.sources[role], plan.indices[role]
        table = tables[name]
        if modality == "text":
            texts = prepare.as_texts(table.column(columns.text).take(idx).to_pylist())
            pairs = prepare.as_texts(table.column(columns.pair).take(idx).to_pylist()) if columns.pair else None
            inputs = prepare.tokenize(tokenizer, texts, pairs, cfg.max_length)
        else:
            feature = source.splits[name].features[columns.image]
            if name not in arrays:
                arrays[name] = fixed_array_numpy(table.column(columns.image), feature)
            if arrays[name] is not None:
                raw = arrays[name][idx]
            else:
                values = table.column(columns.image).take(idx).to_pylist()
                if isinstance(feature, Image):
                    values = [_decode_image(cfg.name, feature, v) for v in values]
                raw = prepare.pil_to_array(values, settings)
            inputs = {"pixel_values": prepare.images_to_tensor(raw, settings)}
        splits[role] = Split(inputs=inputs, labels=torch.from_numpy(ids[name][idx].copy()))

    recipe = {
        "format": DATA_FORMAT_VERSION,
        "source": source.identity,
        "modality": modality,
        "columns": columns.as_dict(),
        "splits": plan.recipe,
        "prepare": prep_recipe,
        "class_names": class_names,
        "sizes": {role: len(splits[role]) for role in ROLES},
        "labels": _labels_hash(splits),
    }
    fingerprint = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    info = {
        "source": source.identity,
        "source_info": source.info,
        "columns": columns.as_dict(),
        "split_sources": plan.sources,
        "row_indices": plan.indices,  # rows of each split's source split, in the split's order
        "split_recipe": plan.recipe,
        "prepare": prep_recipe,
        "class_counts": {
            role: np.bincount(splits[role].labels.numpy(), minlength=len(class_names)).tolist() for role in ROLES
        },
    }
    return TaskData(
        name=cfg.name,
        modality=modality,
        class_names=class_names,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        fingerprint=fingerprint,
        info=info,
    )


def check_modality(task: str, modality: str, backbone) -> None:
    """A text task needs a text backbone and an image task an image backbone."""
    if backbone.modality != modality:
        name = getattr(backbone, "name", None) or type(backbone).__name__
        raise PlacementSearchError(
            f"task {task} is a {modality} task but backbone {name} reads {backbone.modality}; "
            f"pick a {modality} backbone or a {backbone.modality} task"
        )


def split_names(cfg: TaskConfig, source: Source) -> dict[str, str | None]:
    """The source split each role reads (None: not in the source, to be carved from train)."""
    available = list(source.splits)
    shown = ", ".join(available)

    def configured(role: str) -> str | None:
        name = getattr(cfg, f"{role}_split")
        if name is not None and name not in source.splits:
            raise PlacementSearchError(f"task {cfg.name} has no split {name!r} (splits: {shown}); fix task.{role}_split")
        return name

    train = configured("train")
    if train is None:
        train = "train" if "train" in source.splits else available[0] if len(available) == 1 else None
    if train is None:
        raise PlacementSearchError(f"task {cfg.name} has no train split (splits: {shown}); set task.train_split")
    validation = configured("validation") or next((n for n in VALIDATION_NAMES if n in source.splits and n != train), None)
    test = configured("test") or ("test" if "test" in source.splits and train != "test" else None)
    roles = {"train": train, "validation": validation, "test": test}
    named = [n for n in roles.values() if n is not None]
    if len(set(named)) != len(named):
        raise PlacementSearchError(
            f"task {cfg.name}: two of task.train_split/validation_split/test_split name the same split ({roles}); "
            "give each its own split or leave one null to carve it"
        )
    return roles


def _check_inputs(task: str, split: str, columns: Columns, source: Source) -> None:
    features = source.splits[split].features
    for key, column in (("text_column", columns.text), ("text_pair_column", columns.pair), ("image_column", columns.image)):
        if column is not None and column not in features:
            raise PlacementSearchError(
                f"task {task} split {split!r} has no column {column!r} (columns: {', '.join(features)}); set task.{key}"
            )


def _present_classes(ids: dict[str, np.ndarray], labeled: dict[str, str | None]) -> list[int]:
    """Class ids that occur in the labeled rows of the source splits the roles read."""
    found: set[int] = set()
    for name in {n for n in labeled.values() if n is not None}:
        values = ids[name]
        found.update(np.unique(values[values >= 0]).tolist())
    return sorted(found)


def _check_every_class_in_every_split(cfg: TaskConfig, plan, ids, labeled, present, class_names) -> None:
    """Refuse a plan that leaves a split without an example of a class the task has."""
    totals = {c: 0 for c in present}
    for name in {n for n in labeled.values() if n is not None}:
        counts = np.bincount(ids[name][ids[name] >= 0], minlength=len(class_names))
        for c in present:
            totals[c] += int(counts[c])
    for role in ROLES:
        have = set(np.unique(ids[plan.sources[role]][plan.indices[role]]).tolist())
        missing = [c for c in present if c not in have]
        if not missing:
            continue
        c = missing[0]
        limit = getattr(cfg, f"{role}_samples")
        if limit is not None and limit < len(present):
            fix = f"raise task.{role}_samples to at least {len(present)} (one example per class)"
        elif labeled[role] is not None and role != "train":
            fix = f"add examples of it to split {labeled[role]!r}, or set task.{role}_split to null to carve the split from train"
        elif role != "train" and len(plan.indices[role]) < len(present):
            fix = (f"the carved {role} split holds {len(plan.indices[role])} rows for {len(present)} classes: "
                   f"add rows or raise task.{role}_fraction")
        else:
            fix = "add examples of it (each split needs one) or remove its rows"
        more = f" nor of {len(missing) - 1} other class(es)" if len(missing) > 1 else ""
        raise PlacementSearchError(
            f"task {cfg.name} leaves the {role} split without an example of class {class_names[c]!r} "
            f"({totals[c]} labeled in all){more}; {fix}"
        )


def _decode_image(task: str, feature: Image, value) -> object:
    """Decode one stored image; a file that cannot be read is refused with its path (never skipped)."""
    try:
        image = feature.decode_example(value)
        image.load()
        return image
    except Exception as exc:  # PIL raises OSError subclasses, ValueError, SyntaxError, ...
        where = value.get("path") if isinstance(value, dict) else None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if where:  # PIL repeats the path: say it once
            reason = reason.replace(f" '{where}'", "").replace(f" {where}", "")
        what = f"image file {where}" if where else "an image"
        raise PlacementSearchError(
            f"task {task}: {what} cannot be read ({reason}); fix or remove it (broken images are refused, not skipped)"
        ) from exc


def _labels_hash(splits: dict[str, Split]) -> str:
    digest = hashlib.sha256()
    for role in ROLES:
        digest.update(splits[role].labels.numpy().astype("<i8").tobytes())
    return digest.hexdigest()[:16]
