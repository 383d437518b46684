"""The cost model (search/cost.py) and the scripts that measure and use it.

Unit tests of the work count against PlacedModel's passes, worked out by hand, the measured and the
analytic tables, and the score-reading probe; then benchmarks/edge_cost.py (smoke size, tiny
models) writes a table that cost.py reads back, and benchmarks/search_efficiency.py runs on a
hand-made store with a complete sweep of a tiny model, computing the scores into it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from placement_search.config import load_config
from placement_search.placement.edges import Edge, Placement
from placement_search.search import cost
from placement_search.store import ResultsStore, TrialRecord, benchmark_description, benchmark_key, score_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("placement, expected", [
    ("", 0),                  # linear probe: the head on the cached last point
    ("12->12", 0), ("0->0", 12), ("3->5", 7), ("5->3", 9),   # 13 points: last = 12
    ("9->0", 12),             # recurrent alone: pass 1 cached, pass 2 after point 0
    ("2->4,9->6", 5 + 6 + 1), # mixed: pass 1 from 4 to 9 (5) + pass 2 after 6 (6) + raw 6 recomputed (1)
    ("2->6,9->6", 3 + 6),     # mixed with m == s: pass 1 from 6 to 9 (3) + pass 2 after 6 (6)
])
def test_work_counts_the_sub_layers_a_step_re_runs(placement, expected):
    assert cost.work(placement, 13) == expected


def test_work_without_cache_adds_the_plain_prefix_forward_only():
    assert cost.work("3->5", 13, prefix_cache=False) == 7 + cost.FORWARD_SHARE * 5
    assert cost.work("9->2", 13, prefix_cache=False) == 10 + cost.FORWARD_SHARE * 9   # pass 1 up to 9


def test_analytic_table_averages_to_one():
    t = cost.analytic_table(13)
    singles = [Placement.of([Edge(i, j)]) for i in range(13) for j in range(13)]
    assert sum(t.relative(p) for p in singles) / len(singles) == pytest.approx(1.0)
    assert t.relative("0->0") / t.relative("12->12") == pytest.approx(13.0)   # (1 + 12) / (1 + 0)
    assert cost.trial_cost("0->0", 2, t) == pytest.approx(2 * t.relative("0->0"))
    assert cost.trial_cost("0->0", None, t) == 0.0
    assert cost.scoring_cost(t) == cost.ANALYTIC_SCORING_EPOCHS and t.source == "analytic"


def entry(backbone="bb", task="t", n=5) -> dict:
    return {"preset": "p", "backbone": backbone, "task": task, "num_points": n, "device": "cpu",
            "fit": {"intercept": {"sequential": 1.0, "parallel": 1.0, "long-range": 1.0, "recurrent": 2.0},
                    "slope": 1.0},
            "scoring_epochs": 0.25, "edges": [{"edge": "0->0"}]}


def test_measured_table_lookup(tmp_path):
    path = tmp_path / "cost.json"
    path.write_text(json.dumps({"presets": {"p": entry(), "q": {**entry(task="u"), "preset": "q",
                                                                "scoring_epochs": 0.5}}}))
    t = cost.load_table("bb", 5, task="t", path=path)
    assert t.source == "measured" and t.preset == "p" and cost.scoring_cost(t) == 0.25
    # 5 points, last = 4: raw cost of 1->0 = 2 + 4, of 0->1 = 1 + 3
    assert t.relative("1->0") / t.relative("0->1") == pytest.approx(6 / 4)
    assert t.relative("0->1,1->0") * t.unit == pytest.approx(2 + cost.work("0->1,1->0", 5))  # largest intercept
    other = cost.load_table("bb", 5, task="zz", path=path)
    assert other.source == "measured" and "not zz" in other.describe()
    assert cost.load_table("bb", 7, path=path).source == "analytic"           # another depth
    assert cost.load_table("cc", 5, path=path).source == "analytic"
    assert "no measured cost table" in cost.load_table("bb", 5, path=tmp_path / "none.json").describe()


def test_uses_scores_probe():
    assert cost.uses_scores("gga-tpe", 5)
    assert not cost.uses_scores("random", 5) and not cost.uses_scores("tpe", 5)
    # prior-gp reads the scores while it is built: the probe stops there (no 6,561 x 6,561 prior)
    assert cost.uses_scores("prior-gp", 5) and cost.uses_scores("prior-gp", 81)
    assert cost.uses_scores("baseline:top-k:1", 5) and not cost.uses_scores("baseline:first-k:1", 5)


def run(script: str, *args: str, timeout: int = 600) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_edge_cost_smoke_writes_a_table_cost_reads(tmp_path):
    out = tmp_path / "edge_cost.json"
    text = run("edge_cost.py", "--smoke-test", "--out", str(out))
    assert re.search(r"scoring pass: .* = \d+\.\d\d epoch-equivalents", text)
    data = json.loads(out.read_text())
    assert set(data["presets"]) == {"tiny", "tiny_vision"}
    e = data["presets"]["tiny"]
    assert e["num_points"] == 5 and len(e["edges"]) == 8 and e["unit_seconds"] > 0
    assert {r["type"] for r in e["edges"]} == {"sequential", "parallel", "long-range", "recurrent"}
    assert all(v >= 0 for v in e["fit"]["intercept"].values()) and e["fit"]["slope"] >= 0
    t = cost.load_table("tiny-bert", 5, task="tiny-text", path=out)
    assert t.source == "measured" and t.scoring_epochs == pytest.approx(e["scoring_epochs"])
    assert t.relative("4->4") < t.relative("0->0")             # late destinations re-run fewer blocks


def tiny_store(path: Path, repeat: bool) -> tuple[str, object]:
    """A store with a complete exhaustive sweep of tiny-bert (25 edges), 3-epoch curves, no scores."""
    cfg = load_config(ROOT / "search_spaces" / "tiny.yaml", ["training.epochs=3", "space.k=1"])
    key = benchmark_key(cfg)
    store = ResultsStore(str(path))
    store.ensure_benchmark(key, benchmark_description(cfg))
    store.create_search("tiny-exhaustive", key, "exhaustive", 25, cfg.to_dict())

    def acc(s, d, seed=0):
        return round(0.5 + 0.02 * d + 0.005 * s + 0.003 * seed, 4)

    def records(name, seed, edges):
        return [TrialRecord(name, f"{s}_{d}_{seed}", f"{s}->{d}", seed, "completed",
                            {"val_accuracy": acc(s, d, seed), "test_accuracy": acc(s, d, seed), "epochs": 3.0},
                            [{"step": 5 * k, "epoch": float(k), "val_accuracy": acc(s, d, seed) - 0.1 * (3 - k)}
                             for k in (1, 2, 3)])
                for s, d in edges]

    edges = [(s, d) for s in range(5) for d in range(5)]
    store.record_trials(records("tiny-exhaustive", 0, edges))
    store.set_search_status("tiny-exhaustive", "completed")
    if repeat:
        store.create_search("tiny-repeat", key, "repeat", 6, cfg.to_dict())
        store.record_trials(records("tiny-repeat", 1, edges[:6]))
    store.close()
    return key, score_key(cfg)


def test_search_efficiency_on_a_hand_made_store(tmp_path):
    path = tmp_path / "gt.sqlite"
    _, skey = tiny_store(path, repeat=False)
    text = run("search_efficiency.py", "--store", str(path), "--smoke-test", "--searchers", "random+asha",
               "--out-dir", str(tmp_path / "out"))
    lines = text.strip().splitlines()
    assert re.fullmatch(r"gt\.sqlite: default/random compute = (\d+\.\d\d|inf|nan)", lines[-1])
    assert "documented default" in text and "analytic cost model" in text
    for label in ("(default)", "random ", "tpe ", "gga-tpe", "random+asha"):
        assert label in text
    assert (tmp_path / "out" / "gt_regret_compute.png").stat().st_size > 1000
    with sqlite3.connect(path) as db:   # the scores were computed into the store, nothing else written
        assert db.execute("select count(*) from score_sets where score_key = ?", (skey,)).fetchone()[0] == 1
        assert db.execute("select count(*) from searches").fetchone()[0] == 1


def test_search_efficiency_skips_or_refuses_an_incomplete_sweep(tmp_path):
    path = tmp_path / "part.sqlite"
    tiny_store(path, repeat=True)
    with sqlite3.connect(path) as db:
        db.execute("delete from trials where placement = '4->0' and seed = 0")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_efficiency.py"), "--store", str(path),
                           "--smoke-test"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode != 0 and "24 of 25 single edges" in done.stderr


@pytest.fixture(scope="module")
def efficiency():
    """benchmarks/search_efficiency.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("search_efficiency", ROOT / "benchmarks" / "search_efficiency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_default_scan_skips_an_incomplete_sweep(efficiency, tmp_path, capsys):
    path = tmp_path / "part.sqlite"
    tiny_store(path, repeat=False)
    with sqlite3.connect(path) as db:
        db.execute("delete from trials where placement = '0->0'")
    assert efficiency.replay_store(f"sqlite:///{path}", 1, 5, [], [], None, explicit=False) is False
    assert "part.sqlite: skipped, its exhaustive sweep tiny-exhaustive holds 24 of 25" in capsys.readouterr().out


def test_rows_of_any_store_copy_into_a_replay_store(efficiency, tmp_path):
    """The path for stores that are not SQLite files (PostgreSQL): the rows replays read are copied."""
    src = tmp_path / "src.sqlite"
    key, _ = tiny_store(src, repeat=True)
    with ResultsStore(str(src)) as s:
        s.save_scores("sk", {"backbone": {"name": "tiny-bert"}}, __import__("pandas").DataFrame(
            {"source": [0], "destination": [0], "type": ["sequential"], "rank": [3.0]}))
    efficiency.copy_rows(f"sqlite:///{src}", f"sqlite:///{tmp_path / 'dst.sqlite'}")
    with ResultsStore(str(src)) as a, ResultsStore(str(tmp_path / "dst.sqlite")) as b:
        assert a.ground_truth(key).equals(b.ground_truth(key))
        ca, cb = a.curves_frame(), b.curves_frame()
        assert len(ca) == len(cb) == 3 * 31
        assert ca["val_accuracy"].tolist() == cb["val_accuracy"].tolist()
        assert b.load_scores("sk")["rank"].tolist() == [3.0]
        sd, how = efficiency.training_noise(b.trials_frame(benchmark_key=key))
        assert how.startswith("measured: 6 single edges") and sd == pytest.approx(0.0, abs=1e-9)
