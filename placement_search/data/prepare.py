"""Turn raw columns into the tensors a backbone eats, as its ``input_spec()`` asks.

The spec is a dict (see :meth:`Backbone.input_spec`):
- text: ``tokenizer`` (a Hugging Face tokenizer, required); ``max_length`` (optional: the most
  positions the model takes). Inputs: ``input_ids``, ``attention_mask`` and, when the tokenizer
  makes them, ``token_type_ids``, all int64 (N, max_length), padded to ``task.max_length``.
- image: ``image_size`` (int or (H, W); ``task.image_size`` overrides it), ``mean``/``std``
  (3 values each, default ImageNet's), ``interpolation`` (``bilinear`` default, ``bicubic``,
  ``nearest``; other names fall back to bilinear), ``patch_size`` (optional: the size must be a
  multiple of it). Other keys (timm's ``crop_pct``) are ignored: small images are resized whole,
  never centre-cropped, so nothing of the object is cut. Input:
  ``pixel_values`` float32 (N, 3, H, W): RGB (grayscale repeated), resized, scaled to [0, 1],
  normalised.

Images are resized batched with torch from the raw uint8 stack, so the 60k Fashion-MNIST training
images prepare in a few seconds; decoded files (PIL) are first resized one by one to the target.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from placement_search.errors import PlacementSearchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
_CHUNK = 4096


# ------------------------------------------------------------------------------------------ text


def text_settings(spec: dict, max_length: int) -> tuple[object, dict]:
    """The tokenizer and the text part of the fingerprint recipe."""
    tokenizer = spec.get("tokenizer")
    if tokenizer is None:
        raise PlacementSearchError("the backbone's input_spec() has no tokenizer; a text backbone must provide one")
    limit = spec.get("max_length") or getattr(tokenizer, "model_max_length", None)
    if limit is not None and limit < 1_000_000 and max_length > limit:
        raise PlacementSearchError(
            f"task.max_length {max_length} exceeds the backbone's {limit} positions; set task.max_length <= {limit}"
        )
    return tokenizer, {"max_length": max_length, "tokenizer": tokenizer_identity(tokenizer)}


def tokenizer_identity(tokenizer) -> str:
    """A content hash of the tokenizer (vocabulary, normaliser, specials), stable across machines."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("padding", None)  # per-call state that __call__ leaves behind
        state.pop("truncation", None)
        content = json.dumps(state, sort_keys=True)
    else:
        content = json.dumps(sorted(tokenizer.get_vocab().items()))
    extra = f"{type(tokenizer).__name__}|{getattr(tokenizer, 'padding_side', '')}|"
    return hashlib.sha256((extra + content).encode()).hexdigest()[:16]


def tokenize(tokenizer, texts: list[str], pairs: list[str] | None, max_length: int) -> dict[str, torch.Tensor]:
    """Truncate and pad to ``max_length``; int64 tensors keyed as the backbone expects."""
    encoded = tokenizer(
        texts, pairs, max_length=max_length, truncation=True, padding="max_length", return_tensors="pt"
    )
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    return {k: encoded[k].to(torch.int64) for k in keys}


def as_texts(values: list) -> list[str]:
    return ["" if v is None else v if isinstance(v, str) else str(v) for v in values]


# ---------------------------------------------------------------------------------------- images


def image_settings(spec: dict, image_size: int | None) -> dict:
    """Size, mean, std and interpolation; also the image part of the fingerprint recipe."""
    size = image_size or spec.get("image_size")
    if size is None:
        raise PlacementSearchError("the backbone does not fix an image size; set task.image_size")
    height, width = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    patch = spec.get("patch_size")
    if patch and (height % patch or width % patch):
        raise PlacementSearchError(
            f"task.image_size {size} is not a multiple of the backbone's patch size {patch}; "
            f"use e.g. {max(1, round(height / patch)) * patch}"
        )
    interpolation = spec.get("interpolation") or "bilinear"
    if interpolation not in INTERPOLATIONS:  # e.g. timm's "random" or "lanczos"
        interpolation = "bilinear"
    mean = [float(m) for m in spec.get("mean", IMAGENET_MEAN)]
    std = [float(s) for s in spec.get("std", IMAGENET_STD)]
    return {"size": [height, width], "mean": mean, "std": std, "interpolation": interpolation}


def physical_memory() -> int:
    """Bytes of RAM on this machine (0 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_image_memory(task: str, count: int, settings: dict) -> None:
    """Refuse up front to build pixel tensors larger than half the machine's memory."""
    height, width = settings["size"]
    need = count * 3 * height * width * 4
    have = physical_memory()
    if have and need > have // 2:
        raise PlacementSearchError(
            f"task {task} at {height}x{width} px needs {need / 2**30:.1f} GiB for {count} images "
            f"(this machine has {have / 2**30:.0f} GiB); set task.image_size smaller or set sample limits"
        )


def images_to_tensor(images: np.ndarray, settings: dict) -> torch.Tensor:
    """(N, H, W[, C]) uint8 (or float in [0, 1]) -> normalised float32 (N, 3, h, w), in chunks."""
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise PlacementSearchError(f"images of shape {images.shape[1:]} are not (H, W[, 1|3|4]); check task.image_column")
    height, width = settings["size"]
    # normalisation folded into one affine map, applied while broadcasting grayscale to RGB
    inv_std = 1.0 / torch.tensor(settings["std"], dtype=torch.float32).view(1, 3, 1, 1)
    shift = -torch.tensor(settings["mean"], dtype=torch.float32).view(1, 3, 1, 1) * inv_std
    mode = settings["interpolation"]
    scale = 1.0 / 255.0 if images.dtype.kind in "ui" else 1.0
    out = torch.empty((len(images), 3, height, width), dtype=torch.float32)
    for start in range(0, len(images), _CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + _CHUNK]))
        x = chunk.permute(0, 3, 1, 2).to(torch.float32).mul_(scale)
        x = x[:, :3] if x.shape[1] == 4 else x
        if x.shape[-2:] != (height, width):
            kwargs = {}
            if mode != "nearest":  # antialiasing only matters (and costs) when shrinking
                kwargs = {"align_corners": False, "antialias": height < x.shape[-2] or width < x.shape[-1]}
            x = F.interpolate(x, size=(height, width), mode=mode, **kwargs)
            if mode == "bicubic":
                x = x.clamp_(0.0, 1.0)
        torch.addcmul(shift, x, inv_std, out=out[start : start + len(x)])
    return out


def pil_to_array(images: list, settings: dict) -> np.ndarray:
    """Decoded images of any size and mode -> (N, h, w, 3) uint8 at the target size."""
    from PIL import Image

    height, width = settings["size"]
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}[settings["interpolation"]]
    out = np.empty((len(images), height, width, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            image = Image.fromarray(np.asarray(image))
        image = image.convert("RGB")
        if image.size != (width, height):
            image = image.resize((width, height), resample)
        out[i] = np.asarray(image)
    return out
