"""The paper's sizes on one machine: 625 edges (ViT-B/16, 25 points) and 6,561 (ViT-g/14, 81 points).

Prints, for both sizes, against the targets of issue 14:

- scoring: the backbone's forward/backward and the spectra of every G_ij, with peak memory; the
  default way to the spectra (N x N cores when the pooled rows N < d, scoring.py) side by side
  with the reference way in one process on the same rows, their ratio, and whether the ranks are
  identical. Where the reference way is too slow here it is timed on a stated random subset of
  edges and extrapolated (printed as such). Backbones: the offline presets (timm architectures
  with random weights, search_spaces/vit_*_random_fashion.yaml) on seeded random 224 px images
  (the cost does not depend on the pixels). Each size runs in its own process so its peak
  memory (VmHWM) is its own;
- the driver: memory growth per 1,000 trials and per-trial overhead of a replay of every single
  edge (the product's exhaustive searcher, DeduplicatingSearcher and store) over a SYNTHETIC
  single-edge ground truth written to a temporary store (accuracies are a made-up smooth map plus
  noise; nothing was trained), and of >= 10,000 trivial Ray Tune trials (the project's embedded
  loopback Ray with its token authentication, the product's StoreCallback into a temporary store);
- the report (analysis/report.py) rendered from that store, and its single-edge heatmap checked in
  headless Chromium at the size the page shows it.

    python benchmarks/paper_scale.py           # about 20 minutes on 2 CPUs
    python benchmarks/paper_scale.py --quick   # under 3 minutes: smaller counts, synthetic ViT-g rows
    python benchmarks/paper_scale.py --only scoring,replay,tune,report
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from placement_search.config import Config, load_config  # noqa: E402
from placement_search.placement.edges import EdgeSpace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {625: ROOT / "search_spaces" / "vit_b16_random_fashion.yaml",
           6561: ROOT / "search_spaces" / "vit_g14_random_fashion.yaml"}
POINTS = {625: 25, 6561: 81}
#: the product's searchers replayed for their per-trial overhead (the default first)
SEARCHER_TRIALS = {False: [("prior-gp", 100), ("tpe", 100), ("random", 300)], True: [("tpe", 30), ("random", 100)]}
GIB = 1024**3
TARGET_GROWTH_GIB = 0.1  # per 1,000 trials
TARGET_REPORT_S = 60.0  # at 6,561 edges
TARGET_GPU_SCORING_S = 60.0  # all 6,561 edges on an H100-class GPU
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def memory(field: str = "VmRSS") -> float:
    """This process's resident (VmRSS) or peak resident (VmHWM) memory in GiB."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M)[1]) * 1024 / GIB


def growth_per_1000(samples: list[tuple[int, float]], skip: int = 1000) -> float:
    """Least-squares slope of RSS (GiB) against trials, per 1,000 trials, after the first ``skip``."""
    pts = [(n, m) for n, m in samples if n >= skip]
    pts = pts if len(pts) >= 2 else samples
    if len(pts) < 2:
        return float("nan")
    n, m = np.array(pts, dtype=float).T
    return float(np.polyfit(n, m, 1)[0] * 1000)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ----------------------------------------------------------------------------------------- scoring


