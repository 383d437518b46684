"""placement-search: where should a small budget of adapters go in a pre-trained transformer?

The Python API mirrors the CLI::

    import placement_search as ps

    cfg = ps.load_config("search_spaces/minilm_trec6.yaml")
    backbone, task = ps.load_experiment(cfg)
    scores = ps.score_edges(backbone, task.train, task.num_classes, cfg.scoring)
    space = ps.EdgeSpace(backbone.num_points)
    placement = ps.gga(scores.mapping(), space, k=2, gamma=0.6)
    result, model = ps.train_placement(cfg, placement, backbone, task)
    summary = ps.run_search(cfg, ps.RunOptions(searcher="gga-tpe", num_samples=8))
    ps.export_search(summary.name, "exported/")
    model = ps.PlacedModelForClassification.from_pretrained("exported/")
    model.predict(["what is the capital of france"], top_k=2)

Names are imported on first use, so ``import placement_search`` stays cheap (Ray loads only when
a search runs).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "PlacementSearchError": "placement_search.errors",
    "Config": "placement_search.config",
    "load_config": "placement_search.config",
    "load_backbone": "placement_search.backbones",
    "load_task": "placement_search.data",
    "load_experiment": "placement_search.experiment",
    "edge_space": "placement_search.experiment",
    "Edge": "placement_search.placement.edges",
    "Placement": "placement_search.placement.edges",
    "EdgeSpace": "placement_search.placement.edges",
    "resolve_placement": "placement_search.placement.selection",
    "gga": "placement_search.placement.selection",
    "Adapter": "placement_search.placement.adapter",
    "PlacedModel": "placement_search.placement.placed_model",
    "train_placement": "placement_search.training",
    "TrainResult": "placement_search.training",
    "score_edges": "placement_search.scoring",
    "EdgeScores": "placement_search.scoring",
    "RunOptions": "placement_search.search.service",
    "run_search": "placement_search.search.service",
    "resume_search": "placement_search.search.service",
    "summarize": "placement_search.search.service",
    "open_store": "placement_search.store",
    "ResultsStore": "placement_search.store",
    "export_search": "placement_search.export.from_search",
    "PlacedModelForClassification": "placement_search.export.hub",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'placement_search' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
