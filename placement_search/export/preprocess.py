"""Raw inputs -> the tensors the exported model eats, exactly as training prepared its task.

The export records the preparation in ``config.json`` under ``preprocessing``:

- text: ``{"max_length": N, "text_pair": bool}``; the tokenizer is saved beside it. Texts are
  truncated and padded to ``max_length``, as :func:`placement_search.data.prepare.tokenize` did
  for the task.
- image: ``{"size": [H, W], "mean": [...], "std": [...], "interpolation": "bilinear", "resize": R}``.
  ``resize`` says which of the task pipeline's two paths the training images took: ``"pil"``
  (decoded image files: PIL resizes each image to the target, then the stack is normalised) or
  ``"torch"`` (fixed-size arrays such as Fashion-MNIST: the uint8 stack is resized by
  ``torch.nn.functional.interpolate``, antialiased when shrinking). An image file given to
  ``predict`` takes the same path, so a training image saved losslessly predicts exactly as it
  was evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from placement_search.data import prepare
from placement_search.errors import PlacementSearchError


def preprocessing_spec(cfg, backbone) -> tuple[list[str], dict]:
    """(class names, preprocessing spec) of ``cfg.task`` as its training prepared it for ``backbone``.

    Reads and splits the task (no tokenising or decoding), as the search service's pre-flight does.
    """
    from placement_search.data.task import plan_task

    planned = plan_task(cfg.task, backbone)
    names = [str(n) for n in planned.class_names]
    if planned.modality == "text":
        return names, {"max_length": int(cfg.task.max_length), "text_pair": planned.columns.pair is not None}
    settings = prepare.image_settings(backbone.input_spec(), cfg.task.image_size)
    feature = planned.source.splits[planned.plan.sources["train"]].features[planned.columns.image]
    return names, {**settings, "resize": "torch" if _is_fixed_array(feature) else "pil"}


def _is_fixed_array(feature) -> bool:
    """The test :func:`placement_search.data.arrow.fixed_array_numpy` applies: such columns are
    resized as one uint8 stack by torch, everything else is decoded and resized by PIL."""
    from datasets import Array2D, Array3D

    return isinstance(feature, (Array2D, Array3D)) and all(s is not None for s in feature.shape)


def prepare_texts(tokenizer, spec: dict, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict:
    """Tokenise as the task was tokenised: truncated and padded to ``spec["max_length"]``."""
    if any(not isinstance(t, str) for t in texts):
        raise PlacementSearchError("this model classifies texts; pass strings")
    if spec.get("text_pair") and pairs is None:
        raise PlacementSearchError("this model classifies text pairs; pass the second texts as pairs=")
    if pairs is not None and len(pairs) != len(texts):
        raise PlacementSearchError(f"{len(texts)} texts but {len(pairs)} pairs; pass one pair per text")
    return prepare.tokenize(tokenizer, list(texts), list(pairs) if pairs is not None else None, int(spec["max_length"]))


def open_image(item):
    """A PIL image from a path (refused with the path named when it is not an image), or as given."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item
    if isinstance(item, np.ndarray):
        return Image.fromarray(item)
    path = Path(item)
    if not path.is_file():
        raise PlacementSearchError(
            f"input {str(item)!r} is not an image file (no such file); this model classifies images: pass image file paths"
        )
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = " ".join(str(exc).replace(f" '{path}'", "").replace(str(path), "").split()) or type(exc).__name__
        raise PlacementSearchError(f"input {path} is not an image this model can read ({reason}); pass image files "
                                   "(PNG, JPEG, ...)") from None
    return image


def prepare_images(spec: dict, items: Sequence) -> dict:
    """Normalised ``pixel_values`` for image paths / PIL images / arrays, one image at a time."""
    tensors = []
    for item in items:
        image = open_image(item)
        if spec["resize"] == "pil":
            raw = prepare.pil_to_array([image], spec)
        else:  # the uint8 stack path: grayscale stays one channel, alpha is dropped, torch resizes
            raw = np.array(image if image.mode == "L" else image.convert("RGB"))[None]
        tensors.append(prepare.images_to_tensor(raw, spec))
    if not tensors:
        raise PlacementSearchError("no inputs to classify")
    return {"pixel_values": torch.cat(tensors)}