def scoring_child(edges: int, images: int | None, subset: int, synthetic: bool) -> dict:
    """One size's scoring, in this (child) process: JSON-able timings, memory and the rank check."""
    from placement_search import scoring
    from placement_search.backbones import load_backbone

    cfg = load_config(PRESETS[edges])
    out: dict = {"preset": PRESETS[edges].name, "backbone": cfg.backbone.name, "threads": torch.get_num_threads()}
    n_images = images or cfg.scoring.batch_size
    scale = 1.0  # the default way's time, extrapolated from fewer points
    if synthetic:  # quick mode at 6,561 edges: rows of the right shape for 27 of the 81 points, no backbone pass
        n, d, tokens = 27, 1408, 257
        gen = torch.Generator().manual_seed(0)
        X = torch.randn(n_images * tokens, n * d, generator=gen)
        D = torch.randn(n_images * tokens, n * d, generator=gen)
        scale = (81 / n) ** 2
        out.update(synthetic=True, points=81, d=d, fast_points=n)
    else:
        start = time.perf_counter()
        backbone = load_backbone(cfg.backbone)
        out["build_s"] = time.perf_counter() - start
        out["params"] = sum(p.numel() for p in backbone.parameters())
        n, d = backbone.num_points, backbone.hidden_size
        size = backbone.input_spec()["image_size"]
        gen = torch.Generator().manual_seed(0)
        inputs = {"pixel_values": torch.randn(n_images, 3, size, size, generator=gen)}
        labels = torch.arange(n_images) % 10
        head = scoring.make_head(d, 10, cfg.scoring.head_init, cfg.scoring.seed, torch.float32)
        for p in head.parameters():
            p.requires_grad_(False)
        out["rss_model_gib"] = memory()
        start = time.perf_counter()
        X, D = scoring.gradient_rows(backbone, head, inputs, labels, cfg.scoring.pooling)
        out["forward_backward_s"] = time.perf_counter() - start
        del backbone
        out.update(points=n, d=d)
    out.update(images=n_images, rows=int(X.shape[0]), pooling=cfg.scoring.pooling, rtol=cfg.scoring.rtol)
    start = time.perf_counter()
    fast = scoring.edge_spectra(X, D, n, d)
    out["fast_s"] = (time.perf_counter() - start) * scale
    out["fast_way"] = "core" if X.shape[0] < d else "blocks"
    out["peak_gib_fast"] = memory("VmHWM")
    out["reference_matrix_gib"] = (out["points"] * d) ** 2 * X.element_size() / GIB
    rtols = sorted({cfg.scoring.rtol, *scoring.REPORTED_RTOLS})
    pairs = [(i, j) for i in range(n) for j in range(n)]
    if subset >= len(pairs):  # the reference way, whole
        start = time.perf_counter()
        ref = scoring.edge_spectra(X, D, n, d, "reference")
        out["reference_s"] = time.perf_counter() - start
        out["peak_gib_reference"] = memory("VmHWM")
        chosen = pairs
        ref_blocks = ref.view(n * n, d)
    else:  # the reference kernel on a random subset of blocks, in the reference's thread pool
        chosen = [pairs[k] for k in np.random.default_rng(0).choice(len(pairs), subset, replace=False)]
        ref_blocks = torch.empty(len(chosen), d)

        def one(k: int) -> None:
            i, j = chosen[k]
            ref_blocks[k] = torch.linalg.svdvals(X[:, i * d:(i + 1) * d].T @ D[:, j * d:(j + 1) * d])

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, range(len(chosen))))
        took = time.perf_counter() - start
        torch.set_num_threads(threads)
        out.update(reference_subset=len(chosen), reference_subset_s=took,
                   reference_s=took * len(pairs) * scale / len(chosen), reference_extrapolated=True)
    fast_blocks = torch.stack([fast[i, j] for i, j in chosen])
    differ = {f"{r:g}": int((scoring_ranks(fast_blocks, r) != scoring_ranks(ref_blocks, r)).sum()) for r in rtols}
    out["rank_mismatches"] = differ
    out["compared_edges"] = len(chosen)
    out["max_rel_diff"] = float(((fast_blocks - ref_blocks).abs() / ref_blocks[:, :1].clamp_min(1e-30)).max())
    return out


def scoring_ranks(s: torch.Tensor, rtol: float) -> torch.Tensor:
    top = s[..., :1]
    return ((s > rtol * top) & (top > 0)).sum(-1)


