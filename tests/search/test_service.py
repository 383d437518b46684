"""The search service on a real embedded Ray instance (loopback) with tiny models.

One Ray instance serves the module (starting Ray costs seconds); the NaN hook is set before it
starts so the workers see it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from placement_search.config import load_config
from placement_search.errors import PlacementSearchError
from placement_search.runners.tune_trainable import INJECT_NAN_ENV
from placement_search.search.service import RunOptions, run_search
from placement_search.store import open_store
from placement_search.store.keys import benchmark_key

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"
NAN_PLACEMENT = "1->1"


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    os.environ[INJECT_NAN_ENV] = NAN_PLACEMENT
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    from placement_search.runners.ray_instance import init_ray

    init_ray(None, cpus=2)
    yield
    ray.shutdown()
    os.environ.pop(INJECT_NAN_ENV, None)


def tiny(*overrides: str):
    return load_config(TINY, ["space.edge_types=[sequential, parallel]", "space.k=1", *overrides])


def opts(tmp_path, **kw) -> RunOptions:
    return RunOptions(store=str(tmp_path / "store.sqlite"), storage_path=str(tmp_path / "tune"), verbose=0, **kw)


def test_random_search_records_every_trial_with_curves(ray_instance, tmp_path):
    cfg = tiny("space.k=2")
    summary = run_search(cfg, opts(tmp_path, searcher="random", num_samples=4, name="rnd"))
    store = open_store(str(tmp_path / "store.sqlite"))
    trials = store.trials_frame("rnd")
    assert len(trials) == 4 and set(trials["status"]) == {"completed"}
    assert trials["placement"].nunique() == 4 and (trials["k"] == 2).all()
    curves = store.curves_frame("rnd")
    assert curves.groupby("trial_id").size().eq(6).all()  # one point per epoch
    assert store.get_search("rnd").status == "completed"
    assert summary.best_placement in set(trials["placement"])
    # monitoring: every trial folder (named after the search) holds TensorBoard event files with the metrics
    events = list((tmp_path / "tune" / "rnd").glob("*/events.out.tfevents.*"))
    assert len(events) == 4
    assert all(b"val_accuracy" in e.read_bytes() for e in events)


def test_exhaustive_sweep_records_a_failing_trial_and_goes_on(ray_instance, tmp_path):
    cfg = tiny()
    run_search(cfg, opts(tmp_path, searcher="exhaustive", name="gt"))
    store = open_store(str(tmp_path / "store.sqlite"))
    trials = store.trials_frame("gt").set_index("placement")
    assert len(trials) == 9  # 5 self-loops + 4 parallel edges of a 5-point backbone
    assert trials.loc[NAN_PLACEMENT, "status"] == "failed"
    assert "loss became nan" in trials.loc[NAN_PLACEMENT, "error"]
    assert (trials.drop(NAN_PLACEMENT)["status"] == "completed").all()
    assert len(store.ground_truth(benchmark_key(cfg))) == 8



def test_replay_regret_and_missing_placement(ray_instance, tmp_path):
    cfg = tiny()
    run_search(cfg, opts(tmp_path, searcher="exhaustive", name="gt"))
    store_url = str(tmp_path / "store.sqlite")
    # the NaN edge is missing from the ground truth: a search over it must say so, or train it
    cfg_nan = tiny("space.edge_types=[sequential]")
    with pytest.raises(PlacementSearchError, match="is not in the stored results"):
        for seed in range(20):
            run_search(cfg_nan, opts(tmp_path, searcher="random", num_samples=5, replay=True, seed=seed,
                                     name=f"miss-{seed}"))
    cfg_ok = tiny("space.edge_types=[parallel]")
    for seed in range(5):
        for searcher in ("random", "tpe", "gga-tpe", "prior-gp"):
            s = run_search(cfg_ok, opts(tmp_path, searcher=searcher, num_samples=3, replay=True, seed=seed,
                                        name=f"{searcher}-{seed}"))
            assert s.regret is not None and s.regret >= 0
    trials = open_store(store_url).trials_frame("tpe-0")
    assert set(trials["status"]) <= {"replayed", "reused"} and len(trials) == 3


def test_duplicate_placements_are_trained_once(ray_instance, tmp_path):
    cfg = tiny("search.seeds=[0, 0, 1]")
    run_search(cfg, opts(tmp_path, searcher="baseline:first-k:1", name="dup"))
    trials = open_store(str(tmp_path / "store.sqlite")).trials_frame("dup").sort_values("status")
    assert sorted(trials["status"]) == ["completed", "completed", "reused"]
    reused = trials[trials["status"] == "reused"].iloc[0]
    first = trials[(trials["status"] == "completed") & (trials["seed"] == 0)].iloc[0]
    assert reused["reused_from"] == first["trial_id"] and reused["val_accuracy"] == first["val_accuracy"]


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"searcher": "grid"}, "unknown searcher 'grid'"),
        ({"searcher": "random", "num_samples": 0}, "search.num_samples must be positive"),
        ({"searcher": "random", "replay": True}, "no exhaustive ground truth"),
    ],
)
def test_bad_input_writes_nothing(tmp_path, kw, fragment):
    with pytest.raises(PlacementSearchError, match=fragment):
        run_search(tiny(), opts(tmp_path, name="bad", **kw))
    path = tmp_path / "store.sqlite"
    assert not path.exists() or open_store(str(path)).list_searches().empty


def test_unreachable_store_is_one_line_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "placement_search.cli", "run", str(TINY), "--store",
         "postgresql://u:secret@127.0.0.1:1/db", "--searcher", "random"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "secret" not in lines[0]


@pytest.mark.parametrize("tune_state", ["kept", "lost"])
def test_driver_killed_then_resumed(tmp_path, tune_state):
    """Resume with Tune's experiment folder (Tune restores) or without it (from the store alone)."""
    store_path = tmp_path / "store.sqlite"
    cmd = [sys.executable, "-m", "placement_search.cli", "run", str(TINY), "--searcher", "random",
           "--num-samples", "8", "--name", "killme", "--store", str(store_path),
           "--set", "space.k=2", "--set", "training.epochs=12", "--set", f"search.storage_path={tmp_path / 'tune'}"]
    env = {**os.environ, "RAY_AIR_NEW_OUTPUT": "0"}
    env.pop(INJECT_NAN_ENV, None)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if store_path.exists():
                try:
                    done = len(open_store(str(store_path)).trials_frame("killme"))
                except PlacementSearchError:
                    done = 0
            state = list((tmp_path / "tune" / "killme").glob("experiment_state*.json"))
            if done >= 2 and state:
                break
            time.sleep(0.5)
        assert proc.poll() is None and 2 <= done < 8, f"search finished or stalled before the kill ({done} trials)"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = open_store(str(store_path)).trials_frame("killme")
    if tune_state == "lost":
        _remove_once_quiet(tmp_path / "tune")
    # generous: on a 2-core machine busy with other work, starting Ray and its first trial took 5 minutes
    resumed = subprocess.run([sys.executable, "-m", "placement_search.cli", "resume", "killme", "--store",
                              str(store_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = open_store(str(store_path)).trials_frame("killme")
    assert len(after) == 8 and after["trial_key"].is_unique
    assert set(before["trial_key"]) <= set(after["trial_key"])
    assert open_store(str(store_path)).get_search("killme").status == "completed"


def _remove_once_quiet(path: Path, timeout: float = 60.0) -> None:
    """Delete a killed search's Tune folder. The Ray workers of the killed instance notice their
    raylet is gone a moment later and may still write a trial's files there meanwhile (on a busy
    machine, rmtree then meets a directory that is no longer empty), so retry until it stays gone."""
    import shutil

    deadline = time.monotonic() + timeout
    while True:
        shutil.rmtree(path, ignore_errors=True)
        time.sleep(1.0)
        if not path.exists():
            return
        assert time.monotonic() < deadline, f"{path} kept being written {timeout:.0f} s after the kill"


def test_asha_scheduler_search_completes(ray_instance, tmp_path):
    cfg = tiny("search.scheduler=asha", "search.asha_grace_period=1", "search.asha_reduction_factor=2")
    summary = run_search(cfg, opts(tmp_path, searcher="random", num_samples=6, name="asha"))
    trials = summary.trials
    # which trials ASHA stops depends on timing (the callback's own test pins the stopped record)
    assert len(trials) == 6 and set(trials["status"]) <= {"completed", "stopped"}
    assert summary.name in set(open_store(str(tmp_path / "store.sqlite")).list_searches()["name"])
    # trials ASHA stopped early: validation metrics and the epochs they ran, no test metrics, never best
    stopped, full = trials[trials["status"] == "stopped"], trials[trials["status"] == "completed"]
    assert trials["val_accuracy"].notna().all() and stopped["test_accuracy"].isna().all()
    assert (stopped["epochs"] < full["epochs"].min()).all() and full["test_accuracy"].notna().all()
    assert summary.best_placement in set(full["placement"])


def test_export_rebuilds_the_best_model(ray_instance, tmp_path):
    import torch

    from placement_search import PlacedModelForClassification, export_search

    cfg = tiny()
    summary = run_search(cfg, opts(tmp_path, searcher="tpe", num_samples=4, name="exp"))
    assert len(summary.trials) == 4 and summary.best_placement
    out = export_search("exp", tmp_path / "export", str(tmp_path / "store.sqlite"))
    assert {p.name for p in out.iterdir()} == {"config.json", "placement.txt", "model.safetensors", "metrics.json",
                                               "README.md", "tokenizer.json", "tokenizer_config.json"}
    model = PlacedModelForClassification.from_pretrained(out)
    assert str(model.placed.placement) == summary.best_placement
    assert model.id2label == {0: "food", 1: "music", 2: "sports", 3: "weather"}
    from placement_search.experiment import load_experiment

    _, task = load_experiment(cfg)
    inputs, labels = task.test.take(torch.arange(len(task.test)))
    with torch.no_grad():
        accuracy = (model(**inputs).argmax(-1) == labels).float().mean().item()
    assert accuracy == pytest.approx(summary.test_at_best_val, abs=1e-9)


def test_fifty_replayed_searches_per_searcher(ray_instance, tmp_path, capsys):
    from placement_search.cli import main

    store = str(tmp_path / "store.sqlite")
    space = "space.edge_types=[parallel, long-range]"  # 10 edges of a 5-point backbone
    base = [TINY.as_posix(), "--store", store, "--set", space, "--set", "space.k=1"]
    cfg = tiny(space)
    run_search(cfg, opts(tmp_path, searcher="exhaustive", name="gt10"))
    for searcher in ("random", "tpe", "gga-tpe"):
        code = main(["run", *base, "--searcher", searcher, "--num-samples", "5", "--replay", "--replay-seeds", "50",
                     "--name", f"r-{searcher}"])
        assert code == 0, searcher
    out = capsys.readouterr().out
    assert out.count("regret") == 150
    frame = open_store(store).list_searches()
    assert (frame["name"].str.startswith("r-")).sum() == 150
    code = main(["show", "r-gga-tpe-s7", "--store", store])
    assert code == 0 and "vs the best single edge" in capsys.readouterr().out


def test_a_search_stopped_short_of_its_budget_stays_resumable(tmp_path, capsys):
    """Tune answers Ctrl-C by returning normally: the search must end 'interrupted', not 'completed'."""
    from placement_search.search.service import finish_search

    store = open_store(str(tmp_path / "store.sqlite"))
    store.ensure_benchmark("k", {})
    store.create_search("short", "k", "random", 3, {}, {})
    store.record_trial("short", "t1", "0->1", 0, "completed", {"val_accuracy": 0.5})
    finish_search(store, "short")
    assert store.get_search("short").status == "interrupted"
    assert "placement-search resume short" in capsys.readouterr().out
    for key in ("t2", "t3"):
        store.record_trial("short", key, "1->2", 0, "completed", {"val_accuracy": 0.5})
    finish_search(store, "short")
    assert store.get_search("short").status == "completed"


def test_a_search_whose_every_trial_failed_is_failed_with_the_reason(tmp_path):
    from placement_search.search.service import finish_search

    store = open_store(str(tmp_path / "store.sqlite"))
    store.ensure_benchmark("k", {})
    store.create_search("broken", "k", "random", 5, {}, {})
    for i in range(3):
        store.record_trial("broken", f"t{i}", f"0->{i + 1}", 0, "failed", error="KeyError: 'label'")
    with pytest.raises(PlacementSearchError, match=r"every trial of search broken failed \(3 of 3: KeyError: 'label'\)"):
        finish_search(store, "broken")
    assert store.get_search("broken").status == "failed"


def test_k2_prior_gp_warm_starts_from_the_measured_single_edges(tmp_path):
    """build_searcher hands the benchmark's measured single edges to prior-gp (K > 1 warm starts)."""
    from placement_search.search.encoding import decode_placement
    from placement_search.search.service import build_searcher
    from placement_search.store import benchmark_description

    cfg = tiny("space.k=2")
    store = open_store(str(tmp_path / "store.sqlite"))
    key = benchmark_key(cfg)
    store.ensure_benchmark(key, benchmark_description(cfg))
    store.create_search("gt", key, "exhaustive", 9, {}, {})
    best = {"3->4": 0.95, "2->2": 0.9}
    for i, edge in enumerate(["0->0", "1->1", "2->2", "3->3", "4->4", "0->1", "1->2", "2->3", "3->4"]):
        store.record_trial("gt", f"t{i}", edge, 0, "completed", {"val_accuracy": best.get(edge, 0.5)})
    searcher, space, _ = build_searcher(cfg, store, "k2", "prior-gp", 4, 0)
    first = decode_placement(searcher.suggest("a"), space)
    assert {str(e) for e in first} == set(best), first  # the two best measured edges (priors alone pick 1->1,2->2)
