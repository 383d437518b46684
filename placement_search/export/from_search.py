"""``export_search``: a search's best trial as an export folder (see :mod:`placement_search.export`).

Weights come from the trial's last Tune checkpoint; a trial without one (a replayed trial, or a
checkpoint that was not kept) is retrained with its seed, which reproduces it on CPU. The task is
read (not prepared) for its class names and to learn how its inputs were prepared; the backbone is
loaded to record its source and weights digest. Both describe the backbone and data as they are
at export time, which is the time the folder pins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

from placement_search.config import config_from_dict
from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Placement


def _checkpoint_weights(experiment_path: str | None, trial_key: str) -> dict[str, torch.Tensor] | None:
    if not experiment_path or not Path(experiment_path).is_dir():
        return None
    files = sorted(Path(experiment_path).glob(f"*{trial_key}*/checkpoint_*/model.safetensors"))
    return load_file(str(files[-1])) if files else None


def _missing(value) -> bool:
    return not isinstance(value, (list, dict)) and bool(pd.isna(value))


def export_search(name: str, out: Path, store_url: str | None = None) -> Path:
    """Write the best trial of search ``name`` (the one ``show`` names) to the folder ``out``."""
    from placement_search.experiment import cached_backbone, load_experiment
    from placement_search.export.hub import PlacedModelForClassification
    from placement_search.export.preprocess import preprocessing_spec
    from placement_search.placement.placed_model import PlacedModel
    from placement_search.store import best_trial, open_store
    from placement_search.training import train_placement

    store = open_store(store_url, must_exist=True)
    record = store.get_search(name)
    trials = store.trials_frame(name)
    best = best_trial(trials)  # the trial `show` and the report call best
    if best is None:
        raise PlacementSearchError(f"search {name} has no completed trial to export")
    source = best
    if best["status"] == "reused" and "reused_from" in trials and not _missing(best["reused_from"]):
        source = trials.loc[trials["trial_id"] == best["reused_from"]].iloc[0]
    cfg = config_from_dict(record.config)
    cfg.training.seed = int(best["seed"])
    placement = Placement.parse(best["placement"])
    backbone = cached_backbone(cfg.backbone)
    class_names, preprocessing = preprocessing_spec(cfg, backbone)
    weights = _checkpoint_weights(record.experiment_path, str(source["trial_key"]))
    if weights is None:
        backbone, task = load_experiment(cfg)
        _, model = train_placement(cfg, placement, backbone, task)
        model = model.cpu()
    else:
        model = PlacedModel(backbone, placement, len(class_names), cfg.adapter, cfg.training.recurrent_grad)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("backbone.") for k in missing):
            raise PlacementSearchError(f"the checkpoint of trial {source['trial_key']} does not match placement "
                                       f"{placement}; export cannot use it")
    metrics = {k: (None if _missing(v) else v) for k, v in best.to_dict().items()}
    metrics = json.loads(json.dumps(metrics, default=str))  # numpy scalars, timestamps -> JSON values
    wrapped = PlacedModelForClassification.from_trained(model, cfg, class_names, preprocessing, metrics=metrics)
    card = Path(out) / "README.md"
    if card.is_file() and _is_export(Path(out)):  # re-exporting: the old card describes the old model
        card.unlink()
    wrapped.save_pretrained(out, model_card_kwargs={"path": str(out)})
    return Path(out)


def _is_export(folder: Path) -> bool:
    from placement_search.export.hub import FORMAT

    try:
        return json.loads((folder / "config.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False
