"""Which columns hold the inputs and the label, and the labels as class ids.

Configured names win; null means auto-detect from common names (``text``/``sentence``/``question``,
sentence pairs such as ``sentence1``+``sentence2``, ``image``/``img``, ``label``/``labels``), then
from the feature types (the only string / image / ClassLabel column). A column that is not there is
a one-line error naming it, the columns the data set has, and the config key to set.

Labels: a ``ClassLabel`` column keeps its names (its -1 means unlabeled, as in GLUE test splits).
Any other column (strings, integers, booleans) is mapped to ids in the sorted order of its distinct
values, named ``str(value)``; nulls and empty strings are unlabeled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Array2D, Array3D, ClassLabel, Features, Image, Value

from placement_search.errors import PlacementSearchError

LABEL_NAMES = ("label", "labels", "class", "target", "category", "coarse_label", "y")
TEXT_NAMES = ("text", "sentence", "question", "content", "review", "document", "body", "tweet")
PAIR_NAMES = (
    ("sentence1", "sentence2"), ("premise", "hypothesis"), ("question1", "question2"),
    ("question", "sentence"), ("text1", "text2"), ("text_a", "text_b"),
)
IMAGE_NAMES = ("image", "img", "pixel_values", "pixels", "picture")
UNLABELED = -1


@dataclass(frozen=True)
class Columns:
    """The resolved columns: ``label`` always, then ``text`` (+ ``pair``) or ``image``."""

    label: str
    text: str | None = None
    pair: str | None = None
    image: str | None = None

    def as_dict(self) -> dict:
        return {"label": self.label, "text": self.text, "pair": self.pair, "image": self.image}


def is_image_feature(feature) -> bool:
    return isinstance(feature, (Image, Array2D, Array3D))


def is_text_feature(feature) -> bool:
    return isinstance(feature, Value) and feature.dtype in ("string", "large_string")


def detect_modality(cfg, features: Features) -> str:
    """``image`` when the config names an image column or the data has one, else ``text``."""
    if cfg.image_column:
        return "image"
    if cfg.text_column:
        return "text"
    if any(is_image_feature(f) for f in features.values()) or any(n in features for n in IMAGE_NAMES):
        return "image"
    return "text"


def _missing(task: str, what: str, column: str | None, features: Features, key: str, looked=()) -> PlacementSearchError:
    have = ", ".join(features) or "none"
    if column:
        return PlacementSearchError(f"task {task} has no {what} column {column!r} (columns: {have}); set task.{key}")
    return PlacementSearchError(
        f"task {task} has no {what} column (looked for {', '.join(looked)}; columns: {have}); set task.{key}"
    )


def _only(features: Features, test, exclude: set[str]) -> str | None:
    found = [name for name, f in features.items() if name not in exclude and test(f)]
    return found[0] if len(found) == 1 else None


def resolve_columns(cfg, features: Features, modality: str, task: str) -> Columns:
    """Pick the label and input columns of a split with ``features`` (see the module docstring)."""
    label = cfg.label_column
    if label is None:
        label = next((n for n in LABEL_NAMES if n in features), None)
        label = label or _only(features, lambda f: isinstance(f, ClassLabel), set())
        if label is None:
            raise _missing(task, "label", None, features, "label_column", LABEL_NAMES)
    elif label not in features:
        raise _missing(task, "label", label, features, "label_column")
    if modality == "image":
        image = cfg.image_column
        if image is None:
            image = next((n for n in IMAGE_NAMES if n in features), None)
            image = image or _only(features, is_image_feature, {label})
            if image is None:
                raise _missing(task, "image", None, features, "image_column", IMAGE_NAMES)
        elif image not in features:
            raise _missing(task, "image", image, features, "image_column")
        return Columns(label=label, image=image)
    text, pair = cfg.text_column, cfg.text_pair_column
    if text is None:
        first_pair = next((p for p in PAIR_NAMES if p[0] in features and p[1] in features), None)
        if first_pair and pair is None:
            text, pair = first_pair
        else:
            text = next((n for n in TEXT_NAMES if n in features), None)
            text = text or _only(features, is_text_feature, {label, pair})
        if text is None:
            raise _missing(task, "text", None, features, "text_column", TEXT_NAMES)
    elif text not in features:
        raise _missing(task, "text", text, features, "text_column")
    if pair is not None and pair not in features:
        raise _missing(task, "text pair", pair, features, "text_pair_column")
    return Columns(label=label, text=text, pair=pair)


def encode_labels(
    task: str, column: str, splits: dict[str, tuple[pa.ChunkedArray, object]]
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Class names and, per split, int64 class ids (``UNLABELED`` = -1 where a row has no label).

    ``splits`` maps a split name to its label column and feature; every split shares one mapping.
    """
    features = [feature for _, feature in splits.values()]
    if all(isinstance(f, ClassLabel) for f in features):
        names = list(features[0].names)
        ids = {s: pc.fill_null(col, UNLABELED).to_numpy(zero_copy_only=False).astype(np.int64) for s, (col, _) in splits.items()}
        for values in ids.values():
            values[(values < 0) | (values >= len(names))] = UNLABELED
        return names, ids
    raw = {s: _plain_values(task, column, col) for s, (col, _) in splits.items()}
    distinct = sorted(set().union(*(set(v for v in vals if v is not None) for vals in raw.values())))
    index = {value: i for i, value in enumerate(distinct)}
    ids = {s: np.array([UNLABELED if v is None else index[v] for v in vals], dtype=np.int64) for s, vals in raw.items()}
    return [str(v) for v in distinct], ids


def _plain_values(task: str, column: str, col: pa.ChunkedArray) -> list:
    """Python label values of a non-ClassLabel column, None for unlabeled rows."""
    if pa.types.is_floating(col.type):
        values = col.to_pylist()
        if any(v is not None and v == v and v != int(v) for v in values):
            raise PlacementSearchError(
                f"task {task} label column {column!r} holds fractional numbers; classification needs "
                "class labels: set task.label_column to a categorical column"
            )
        return [None if v is None or v != v else int(v) for v in values]
    if not (pa.types.is_integer(col.type) or pa.types.is_string(col.type)
            or pa.types.is_large_string(col.type) or pa.types.is_boolean(col.type)):
        raise PlacementSearchError(
            f"task {task} label column {column!r} has type {col.type}, not class labels; set task.label_column"
        )
    return [None if v is None or v == "" else v for v in col.to_pylist()]