def run_scoring(quick: bool) -> None:
    print("\n== scoring: one forward/backward, then the spectra of every G_ij ==", flush=True)
    gpu = torch.cuda.is_available()
    print(f"GPU: {torch.cuda.get_device_name() if gpu else 'none on this machine'}; CPU threads: "
          f"{torch.get_num_threads()}")
    # (edges, images, reference subset, synthetic rows)
    plan = [(625, 1, 64, False), (6561, 1, 32, True)] if quick else [(625, None, 625, False), (6561, None, 32, False)]
    for edges, images, subset, synthetic in plan:
        args = [sys.executable, __file__, "--child-scoring", str(edges), "--subset", str(subset)]
        args += ["--images", str(images)] if images else []
        args += ["--synthetic"] if synthetic else []
        start = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode:
            print(f"{edges} edges: the scoring child failed:\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        wall = time.perf_counter() - start
        what = (f"SYNTHETIC random rows for {r.get('fast_points')} of the 81 points, times EXTRAPOLATED to 81 "
                f"(no backbone pass: run without --quick)" if r.get("synthetic") else
                f"{r['backbone']} ({r['params'] / 1e6:.0f}M parameters, random weights, built in {r['build_s']:.0f} s)")
        print(f"-- {edges} edges: {r['points']} points, d = {r['d']}; {what}")
        print(f"   scoring batch: {r['images']} image(s), pooling {r['pooling']} -> N = {r['rows']} rows "
              f"({'<' if r['rows'] < r['d'] else '>='} d: the default way uses {r['fast_way']})")
        if "forward_backward_s" in r:
            print(f"   forward/backward       {r['forward_backward_s']:8.1f} s  (model in memory: {r['rss_model_gib']:.1f} GiB)")
        print(f"   spectra, default way   {r['fast_s']:8.1f} s  peak memory of the process {r['peak_gib_fast']:.1f} GiB")
        if r.get("reference_extrapolated"):
            print(f"   spectra, reference way {r['reference_s']:8.1f} s  EXTRAPOLATED from {r['reference_subset']} random "
                  f"edges ({r['reference_subset_s']:.1f} s) to {edges}; its X^T D alone needs "
                  f"{r['reference_matrix_gib']:.1f} GiB (this machine: "
                  f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB)")
        else:
            print(f"   spectra, reference way {r['reference_s']:8.1f} s  peak memory of the process "
                  f"{r['peak_gib_reference']:.1f} GiB (X^T D: {r['reference_matrix_gib']:.1f} GiB)")
        mism = r["rank_mismatches"]
        print(f"   speed-up of the spectra (reference / default, side by side): {r['reference_s'] / r['fast_s']:.1f}x"
              f"{' (reference extrapolated)' if r.get('reference_extrapolated') else ''}")
        print(f"   ranks identical on the {r['compared_edges']} compared edges at rtol "
              f"{', '.join(mism)}: {all(v == 0 for v in mism.values())} (mismatches {mism}); largest "
              f"|sigma difference| / sigma_max {r['max_rel_diff']:.1e}")
        total = r.get("forward_backward_s", 0.0) + r["fast_s"]
        print(f"   scoring total (forward/backward + default spectra) {total:.1f} s"
              f"{' (EXTRAPOLATED)' if r.get('synthetic') else ''} on {r['threads']} CPU threads; "
              f"child process wall {wall:.0f} s")
        if edges == 6561:
            print(f"   target: all 6,561 edges scored in <= {TARGET_GPU_SCORING_S:.0f} s on an H100-class GPU: "
                  f"{'see a GPU run' if gpu else 'not measured: no GPU'}")


# ----------------------------------------------------------------------------------------- stores


def synthetic_ground_truth(store, cfg: Config, points: int, seed: int = 0) -> str:
    """Write a SYNTHETIC exhaustive single-edge sweep of cfg's space into ``store`` (made-up
    accuracies: a smooth map of (i, j) plus noise, 3-epoch curves); returns the search name."""
    from placement_search.store import TrialRecord, benchmark_description, benchmark_key

    space = EdgeSpace(points)
    n = space.num_points
    rng = np.random.default_rng(seed)
    key = benchmark_key(cfg)
    store.ensure_benchmark(key, benchmark_description(cfg))
    name = f"synthetic-ground-truth-{n}"
    store.create_search(name, key, "exhaustive", len(space), cfg.to_dict(), {"synthetic": True})
    records = []
    for t, e in enumerate(space.edges):
        i, j = e.source, e.destination
        acc = float(np.clip(0.80 + 0.05 * np.sin(3.0 * i / n) * np.cos(2.0 * j / n) + 0.01 * rng.normal(), 0, 1))
        curve = [{"step": 10 * k, "epoch": float(k), "val_accuracy": acc - 0.02 * (3 - k), "val_loss": 1 - acc,
                  "train_loss": 1.1 - acc, "lr": 1e-3} for k in (1, 2, 3)]
        metrics = {"val_accuracy": acc, "best_val_accuracy": acc, "test_accuracy": acc - 0.01, "test_loss": 0.5,
                   "wall_time_s": 1.0, "epochs": 3.0, "steps": 30}
        records.append(TrialRecord(name, f"gt_{t:05d}", str(e), cfg.training.seed, "completed", metrics, curve))
    store.record_trials(records)
    store.set_search_status(name, "completed")
    # SYNTHETIC gradient-rank spectra (16 values per edge, ranks loosely tied to the accuracies)
    from placement_search.scoring import EdgeScores
    from placement_search.store.keys import score_description, score_key

    spectra = torch.from_numpy(np.sort(rng.random((n, n, 16)), axis=-1)[..., ::-1].copy())
    store.save_scores(score_key(cfg), score_description(cfg), EdgeScores(spectra, 0.5, {"synthetic": True}).to_frame())
    return name


def preset_config(edges: int, store_path: Path) -> Config:
    return load_config(PRESETS[edges], [f"search.store={store_path}", "training.epochs=3"])


# ----------------------------------------------------------------------------------------- replay


def run_replay(edges: int, folder: Path, trials: int | None, quick: bool) -> Path:
    """Replay every single edge (or ``trials`` of them) over a synthetic ground truth; returns the store."""
    from placement_search.runners.base import RunnerOptions, SearchJob, disk_config
    from placement_search.runners.replay import ReplayRunner
    from placement_search.search.service import build_searcher
    from placement_search.store import benchmark_key, open_store

    path = folder / f"paper_scale_{edges}.sqlite"
    cfg = preset_config(edges, path)
    store = open_store(str(path))
    start = time.perf_counter()
    synthetic_ground_truth(store, cfg, POINTS[edges])
    written = time.perf_counter() - start
    n_trials = trials or edges
    cfg.search.searcher, cfg.search.num_samples = "exhaustive", n_trials
    searcher, space, n_trials = build_searcher(cfg, store, "replay-exhaustive", "exhaustive", n_trials, 0)
    store.create_search("replay-exhaustive", benchmark_key(cfg), "exhaustive", n_trials, disk_config(cfg),
                        {"runner": "replay", "replay": True})
    samples: list[tuple[int, float]] = [(0, memory())]
    times: list[tuple[int, float]] = [(0, 0.0)]
    t0 = time.perf_counter()

    def sample(records) -> bool:
        if len(records) % 250 == 0:
            samples.append((len(records), memory()))
            times.append((len(records), time.perf_counter() - t0))
        return False

    ReplayRunner(RunnerOptions(verbose=0), stop=sample).run(SearchJob(cfg, store, "replay-exhaustive", searcher,
                                                                       n_trials, space))
    took = time.perf_counter() - t0
    store.set_search_status("replay-exhaustive", "completed")
    done = len(store.trials_frame("replay-exhaustive"))
    growth = growth_per_1000(samples, skip=min(1000, n_trials // 4))
    first, last = times[1] if len(times) > 1 else times[0], times[-1]
    late = (last[1] - first[1]) / max(1, last[0] - first[0]) * 1000
    print(f"-- {edges} edges: synthetic ground truth of {edges} trials written in {written:.1f} s; replay of "
          f"{done} trials (exhaustive searcher) in {took:.1f} s = {1000 * took / max(done, 1):.1f} ms per trial "
          f"({late:.1f} ms per trial over trials {first[0]}-{last[0]})")
    print(f"   driver RSS {samples[0][1]:.2f} -> {samples[-1][1]:.2f} GiB; growth {growth:+.3f} GiB per 1,000 trials "
          f"(target <= {TARGET_GROWTH_GIB}): {verdict(growth <= TARGET_GROWTH_GIB)}")
    for searcher_name, count in SEARCHER_TRIALS[quick]:
        replay_searcher(cfg, store, searcher_name, count)
    store.close()
    return path


def replay_searcher(cfg: Config, store, searcher_name: str, n_trials: int) -> None:
    """Per-trial overhead of one of the product's searchers, replayed for ``n_trials`` trials."""
    from placement_search.runners.base import RunnerOptions, SearchJob, disk_config
    from placement_search.runners.replay import ReplayRunner
    from placement_search.search.service import build_searcher
    from placement_search.store import benchmark_key

    name = f"replay-{searcher_name}"
    start = time.perf_counter()
    searcher, space, n_trials = build_searcher(cfg, store, name, searcher_name, n_trials, 0)
    store.create_search(name, benchmark_key(cfg), searcher_name, n_trials, disk_config(cfg),
                        {"runner": "replay", "replay": True})
    built = time.perf_counter() - start
    stamps: list[float] = []
    t0 = time.perf_counter()
    ReplayRunner(RunnerOptions(verbose=0), stop=lambda records: stamps.append(time.perf_counter()) and False).run(
        SearchJob(cfg, store, name, searcher, n_trials, space))
    took = time.perf_counter() - t0
    store.set_search_status(name, "completed")
    half = len(stamps) // 2
    late = (stamps[-1] - stamps[half]) / max(1, len(stamps) - 1 - half) * 1000 if len(stamps) > 2 else float("nan")
    print(f"   searcher {searcher_name:<9} {len(stamps)} replayed trials in {took:6.1f} s = "
          f"{1000 * took / max(1, len(stamps)):7.1f} ms per trial (second half: {late:7.1f} ms per trial); "
          f"built in {built:.1f} s")


# ----------------------------------------------------------------------------------------- tune


def trivial_trial(config: dict) -> dict:
    """A Tune trial that trains nothing: the metrics of a finished single-edge trial."""
    return {"val_accuracy": 0.5, "best_val_accuracy": 0.5, "test_accuracy": 0.5, "test_loss": 0.7, "step": 1,
            "epoch": 1.0, "epochs": 1.0, "steps": 1, "wall_time_s": 0.0}


def run_tune(n_trials: int, folder: Path) -> None:
    from ray import tune

    from placement_search.runners.ray_instance import init_ray
    from placement_search.runners.tune_callback import StoreCallback
    from placement_search.store import benchmark_key, open_store

    path = folder / "paper_scale_tune.sqlite"
    cfg = preset_config(6561, path)
    store = open_store(str(path))
    store.ensure_benchmark(benchmark_key(cfg), {})
    store.create_search("tune-trivial", benchmark_key(cfg), "random", n_trials, cfg.to_dict(), {"runner": "tune"})
    space = EdgeSpace(81)
    placements = [str(e) for e in space.edges]
    samples: list[tuple[int, float]] = []
    times: list[tuple[int, float]] = []
    every = max(50, n_trials // 40)

    class Sampler(tune.Callback):
        def __init__(self):
            self.done = 0
            self.t0 = time.perf_counter()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done += 1
            if self.done % every == 0:
                samples.append((self.done, memory()))
                times.append((self.done, time.perf_counter() - self.t0))

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    start = time.perf_counter()
    init_ray(None, cpus=2)
    started = time.perf_counter() - start
    rss0 = memory()
    tuner = tune.Tuner(
        tune.with_resources(trivial_trial, {"cpu": 1}),
        param_space={"placement": tune.choice(placements), "seed": 0},
        tune_config=tune.TuneConfig(num_samples=n_trials, reuse_actors=True),
        run_config=tune.RunConfig(name="paper_scale_tune", storage_path=str(folder / "tune"), verbose=0,
                                  callbacks=[StoreCallback(store.url, "tune-trivial", space, 0), Sampler()]),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    took = time.perf_counter() - start
    errors = sum(r.error is not None for r in grid)
    import ray

    ray.shutdown()
    recorded = len(store.trials_frame("tune-trivial"))
    store.close()
    growth = growth_per_1000(samples)
    first, last = times[0] if times else (0, 0.0), times[-1] if times else (0, 0.0)
    late = (last[1] - first[1]) / max(1, last[0] - first[0]) * 1000
    print(f"-- {n_trials} trivial Tune trials (Ray started in {started:.1f} s, 2 CPUs, loopback, token auth on): "
          f"{took:.1f} s = {1000 * took / n_trials:.1f} ms per trial ({late:.1f} ms per trial over trials "
          f"{first[0]}-{last[0]}); {errors} errored; {recorded} recorded in the store by the StoreCallback")
    print(f"   driver RSS {rss0:.2f} -> {samples[-1][1] if samples else memory():.2f} GiB; growth {growth:+.3f} GiB "
          f"per 1,000 trials (slope after the first 1,000 trials; target <= {TARGET_GROWTH_GIB}): {verdict(growth <= TARGET_GROWTH_GIB)}")


# ----------------------------------------------------------------------------------------- report

CHECK = """<script>window.addEventListener('load', () => {
  const img = Array.from(document.images).find(i => i.src.endsWith('heatmap.png'));
  const r = img.getBoundingClientRect();
  document.title = 'CHECK shown=' + r.width.toFixed(1) + 'x' + r.height.toFixed(1) + ' natural=' + img.naturalWidth +
    'x' + img.naturalHeight + ' images=' + Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length +
    '/' + document.images.length;
});</script>"""


def heatmap_geometry(points: int) -> dict:
    """Where the n x n heatmap's cells and tick labels fall in its PNG (the report's dpi)."""
    import pandas as pd

    from placement_search.analysis.plots import plot_heatmap

    matrix = pd.DataFrame(np.random.default_rng(0).random((points, points)))
    fig = plot_heatmap(matrix, "probe")
    fig.canvas.draw()
    dpi_scale = 110 / fig.dpi
    ax = fig.axes[0]
    box = ax.get_window_extent()
    font_pt = ax.xaxis.get_ticklabels()[0].get_fontsize()
    return {"cell_px": box.width * dpi_scale / points, "tick_px": font_pt * 110 / 72}


def run_report(store_path: Path, folder: Path, edges: int, n_boot: int) -> None:
    from placement_search.analysis.report import write_report

    out = folder / f"report_{edges}"
    start = time.perf_counter()
    write_report(str(store_path), out, n_boot=n_boot)
    took = time.perf_counter() - start
    target = f" (target <= {TARGET_REPORT_S:.0f} s at 2000 resamples): {verdict(took <= TARGET_REPORT_S)}"
    target = target if edges == 6561 and n_boot >= 2000 else " (the target is set at 2000 resamples)" if edges == 6561 else ""
    print(f"-- {edges} edges: report written in {took:.1f} s with {n_boot} bootstrap resamples{target}")
    if CHROMIUM is None:
        print("   heatmap legibility: not checked (no chromium on this machine)")
        return
    page = out / "index.html"
    (out / "check.html").write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--allow-file-access-from-files", f"--user-data-dir={folder / 'chromium'}", "--window-size=1280,1000",
             "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", (out / "check.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = re.search(r"CHECK shown=([\d.]+)x([\d.]+) natural=(\d+)x(\d+) images=(\d+)/(\d+)", dom)
    if not found:
        print(f"   heatmap legibility: no answer from chromium ({dom[:200]!r})")
        return
    shown_w, natural_w = float(found[1]), int(found[3])
    geometry = heatmap_geometry(25 if edges == 625 else 81)
    scale = shown_w / natural_w
    cell, tick = geometry["cell_px"] * scale, geometry["tick_px"] * scale
    legible = cell >= 6 and tick >= 9
    print(f"   heatmap in headless Chromium (1280 px window): shown {found[1]} x {found[2]} CSS px of its "
          f"{found[3]} x {found[4]} px PNG; a cell is {cell:.1f} CSS px, tick labels {tick:.1f} CSS px; "
          f"{found[5]}/{found[6]} images loaded; legible (cell >= 6 px, labels >= 9 px): {legible}")


# ----------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="under 3 minutes: smaller counts, synthetic ViT-g rows")
    parser.add_argument("--only", default="scoring,replay,tune,report", help="comma-separated sections")
    parser.add_argument("--tune-trials", type=int, default=None, help="trivial Tune trials (default 10,000; quick 1,000)")
    parser.add_argument("--keep", default=None, help="write the temporary stores and reports here and keep them")
    parser.add_argument("--child-scoring", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--subset", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_scoring:
        print(json.dumps(scoring_child(args.child_scoring, args.images, args.subset, args.synthetic)))
        return 0
    only = set(args.only.split(","))
    started = time.perf_counter()
    print(f"paper_scale.py{' --quick' if args.quick else ''}: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{len(os.sched_getaffinity(0))} CPUs, torch {torch.__version__}, "
          f"GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}; load average "
          f"{os.getloadavg()[0]:.1f} (the machine is shared: times are only indicative)")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="paper_scale_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if "scoring" in only:
            run_scoring(args.quick)
        stores = {}
        if "replay" in only or "report" in only:
            print("\n== driver: replay of every single edge over a SYNTHETIC ground truth (temporary store) ==",
                  flush=True)
            for edges in (625, 6561):
                stores[edges] = run_replay(edges, folder, 1000 if args.quick and edges == 6561 else None, args.quick)
        if "tune" in only:
            print("\n== driver: trivial Ray Tune trials ==", flush=True)
            run_tune(args.tune_trials or (300 if args.quick else 10_000), folder)
        if "report" in only:
            print("\n== report (analysis/report.py) over the synthetic store ==", flush=True)
            for edges in (625, 6561):
                run_report(stores[edges], folder, edges, 200 if args.quick else 2000)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
