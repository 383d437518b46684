"""Bad task data is refused in one line; relative task paths resolve; local loads leave no cache.

Every check here fails before any tokenisation, so the backbones are stubs that only say their
modality (and, for images, their input size).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from placement_search.config import TaskConfig, load_config
from placement_search.data import load_task, resolve_task_paths
from placement_search.data import task as task_module
from placement_search.data.sources import Source, load_source, local_task_path
from placement_search.errors import PlacementSearchError

ROOT = Path(__file__).resolve().parents[2]


class TextStub:
    modality = "text"
    name = "text-stub"

    def input_spec(self):  # every refusal below comes before tokenisation
        raise AssertionError("the task should have been refused before preparing inputs")


class ImageStub:
    modality = "image"
    name = "image-stub"

    def input_spec(self):
        return {"image_size": 16, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}


def refused(fragment):
    return pytest.raises(PlacementSearchError, match=re.escape(fragment))


def write_csv(path: Path, rows: list[tuple], header=("text", "label")) -> Path:
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def image_folder(root: Path, classes=("ant", "bee"), per_class=12) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray((rng.random((12, 12)) * 100 + 60 * c).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


# ------------------------------------------------------------------------------------ classes


def test_a_single_class_is_refused(tmp_path):
    path = write_csv(tmp_path / "one.csv", [(f"q {i}", "pos") for i in range(40)])
    with refused(f"task {path} has only one class ('pos') in its label column 'label'; a classifier needs at least two"):
        load_task(TaskConfig(name=str(path)), TextStub())


def test_a_class_label_with_one_class_present_is_refused(monkeypatch):
    """Two class names declared, one used: what counts is the classes the rows hold."""
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    splits = DatasetDict({"train": Dataset.from_dict({"text": [f"t {i}" for i in range(30)], "label": [1] * 30},
                                                    features=features)})
    monkeypatch.setattr(task_module, "load_source", lambda name: Source(name, "fake", splits))
    with refused("task fake-one-class has only one class ('pos')"):
        load_task(TaskConfig(name="fake-one-class"), TextStub())


def test_a_split_left_without_a_class_is_refused_naming_it(tmp_path):
    rows = [(f"q {i}", "a" if i % 2 else "b") for i in range(40)] + [("lonely", "c")]
    path = write_csv(tmp_path / "rare.csv", rows)
    with pytest.raises(PlacementSearchError) as err:
        load_task(TaskConfig(name=str(path)), TextStub())
    message = str(err.value)
    assert re.search(r"leaves the (train|validation|test) split without an example of class 'c' \(1 labeled in all\)",
                     message), message
    assert "\n" not in message


def test_a_sample_limit_below_the_class_count_names_the_limit(tmp_path):
    path = write_csv(tmp_path / "three.csv", [(f"q {i}", "abc"[i % 3]) for i in range(90)])
    with refused(f"task {path} leaves the validation split without an example of class"):
        load_task(TaskConfig(name=str(path), validation_samples=2), TextStub())
    with refused("raise task.validation_samples to at least 3 (one example per class)"):
        load_task(TaskConfig(name=str(path), validation_samples=2), TextStub())


def test_a_named_split_without_a_class_suggests_carving(monkeypatch):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    train = Dataset.from_dict({"text": [f"t {i}" for i in range(40)], "label": [i % 2 for i in range(40)]},
                              features=features)
    validation = Dataset.from_dict({"text": ["v 0", "v 1"], "label": [0, 0]}, features=features)
    splits = DatasetDict({"train": train, "validation": validation})
    monkeypatch.setattr(task_module, "load_source", lambda name: Source(name, "fake", splits))
    with refused("leaves the validation split without an example of class 'pos' (20 labeled in all); add examples "
                 "of it to split 'validation', or set task.validation_split to null to carve the split from train"):
        load_task(TaskConfig(name="fake-named"), TextStub())


# -------------------------------------------------------------------------------- empty files


@pytest.mark.parametrize(
    "file, content, fragment",
    [
        ("empty.csv", b"", "is empty (0 bytes); it needs a header row (e.g. text,label) and one row per example"),
        ("blank.csv", b"\n  \n", "is empty (4 bytes)"),
        ("header.csv", b"text,label\n", "has a header (text, label) but no rows; add one row per example"),
        ("header.tsv", b"text\tlabel\n", "has a header (text, label) but no rows"),
        ("empty.json", b"[]", "holds no rows; add one row per example"),
        ("empty.jsonl", b"", "is empty (0 bytes)"),
        ("latin1.csv", b"text,label\n" + b"caf\xe9 au lait,1\n" * 3 + b"tea,0\n" * 3,
         "as csv: it is not UTF-8 text ('utf-8' codec can't decode byte 0xe9"),
    ],
)
def test_empty_and_unreadable_files_get_our_own_message(tmp_path, capfd, file, content, fragment):
    path = tmp_path / file
    path.write_bytes(content)
    with pytest.raises(PlacementSearchError) as err:
        load_source(str(path))
    assert fragment in str(err.value) and str(err.value).startswith(("task file", "could not read task")), str(err.value)
    assert "\n" not in str(err.value)
    out, errout = capfd.readouterr()
    assert "Failed to read" not in errout  # datasets' own log lines are silenced during the load


# -------------------------------------------------------------------------------- image folders


def test_a_folder_without_images_says_so(tmp_path):
    (tmp_path / "docs" / "a").mkdir(parents=True)
    (tmp_path / "docs" / "a" / "readme.txt").write_text("hello")
    with refused(f"task folder {tmp_path / 'docs'} holds no image files (.bmp, .gif, .jpeg, .jpg, .png, .webp, ...)"):
        load_task(TaskConfig(name=str(tmp_path / "docs")), ImageStub())
    (tmp_path / "nothing").mkdir()
    with refused("holds no image files"):
        load_source(str(tmp_path / "nothing"))


def test_images_without_class_folders_are_refused(tmp_path):
    image_folder(tmp_path / "imgs")
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (tmp_path / "imgs" / "ant").iterdir():
        f.rename(flat / f.name)
    with refused(f"task folder {flat} has its images (12 found) directly inside it, not in class folders"):
        load_source(str(flat))


@pytest.mark.parametrize("content", [b"not an image at all", b""], ids=["garbage", "zero-bytes"])
def test_a_broken_image_is_refused_with_its_file_named(tmp_path, content):
    root = image_folder(tmp_path / "imgs")
    broken = root / "bee" / "broken.png"
    broken.write_bytes(content)
    with pytest.raises(PlacementSearchError) as err:
        load_task(TaskConfig(name=str(root)), ImageStub())
    message = str(err.value)
    assert message.startswith(f"task {root}: image file {broken} cannot be read (")
    assert message.endswith("fix or remove it (broken images are refused, not skipped)") and "\n" not in message
    broken.unlink()
    data = load_task(TaskConfig(name=str(root)), ImageStub())  # without it the folder loads
    assert sum(len(s) for s in (data.train, data.validation, data.test)) == 24


# ------------------------------------------------------------------------------ relative paths


def test_resolve_task_paths_makes_a_relative_path_absolute(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "train.csv", [(f"q {i}", i % 2) for i in range(40)])
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["task.name=data/train.csv"])
    resolved = resolve_task_paths(cfg, tmp_path)
    assert resolved.task.name == str(tmp_path / "data" / "train.csv")
    assert cfg.task.name == "data/train.csv"  # the caller's config (what a search stores) is untouched
    assert resolve_task_paths(resolved, "/elsewhere") == resolved  # idempotent, whatever the base
    assert resolved.training == cfg.training and resolved.training is not cfg.training  # a real copy
    monkeypatch.chdir(tmp_path)  # default base: the working directory
    assert resolve_task_paths(cfg).task.name == str(tmp_path / "data" / "train.csv")
    assert resolve_task_paths(load_config(ROOT / "search_spaces" / "tiny.yaml", ["task.name=./data/../data/train.csv"])
                              ).task.name == str(tmp_path / "data" / "train.csv")


def test_resolve_task_paths_leaves_other_names_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trec6").mkdir()  # a folder named like a built-in does not shadow it
    for name in ("trec6", "tiny-text", "hf:glue/sst2", "no-such-task", "/nowhere/absolute.csv"):
        cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", [f"task.name={name}"])
        assert resolve_task_paths(cfg, tmp_path).task.name == name
    (tmp_path / "imgs").mkdir()  # a bare folder name is a path
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["task.name=imgs"])
    assert resolve_task_paths(cfg, tmp_path).task.name == str(tmp_path / "imgs")
    assert local_task_path("~/x.csv") == Path.home() / "x.csv"


def test_a_missing_relative_path_names_the_directory_it_was_resolved_against(tmp_path, monkeypatch):
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["task.name=data/train.csv"])
    with refused(f"task file data/train.csv not found (relative paths are resolved against the working directory "
                 f"{tmp_path}); check task.name or give an absolute path"):
        resolve_task_paths(cfg, tmp_path)
    monkeypatch.chdir(tmp_path)
    with refused(f"task file data/train.csv not found (relative paths are resolved against the working directory {tmp_path})"):
        load_task(TaskConfig(name="data/train.csv"), TextStub())
    with refused("task path data/imgs not found (relative paths"):
        load_source("data/imgs")


def test_relative_and_absolute_spellings_give_one_fingerprint(tmp_path, monkeypatch):
    image_folder(tmp_path / "imgs")
    monkeypatch.chdir(tmp_path)
    relative = load_task(TaskConfig(name="imgs"), ImageStub())
    absolute = load_task(TaskConfig(name=str(tmp_path / "imgs")), ImageStub())
    assert relative.fingerprint == absolute.fingerprint


# ---------------------------------------------------------------------------------- no cache


def test_local_loads_leave_nothing_in_the_datasets_cache(tmp_path):
    """In a fresh process with the datasets cache (and the temp folder) pointed at empty folders:
    accepted and rejected loads of CSV, JSON and an image folder leave both empty."""
    cache, temp, home = tmp_path / "hf-datasets", tmp_path / "tmp", tmp_path / "hf-home"
    for d in (cache, temp, home):
        d.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "ok.csv", [(f"q {i}", i % 2) for i in range(40)])
    write_csv(data / "one.csv", [(f"q {i}", "pos") for i in range(40)])
    (data / "header.csv").write_text("text,label\n")
    (data / "ok.json").write_text(json.dumps([{"text": f"q {i}", "label": i % 2} for i in range(40)]))
    image_folder(data / "imgs")
    script = textwrap.dedent(f"""
        from placement_search.config import TaskConfig
        from placement_search.data import load_task
        from placement_search.data.sources import load_source
        from placement_search.errors import PlacementSearchError

        class Text:
            modality = "text"
            def input_spec(self):
                raise AssertionError

        for name in ("ok.csv", "ok.json", "imgs"):
            assert sum(len(s) for s in load_source({str(data)!r} + "/" + name).splits.values()) in (24, 40)
        for name in ("one.csv", "header.csv"):
            try:
                load_task(TaskConfig(name={str(data)!r} + "/" + name), Text())
            except PlacementSearchError as exc:
                print("refused:", exc)
            else:
                raise SystemExit(name + " was accepted")
    """)
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HOME": str(home), "TMPDIR": str(temp)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("refused:") == 2
    left = [str(p) for d in (cache, temp, home) for p in d.rglob("*")]
    assert left == [], left
