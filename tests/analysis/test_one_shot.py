"""analysis/one_shot.py: the supernet's per-edge signals on the tiny model."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "analysis"))

import one_shot as osh  # noqa: E402

from placement_search.config import load_config  # noqa: E402
from placement_search.experiment import edge_space, load_experiment  # noqa: E402
from placement_search.placement.edges import Edge  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config(ROOT / "search_spaces/tiny.yaml")
    cfg.training.epochs = 1
    return cfg, *load_experiment(cfg)


def test_every_edge_gets_every_signal_and_switching_one_off_moves_the_loss(tiny):
    cfg, backbone, task = tiny
    frame = osh.supernet_signals(cfg, backbone, task)
    assert sorted(frame["placement"]) == sorted(f"{e.source}->{e.destination}" for e in edge_space(cfg).edges)
    assert np.isfinite(frame[list(osh.SIGNALS)].to_numpy()).all()
    assert (frame["drop_loss"].abs() > 0).any() and (frame["weight_norm"] > 0).all()


def test_adapters_that_never_trained_cost_nothing_to_switch_off(tiny):
    cfg, backbone, task = tiny
    cfg = replace(cfg, training=replace(cfg.training, lr=0.0, head_lr=0.05))  # only the head trains
    frame = osh.supernet_signals(cfg, backbone, task)
    assert (frame[["drop_accuracy", "drop_loss", "output_norm", "weight_norm"]] == 0).all().all()


def test_the_spearman_table_reads_each_signal_against_the_map():
    frame = pd.DataFrame({"placement": ["0->1", "1->2", "2->0", "1->1"], **{s: [1.0, 2.0, 3.0, 4.0] for s in osh.SIGNALS}})
    frame["drop_loss"] = -frame["drop_loss"]
    accuracy = {Edge.parse(p): a for p, a in zip(frame["placement"], [0.1, 0.2, 0.3, 0.4], strict=True)}
    got = osh.spearman_table(frame, accuracy).set_index("signal")["spearman"]
    assert got["drop_accuracy"] == pytest.approx(1.0) and got["drop_loss"] == pytest.approx(-1.0)
