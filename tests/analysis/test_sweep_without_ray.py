"""analysis/sweep_without_ray.py: a sweep planned where Ray is (sweep_local.py --plan-only) is
trained on a machine without Ray by the same local runner, and closed again by sweep_local.py.
The tiny random-init preset; real training in worker processes, seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import sweep_local  # noqa: E402

from placement_search.errors import PlacementSearchError  # noqa: E402
from placement_search.runners.local_pool import FINISHED  # noqa: E402
from placement_search.store import open_store  # noqa: E402

TINY = str(ROOT / "search_spaces/tiny.yaml")
PLAN = [TINY, "--name", "tiny-elsewhere", "--set", "training.epochs=1", "--seeds", "0,1"]


def _without_ray(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the script where ``import ray`` fails, in the driver and in its spawned workers alike."""
    shim = tmp_path / "no_ray" / "ray"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text("raise ImportError('no Ray on this machine')\n")
    env = {**os.environ, "PYTHONPATH": str(shim.parent)}
    return subprocess.run([sys.executable, str(ROOT / "analysis/sweep_without_ray.py"), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_planned_sweep_is_trained_without_ray_and_closed_where_ray_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    assert sweep_local.main([*PLAN, "--store", url, "--plan-only"]) == 0
    store = open_store(url)
    assert store.trials_frame("tiny-elsewhere").empty
    (tmp_path / "order.txt").write_text("4->4\n2->3\n")

    run = _without_ray(tmp_path, "--store", url, "--name", "tiny-elsewhere", "--workers", "1",
                       "--order", str(tmp_path / "order.txt"))
    assert run.returncode == 0, run.stderr
    assert "50 trials to train" in run.stdout
    trials = store.trials_frame("tiny-elsewhere")
    assert len(trials) == 50 and (trials["status"] == "completed").all()
    assert sorted(set(trials["seed"])) == [0, 1] and trials["placement"].nunique() == 25
    first = trials.sort_values("trial_id")["placement"].head(2).tolist()
    assert first == ["4->4", "2->3"]  # --order's edges first (one worker: trials end in the order sent)
    assert store.get_search("tiny-elsewhere").status == "interrupted"  # closed only where Ray is

    again = _without_ray(tmp_path, "--store", url, "--name", "tiny-elsewhere")
    assert again.returncode == 0 and "0 trials to train" in again.stdout

    assert sweep_local.main([*PLAN, "--store", url]) == 0  # trains nothing, closes the search
    assert len(store.trials_frame("tiny-elsewhere")) == 50
    assert store.get_search("tiny-elsewhere").status == "completed"


def test_an_unplanned_search_is_a_one_line_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    run = _without_ray(tmp_path, "--store", url, "--name", "nowhere")
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "no search nowhere" in run.stderr and "--plan-only" in run.stderr


def test_plan_only_plans_whole_sweeps_only(tmp_path):
    store = tmp_path / "store.sqlite"
    with pytest.raises(PlacementSearchError, match="--plan-only plans a whole sweep"):
        sweep_local.main([TINY, "--store", f"sqlite:///{store}", "--plan-only", "--every", "2"])
    assert not store.exists()


def test_the_local_runner_finishes_on_rays_own_finished_signal():
    from ray.tune.search import Searcher

    assert FINISHED == Searcher.FINISHED
