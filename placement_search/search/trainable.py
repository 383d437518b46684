"""The Ray Tune trainable: one trial trains one placement and reports as it goes.

Runs in a Ray worker process. The backbone and task are loaded once per process
(``loading.load_experiment``) and reused by every later trial on it (``reuse_actors``). Each
validation is reported with a checkpoint of the trainable weights (adapters + head), so schedulers
can stop weak placements early and a retried trial can be exported or inspected; the last report
adds the test metrics. A trial whose placement the search already trained carries ``reuse`` in its
config (put there by the driver) and reports the stored metrics without training.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path

import torch
from ray import tune
from safetensors.torch import save_file

from placement_search.config import config_from_dict
from placement_search.loading import load_experiment
from placement_search.placement.edges import EdgeSpace
from placement_search.search.encoding import decode_placement
from placement_search.training import EvalPoint, train_placement

#: test hook: placements (canonical text, ';'-separated) whose training is made to diverge
INJECT_NAN_ENV = "PLACEMENT_SEARCH_INJECT_NAN"


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a placement's training produced: adapter and head weights (the backbone is frozen)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def _checkpoint(model: torch.nn.Module, meta: dict[str, str]) -> tune.Checkpoint:
    folder = Path(tempfile.mkdtemp(prefix="placement-ckpt-"))
    save_file(trainable_state(model), str(folder / "model.safetensors"), metadata=meta)
    return tune.Checkpoint.from_directory(str(folder))


def run_trial(config: dict, cfg_dict: dict) -> None:
    """Train the placement ``config`` stands for under the search config ``cfg_dict``."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per checkpoint
    cfg = config_from_dict(cfg_dict)
    seed = int(config.get("seed", cfg.training.seed))
    node = socket.gethostname()
    if "reuse" in config:
        reuse = config["reuse"]
        tune.report({**reuse["metrics"], "placement": reuse["placement"], "seed": seed, "reused_from": reuse["of"],
                     "node": node, "done": True})
        return
    torch.set_num_threads(max(1, int(float(os.environ.get("OMP_NUM_THREADS", "1")))))
    backbone, task = load_experiment(cfg)
    space = EdgeSpace(backbone.num_points, tuple(cfg.space.edge_types))
    placement = decode_placement(config, space)
    text = str(placement)
    cfg.training.seed = seed
    if text in os.environ.get(INJECT_NAN_ENV, "").split(";"):
        cfg.adapter.scale = float("nan")
    meta = {"placement": text, "seed": str(seed), "benchmark": cfg.name}
    common = {"placement": text, "seed": seed, "k": len(placement), "node": node}

    def report(point: EvalPoint, model) -> None:
        tune.report({**vars(point), **common}, checkpoint=_checkpoint(model, meta))

    result, model = train_placement(cfg, placement, backbone, task, on_eval=report)
    tune.report({**result.metrics(), **common, "step": result.steps, "done": True},
                checkpoint=_checkpoint(model, meta))
