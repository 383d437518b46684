"""Trained tiny models and their exports, built once per test session.

Three kinds, covering both families of inputs and both image preparation paths:
- ``text``: tiny-bert on tiny-text (texts padded to task.max_length);
- ``image``: tiny-vit on tiny-image (28x28 uint8 arrays: the torch resize path);
- ``folder``: tiny-dinov2 on a folder of 40x40 RGB PNGs (decoded files: the PIL resize path).
Each placement has a long-range and a recurrent edge, so the loaded model runs both passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLACEMENT = "0->3,4->1"
RECIPE = ["training.max_steps=4", "training.lr=0.1"]


@dataclass
class Exported:
    cfg: object
    task: object
    model: object  # the PlacedModel train_placement returned
    folder: Path
    files: dict[int, Path]  # test-split row -> an image file holding that example (image kinds)


def png_classes(root: Path, per_class: int = 10, size: int = 40) -> None:
    """Two classes of RGB PNGs, bright on the left or on the right, with seeded noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("left", "right")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 80, (size, size, 3))
            image[:, c * size // 2 : (c + 1) * size // 2] += 150
            Image.fromarray(image.astype(np.uint8)).save(root / name / f"{i}.png")


def _test_rows_as_files(task, folder: Path) -> dict[int, Path]:
    """Each test example's source image as a lossless PNG (arrays) or its original file (folders)."""
    from datasets import Image as ImageFeature
    from PIL import Image

    from placement_search.data.sources import load_source

    split = load_source(task.name).splits[task.info["split_sources"]["test"]]
    column = task.info["columns"]["image"]
    encoded = isinstance(split.features[column], ImageFeature)
    if encoded:
        split = split.cast_column(column, ImageFeature(decode=False))
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for position, row in enumerate(task.info["row_indices"]["test"]):
        value = split[int(row)][column]
        if encoded:
            files[position] = Path(value["path"])
        else:
            files[position] = folder / f"test_{position}.png"
            Image.fromarray(np.asarray(value, dtype=np.uint8)).save(files[position])
    return files


def _export(kind: str, base: Path) -> Exported:
    from placement_search import PlacedModelForClassification
    from placement_search.config import load_config
    from placement_search.experiment import load_experiment
    from placement_search.export.preprocess import preprocessing_spec
    from placement_search.placement.edges import Placement
    from placement_search.training import train_placement

    overrides = list(RECIPE)
    if kind == "text":
        preset = "tiny.yaml"
    elif kind == "image":
        preset = "tiny_vision.yaml"
    else:
        preset = "tiny_vision.yaml"
        png_classes(base / "pngs")
        overrides += [f"task.name={base / 'pngs'}", "backbone.name=tiny-dinov2"]
    cfg = load_config(ROOT / "search_spaces" / preset, overrides)
    backbone, task = load_experiment(cfg)
    _, model = train_placement(cfg, Placement.parse(PLACEMENT), backbone, task)
    model = model.cpu().eval()
    ups = [a.up.weight for a in model.adapters.values()]
    assert all(w.abs().sum() > 0 for w in ups), "training left an adapter at zero: the tests would not see it"
    names, spec = preprocessing_spec(cfg, backbone)
    folder = base / "export"
    PlacedModelForClassification.from_trained(model, cfg, names, spec, metrics={"val_accuracy": 0.5}).save_pretrained(folder)
    files = _test_rows_as_files(task, base / "inputs") if kind != "text" else {}
    return Exported(cfg, task, model, folder, files)


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """kind -> Exported, built on first use."""
    built: dict[str, Exported] = {}

    def get(kind: str) -> Exported:
        if kind not in built:
            built[kind] = _export(kind, tmp_path_factory.mktemp(f"export-{kind}"))
        return built[kind]

    return get

