"""analysis/sweep_local.py: K-edge placements re-trained with other seeds land under their own label,
never as single-edge ground truth. The tiny random-init preset; real training, seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import sweep_local  # noqa: E402

from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.store import open_store  # noqa: E402

TINY = str(ROOT / "search_spaces/tiny.yaml")


def test_placements_are_retrained_under_their_label(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert sweep_local.main([TINY, "--store", url, "--searcher", "repeat", "--name", "tiny-repeat", "--seeds", "1",
                             "--placements", "2->0,1->3; 1->1", "--set", "training.epochs=1"]) == 0
    trials = open_store(url).trials_frame("tiny-repeat")
    assert sorted(trials["placement"]) == ["1->1", "1->3,2->0"] and set(trials["seed"]) == {1}
    assert sorted(trials["k"]) == [1, 2]


def test_placements_never_enter_the_ground_truth(tmp_path):
    store = tmp_path / "store.sqlite"
    with pytest.raises(PlacementSearchError, match="--searcher repeat"):
        sweep_local.main([TINY, "--store", f"sqlite:///{store}", "--placements", "0->1,2->3"])
    assert not store.exists()
