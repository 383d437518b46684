"""The analysis layer on a small synthetic store: numbers against scipy, shapes, regret, the report.

The store is written directly through ResultsStore (no Ray, no training): an exhaustive sweep of
all 25 edges of a 5-point space with two seeds, a score table correlated with accuracy, and replay
searches of 'random' and 'tpe' whose trials reach the top edges at known trial counts.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from placement_search.analysis import (
    cross_task_correlation,
    edge_type_breakdown,
    load_results,
    rank_accuracy_correlation,
    regret_curves,
    regret_summary,
    shared_top_edges,
    single_edge_heatmap,
    transfer_regret,
    trials_to_top_fraction,
    write_report,
)
from placement_search.cli import main
from placement_search.placement.edges import edge_type
from placement_search.store import ResultsStore, TrialRecord

N = 5
DESC = {"backbone": {"name": "tiny-bert", "dtype": "float32"}, "task": {"name": "tiny-text", "seed": 0},
        "training": {"epochs": 1, "lr": 0.01}, "adapter": {"rank": 4}}
DESC_B = {**DESC, "task": {"name": "tiny-text-b", "seed": 1}}
DESC_C = {**DESC, "task": {"name": "no-ground-truth", "seed": 2}}
EDGES = [(s, d) for s in range(N) for d in range(N)]
# replay sequences: the top 5 % of 25 edges are the 2 best, 4->4 and 3->4
REPLAYS = {
    "random": [["0->0", "1->2", "3->4", "2->2", "0->1", "4->0"],   # hit at 3
               ["0->1", "2->3", "1->1", "0->4", "4->4", "2->0"],   # hit at 5
               ["0->0", "1->0", "2->0", "3->0", "4->0", "0->1"]],  # never
    "tpe": [["4->4", "0->0", "1->1"],                                # hit at 1
            ["0->0", "3->4", "1->1", "4->4"],                        # hit at 2
            ["0->0", "1->1", "2->2", "4->4", "2->1"]],               # hit at 4
}


def acc(s: int, d: int, shift: float = 0.0) -> float:
    """Distinct synthetic accuracies; best edge 4->4, then 3->4."""
    return 0.6 + 0.01 * d + 0.003 * s + shift


def _exhaustive(store: ResultsStore, name: str, key: str, value, skip=()) -> None:
    store.create_search(name, key, "exhaustive", len(EDGES), {})
    records = []
    for s, d in EDGES:
        if (s, d) in skip:
            continue
        for seed, noise in ((0, 0.005), (1, -0.005)):  # mean over seeds = value(s, d) exactly
            v = value(s, d) + noise
            records.append(TrialRecord(name, f"{s}_{d}_{seed}", f"{s}->{d}", seed, "completed",
                                       {"val_accuracy": v, "test_accuracy": v - 0.01}))
    store.record_trials(records)
    store.set_search_status(name, "completed")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "results.sqlite"
    store = ResultsStore(str(path))
    store.ensure_benchmark("bench-a", DESC)
    store.ensure_benchmark("bench-b", DESC_B)
    store.ensure_benchmark("bench-c", DESC_C)
    _exhaustive(store, "a-exhaustive", "bench-a", acc)
    # a second task on the same backbone: same trend, reversed in the source, one edge missing
    _exhaustive(store, "b-exhaustive", "bench-b", lambda s, d: 0.7 + 0.01 * d - 0.002 * s, skip={(4, 0)})
    rng = np.random.default_rng(0)
    scores = pd.DataFrame([{"source": s, "destination": d, "type": edge_type(s, d),
                            "rank": round(1000 * acc(s, d) + rng.normal(0, 5)), "sigma_max": 1.0 + s}
                           for s, d in EDGES])
    scores.attrs["rtol"] = 0.01
    store.save_scores("score-a", {"backbone": DESC["backbone"], "task": DESC["task"], "scoring": {}}, scores)
    store.save_scores("score-other", {"backbone": {"name": "other"}, "task": DESC["task"], "scoring": {}}, scores)
    for searcher, runs in REPLAYS.items():
        for seed, seq in enumerate(runs):
            name = f"a-{searcher}-replay-{seed}"
            store.create_search(name, "bench-a", searcher, len(seq), {}, {"seed": seed, "replay": True})
            store.record_trials([
                TrialRecord(name, f"replay_{i:05d}", p, 0, "replayed",
                            {"val_accuracy": acc(*map(int, p.split("->")), 0.005)})
                for i, p in enumerate(seq)])
            store.set_search_status(name, "completed")
    # a real (non-replay) search with K = 2 and a failure: not a replay, so not in the regret curves
    store.create_search("a-tpe-live", "bench-a", "tpe", 2, {})
    store.record_trial("a-tpe-live", "t1", "0->1,2->3", 0, "completed", {"val_accuracy": 0.7})
    store.record_trial("a-tpe-live", "t2", "1->1", 0, "failed", error="boom")
    store.create_search("c-random", "bench-c", "random", 1, {})
    store.record_trial("c-random", "t1", "0->0", 0, "completed", {"val_accuracy": 0.5})
    store.close()
    return "sqlite:///" + str(path)


@pytest.fixture(scope="module")
def results(store_url):
    return load_results(store_url)


def test_load_results(results):
    assert set(results.ground_truth) == {"bench-a", "bench-b"}
    assert len(results.ground_truth["bench-a"]) == 25 and len(results.ground_truth["bench-b"]) == 24
    assert set(results.scores) == {"score-a", "score-other"}
    assert results.scores["score-a"].attrs["rtol"] == 0.01
    assert len(results.searches) == 2 + 6 + 2


def test_rank_accuracy_correlation_matches_scipy(results):
    gt, scores = results.ground_truth["bench-a"], results.scores["score-a"]
    corr = rank_accuracy_correlation(scores, gt, n_boot=300, seed=1).set_index("group")
    merged = gt.merge(scores[["source", "destination", "rank"]], on=["source", "destination"])
    assert list(corr.index) == ["all", "sequential", "parallel", "long-range", "recurrent"]
    for group in corr.index:
        part = merged if group == "all" else merged[merged["type"] == group]
        row = corr.loc[group]
        assert row["n"] == len(part)
        assert row["spearman"] == pytest.approx(stats.spearmanr(part["rank"], part["val_accuracy_mean"]).statistic)
        assert row["kendall"] == pytest.approx(stats.kendalltau(part["rank"], part["val_accuracy_mean"]).statistic)
        assert row["spearman_lo"] <= row["spearman"] <= row["spearman_hi"]
        assert row["kendall_lo"] <= row["kendall"] <= row["kendall_hi"]
    assert corr.loc["all", "spearman"] > 0.8
    again = rank_accuracy_correlation(scores, gt, n_boot=300, seed=1)
    pd.testing.assert_frame_equal(corr.reset_index(), again)  # seeded: reproducible
    overall = rank_accuracy_correlation(scores, gt, by_type=False, n_boot=0)
    assert list(overall["group"]) == ["all"] and math.isnan(overall["spearman_lo"].iloc[0])


def test_cross_task_correlation(results):
    a, b = results.ground_truth["bench-a"], results.ground_truth["bench-b"]
    c = cross_task_correlation(a, b, n_boot=300)
    m = a.merge(b, on=["source", "destination"])
    assert c["n"].iloc[0] == 24
    assert c["spearman"].iloc[0] == pytest.approx(
        stats.spearmanr(m["val_accuracy_mean_x"], m["val_accuracy_mean_y"]).statistic)
    assert c["spearman_lo"].iloc[0] <= c["spearman"].iloc[0] <= c["spearman_hi"].iloc[0]


def test_transfer_regret():
    src = pd.DataFrame({"source": [0, 0, 1, 1], "destination": [0, 1, 0, 1], "val_accuracy_mean": [0.9, 0.8, 0.7, 0.6]})
    dst = src.assign(val_accuracy_mean=[0.5, 0.6, 0.8, 0.7])  # the source task's best edge is the target's worst
    t = transfer_regret(src, dst, tops=(1, 2, 5)).set_index("top")
    assert list(t.index) == [1, 2]  # a top larger than the shared edges is left out
    assert t.loc[1, "regret_best"] == pytest.approx(0.3) and t.loc[1, "moved_best_percentile"] == pytest.approx(25.0)
    assert t.loc[2, "moved_best"] == pytest.approx(0.6) and t.loc[2, "regret_mean"] == pytest.approx(0.25)
    assert (transfer_regret(src, src)["regret_best"] == 0).all()


def _map(values: list[float]) -> pd.DataFrame:
    """A 4 x 5 map (20 edges, so a top 5 % of one edge) with these accuracies in edge order."""
    return pd.DataFrame({"source": [i // 5 for i in range(20)], "destination": [i % 5 for i in range(20)],
                         "val_accuracy_mean": values})


def test_shared_top_edges_covers_every_source_top_greedily_and_reads_the_target():
    base = [0.5 + 0.001 * i for i in range(20)]  # the last edge (3, 4) is best
    a = _map(base[:7] + [0.9] + base[8:])  # best: (1, 2)
    b = _map(base[:7] + [0.9] + base[8:])  # best: (1, 2) again
    c = _map(base[:2] + [0.95] + base[3:])  # best: (0, 2)
    target = _map(base[:2] + [0.99] + base[3:])  # its best is c's best, (0, 2)
    got = shared_top_edges([a, b, c], target)
    # (1, 2) tops two sources, so it is picked first; then (0, 2) for the third
    assert [(r.source, r.destination) for r in got.itertuples()] == [(1, 2), (0, 2)]
    assert got["sources_covered"].tolist() == [2, 1]
    assert got["in_target_top"].tolist() == [False, True]
    assert got["target_percentile"].tolist() == pytest.approx([100.0 * 7 / 20, 100.0])  # (1, 2) beats 7 of the 20 there, itself included
    # one top edge among 20: k random edges hold it with chance k / 20
    assert got["chance_any_of_k"].tolist() == pytest.approx([1 / 20, 2 / 20])
    # an edge a source did not measure is left out of every map's reading
    assert len(shared_top_edges([a.iloc[1:], b], target)) == 1


def test_single_edge_heatmap(results):
    gt_b = results.ground_truth["bench-b"]
    m = single_edge_heatmap(results.ground_truth["bench-a"])
    assert m.shape == (N, N) and m.index.name == "source" and m.columns.name == "destination"
    for s, d in EDGES:
        assert m.loc[s, d] == pytest.approx(acc(s, d))
    mb = single_edge_heatmap(gt_b, n_points=N)
    assert mb.shape == (N, N) and math.isnan(mb.loc[4, 0]) and mb.notna().sum().sum() == 24


def test_edge_type_breakdown(results):
    b = edge_type_breakdown(results.ground_truth["bench-a"]).set_index("type")
    assert b.loc[["sequential", "parallel", "long-range", "recurrent"], "count"].tolist() == [5, 4, 6, 10]
    assert b.loc["all", "count"] == 25 and b.loc["all", "max"] == pytest.approx(acc(4, 4))
    assert b.drop("all")["share_top10"].sum() == pytest.approx(1.0)


def test_regret_curves(results):
    gt = results.ground_truth["bench-a"]
    trials = results.trials[results.trials["benchmark_key"] == "bench-a"]
    curves = regret_curves(trials, gt)
    assert set(curves["searcher"]) == {"random", "tpe"}          # the live tpe search is not a replay
    assert sorted(curves.groupby("searcher")["seed"].nunique()) == [3, 3]
    for _, c in curves.groupby("search"):
        assert (np.diff(c["regret"].to_numpy()) <= 1e-12).all()  # monotone non-increasing
        assert (c["regret"] >= -1e-12).all()
    hit = curves[(curves["search"] == "a-tpe-replay-0")].iloc[0]
    assert hit["regret"] == pytest.approx(0.0) and hit["best_placement"] == "4->4"
    first = curves[(curves["search"] == "a-random-replay-2") & (curves["trial"] == 1)].iloc[0]
    assert first["regret"] == pytest.approx(acc(4, 4) - acc(0, 0))
    summary = regret_summary(curves)
    tpe1 = summary[(summary["searcher"] == "tpe") & (summary["trial"] == 1)].iloc[0]
    assert tpe1["n_seeds"] == 3 and tpe1["regret_q25"] <= tpe1["regret_median"] <= tpe1["regret_q75"]
    assert summary[(summary["searcher"] == "tpe") & (summary["trial"] == 5)]["n_seeds"].item() == 1


def test_trials_to_top_fraction(results):
    gt = results.ground_truth["bench-a"]
    top = trials_to_top_fraction(results.trials, gt, fraction=0.05).set_index("searcher")
    assert top.loc["random", "median_trials"] == 5 and top.loc["random", "n_found"] == 2
    assert top.loc["tpe", "median_trials"] == 2 and top.loc["tpe", "n_found"] == 3
    assert top.loc["tpe", "min_trials"] == 1 and top.loc["tpe", "max_trials"] == 4
    assert top.loc["tpe", "threshold"] == pytest.approx(acc(3, 4))


def test_analyze_writes_report(store_url, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["analyze", "--store", store_url, "--out", str(out), "--n-boot", "200"]) == 0
    page = (out / "index.html").read_text()
    for name in ("bench-a_heatmap.png", "bench-a_edge_types.png", "bench-a_regret.png", "bench-a_regret_compute.png",
                 "bench-a_scores_score-a_rank_vs_accuracy.png", "bench-b_heatmap.png"):
        assert (out / name).stat().st_size > 1000 and name in page
    for name in ("searches.csv", "bench-a_ground_truth.csv", "bench-a_heatmap_val_accuracy.csv",
                 "bench-a_edge_types.csv", "bench-a_scores_score-a_correlation.csv", "bench-a_scores_score-a_proxies.csv", "bench-a_regret_curves.csv",
                 "bench-a_regret_summary.csv", "bench-a_trials_to_top5.csv", "cross_benchmark.csv", "transfer_regret.csv",
                 "bench-a_regret_compute_summary.csv", "bench-a_compute_to_target.csv"):
        assert len(pd.read_csv(out / name)) > 0
    assert "bench-a_scores_score-other" not in page                 # other backbone: not matched
    assert "No gradient-rank score table" in page                   # bench-b has none
    assert "No ground truth" in page                                # bench-c
    assert page.count("<table") >= 10
    targets = pd.read_csv(out / "bench-a_compute_to_target.csv")
    assert set(targets["criterion"]) == {"a: top 5 %", "b: within 1 sd of best"}
    assert "analytic cost model" in page                            # tiny-bert has no measured table
    heat = pd.read_csv(out / "bench-a_heatmap_val_accuracy.csv", index_col=0)
    assert heat.shape == (N, N)
    # one benchmark only
    only = tmp_path / "only"
    assert main(["analyze", "--store", store_url, "--out", str(only), "--benchmark", "bench-b"]) == 0
    assert not (only / "bench-a_heatmap.png").exists() and (only / "bench-b_heatmap.png").exists()


@pytest.mark.parametrize("store", ["{tmp}/missing.sqlite", "postgresql://u:p@127.0.0.1:1/none"])
def test_analyze_unreachable_store_is_one_line_error(store, tmp_path, capsys):
    assert main(["analyze", "--store", store.format(tmp=tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "missing.sqlite").exists()


def test_analyze_unknown_benchmark(store_url, tmp_path, capsys):
    assert main(["analyze", "--store", store_url, "--out", str(tmp_path), "--benchmark", "nope"]) == 2
    assert "bench-a" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHECK = """<script>window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.title = 'CHECK images=' + ok + '/' + imgs.length + ' tables=' + document.querySelectorAll('table').length;
});</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless browser check needs Debian package 'chromium' "
                                             "(apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(store_url, tmp_path):
    out = tmp_path / "report"
    write_report(store_url, out, n_boot=50)
    page = (out / "index.html").read_text()
    n_images, n_tables = page.count("<img "), page.count("<table")
    (out / "check.html").write_text(page.replace("</body>", CHECK + "</body>"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", (out / "check.html").as_uri()],
                         capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"CHECK images=(\d+)/(\d+) tables=(\d+)", dom)
    assert found, f"no check title in the dumped DOM: {dom[:300]!r}"
    assert (int(found[1]), int(found[2]), int(found[3])) == (n_images, n_images, n_tables)
    assert n_images >= 5 and n_tables >= 10


def test_report_shows_the_one_epoch_ceiling(tmp_path):
    """A 3-epoch ground truth with learning curves gets the 'What stopping after one epoch could
    save' table (analysis/fidelity.py); here epoch 1 ranks the edges as the end does, so stopping
    keeps every target edge and the factor is the price saved."""
    store = ResultsStore(str(tmp_path / "curves.sqlite"))
    store.ensure_benchmark("bench-3", {**DESC, "training": {"epochs": 3, "lr": 0.01}})
    store.create_search("exhaustive-3", "bench-3", "exhaustive", len(EDGES), {})
    store.record_trials([
        TrialRecord("exhaustive-3", f"{s}_{d}", f"{s}->{d}", 0, "completed", {"val_accuracy": acc(s, d)},
                    curve=[{"step": 10 * e, "epoch": e, "val_accuracy": acc(s, d) - 0.1 / e} for e in (1, 2, 3)])
        for s, d in EDGES])
    store.set_search_status("exhaustive-3", "completed")
    store.close()
    out = tmp_path / "report"
    write_report(f"sqlite:///{tmp_path / 'curves.sqlite'}", out, n_boot=50)
    assert "What stopping after one epoch could save" in (out / "index.html").read_text()
    table = pd.read_csv(out / "bench-3_stopping_headroom.csv")
    assert set(table["target"]) == {"a: top 5 %", "b: within 1 sd of best"} and (table["edges"] == len(EDGES)).all()
    assert (table["target_edges_kept"] == 1.0).all() and (table["factor"] < 1).all()
