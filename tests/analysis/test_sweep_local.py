"""analysis/sweep_local.py: K-edge placements re-trained with other seeds land under their own label,
never as single-edge ground truth. The tiny random-init preset; real training, seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import sweep_local  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.experiment import edge_space  # noqa: E402
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


def _sweep(url: str, *extra: str) -> int:
    return sweep_local.main([TINY, "--store", url, "--set", "training.epochs=1", *extra])


def test_a_complete_extra_seed_is_promoted_into_the_ground_truth(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert _sweep(url) == 0
    store = open_store(url)
    key = store.get_search("tiny-exhaustive").benchmark_key
    once = store.ground_truth(key).set_index("placement")["val_accuracy_mean"]
    assert _sweep(url, "--searcher", "repeat", "--seeds", "1", "--name", "tiny-seed1", "--promote") == 0
    assert store.get_search("tiny-seed1").searcher == "exhaustive"
    truth = store.ground_truth(key).set_index("placement")
    assert (truth["n_seeds"] == 2).all() and len(truth) == len(once)
    seed1 = store.trials_frame("tiny-seed1").set_index("placement")["val_accuracy"]
    assert truth["val_accuracy_mean"].to_numpy() == pytest.approx(((once + seed1) / 2)[truth.index].to_numpy())


def test_a_second_stratum_under_the_same_name_runs_whole(tmp_path):
    """--every 2 then the other half by --edges, one search name: the first stratum's trials do not
    use up the second plan's budget (they did: the second run stopped at once, '9 of 8 stored')."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    edges = list(edge_space(load_config(TINY)).edges)
    assert _sweep(url, "--every", "2") == 0
    rest = ",".join(str(e) for e in edges[1::2])
    assert _sweep(url, "--edges", rest) == 0
    store = open_store(url)
    assert sorted(store.trials_frame("tiny-exhaustive")["placement"]) == sorted(str(e) for e in edges)
    assert store.get_search("tiny-exhaustive").num_samples == len(edges)
    assert _sweep(url, "--edges", rest) == 0  # nothing left: runs nothing, and the budget stays
    assert len(store.trials_frame("tiny-exhaustive")) == len(edges) == store.get_search("tiny-exhaustive").num_samples


def test_a_partial_extra_seed_stays_out_of_the_ground_truth(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert _sweep(url, "--every", "5") == 0
    assert _sweep(url, "--searcher", "repeat", "--seeds", "1", "--name", "tiny-seed1", "--edges", "0->1,2->2") == 0
    store = open_store(url)
    space = edge_space(load_config(TINY))
    with pytest.raises(PlacementSearchError, match="has measured 2 of 25 edges with seed 1"):
        sweep_local.promote(store, "tiny-seed1", space, [1])
    assert store.get_search("tiny-seed1").searcher == "repeat"
    assert (store.ground_truth(store.get_search("tiny-seed1").benchmark_key)["n_seeds"] == 1).all()


def test_promote_refuses_a_seed_the_ground_truth_holds_before_training(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert _sweep(url, "--every", "5") == 0
    with pytest.raises(PlacementSearchError, match=r"already holds seed\(s\) 0"):
        _sweep(url, "--searcher", "repeat", "--seeds", "0", "--name", "tiny-again", "--promote")
    assert not open_store(url).has_search("tiny-again")


@pytest.mark.parametrize("extra", [["--edges", "0->1"], ["--every", "2"], ["--searcher", "exhaustive"]])
def test_promote_needs_a_whole_repeat_sweep(tmp_path, extra):
    store = tmp_path / "store.sqlite"
    args = ["--searcher", "repeat", *extra] if extra[0] != "--searcher" else extra
    with pytest.raises(PlacementSearchError, match="--promote enters a complete extra-seed sweep"):
        _sweep(f"sqlite:///{store}", *args, "--promote")
    assert not store.exists()
