"""Export a search's best placement as a folder anyone can rebuild the trained model from.

    config.yaml          the search config (backbone, task, adapter, training)
    placement.txt        the placement's canonical text
    model.safetensors    adapter and head weights (the backbone comes from its own checkpoint)
    metrics.json         the trial's stored metrics
    rebuild.py           the Python call that rebuilds the model for inference

Weights come from the trial's last Tune checkpoint; a trial without one (a replayed trial, or a
checkpoint that was not kept) is retrained with its seed, which reproduces it on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from placement_search.config import config_from_dict, load_config
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Placement
from placement_search.placement.placed_model import PlacedModel
from placement_search.runners.base import disk_config

REBUILD = '''"""Rebuild the exported placed model (frozen backbone + adapters + head) for inference."""
from pathlib import Path

from placement_search.search.export import load_placed_model

model = load_placed_model(Path(__file__).parent)
# model(inputs) -> class logits; prepare inputs with placement_search.data.load_task or the
# backbone's tokenizer / image preprocessing (model.backbone.input_spec()).
'''


def _checkpoint_weights(experiment_path: str | None, trial_key: str) -> dict[str, torch.Tensor] | None:
    if not experiment_path or not Path(experiment_path).is_dir():
        return None
    files = sorted(Path(experiment_path).glob(f"*{trial_key}*/checkpoint_*/model.safetensors"))
    return load_file(str(files[-1])) if files else None


def export_search(name: str, out: Path, store_url: str | None = None) -> Path:
    from placement_search.experiment import load_experiment
    from placement_search.store import best_trial, open_store
    from placement_search.training import train_placement, trainable_state

    store = open_store(store_url, must_exist=True)
    record = store.get_search(name)
    trials = store.trials_frame(name)
    best = best_trial(trials)  # the trial `show` and the report call best
    if best is None:
        raise PlacementSearchError(f"search {name} has no completed trial to export")
    source = best
    if best["status"] == "reused" and "reused_from" in trials and not pd_isna(best["reused_from"]):
        source = trials.loc[trials["trial_id"] == best["reused_from"]].iloc[0]
    cfg = config_from_dict(record.config)
    cfg.training.seed = int(best["seed"])
    weights = _checkpoint_weights(record.experiment_path, str(source["trial_key"]))
    if weights is None:
        backbone, task = load_experiment(cfg)
        _, model = train_placement(cfg, Placement.parse(best["placement"]), backbone, task)
        weights = trainable_state(model)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(disk_config(cfg), sort_keys=False))
    (out / "placement.txt").write_text(str(best["placement"]) + "\n")
    save_file(weights, str(out / "model.safetensors"), metadata={"placement": str(best["placement"])})
    metrics = {k: (None if pd_isna(v) else v) for k, v in best.to_dict().items()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    (out / "rebuild.py").write_text(REBUILD)
    return out


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value)) if not isinstance(value, (list, dict)) else False


def load_placed_model(folder: str | Path) -> PlacedModel:
    """The exported model: backbone from its checkpoint, adapters and head from model.safetensors."""
    from placement_search.backbones import load_backbone

    folder = Path(folder)
    cfg = load_config(folder / "config.yaml")
    placement = Placement.parse((folder / "placement.txt").read_text().strip())
    weights = load_file(str(folder / "model.safetensors"))
    num_classes = weights["head.weight"].shape[0]
    model = PlacedModel(load_backbone(cfg.backbone), placement, num_classes, cfg.adapter, cfg.training.recurrent_grad)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not k.startswith("backbone.") for k in missing):
        raise PlacementSearchError(f"{folder}/model.safetensors does not match placement {placement}; re-export it")
    return model.eval()
