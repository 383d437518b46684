"""CLI: ``export NAME --out FOLDER`` and ``predict EXPORT INPUT... [--top-k N] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

#: characters of an input shown in the prediction table
SHOWN = 60


def add_commands(sub, handlers: dict) -> None:
    p = sub.add_parser("export", help="export a search's best placement as a from_pretrained model folder")
    p.add_argument("name")
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument("--store", help="results store (default: runs/placement_search.sqlite)")
    handlers["export"] = cmd_export

    p = sub.add_parser("predict", help="classify raw texts or image files with an exported model")
    p.add_argument("export", help="export folder (written by `placement-search export`) or a hub repo id")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="texts (text models) or image file paths (image models)")
    p.add_argument("--top-k", type=int, default=1, help="most probable labels to show per input (at most all labels)")
    p.add_argument("--json", action="store_true", help="print JSON: [{input, predictions: [{label, probability}]}]")
    handlers["predict"] = cmd_predict


def cmd_export(args) -> None:
    from placement_search.export.from_search import export_search

    out = export_search(args.name, args.out, args.store)
    print(f"exported to {out}; load it with PlacedModelForClassification.from_pretrained({str(out)!r}) "
          f"or `placement-search predict {out} INPUT...`")


def cmd_predict(args) -> None:
    from placement_search.errors import PlacementSearchError
    from placement_search.export.hub import PlacedModelForClassification

    model = PlacedModelForClassification.from_pretrained(args.export)
    if model.config["preprocessing"].get("text_pair"):
        raise PlacementSearchError(f"{args.export} classifies text pairs and predict takes single texts; use "
                                   "PlacedModelForClassification.predict(texts, pairs=second_texts) in Python")
    results = model.predict(args.inputs, top_k=args.top_k)
    if args.json:
        print(json.dumps([{"input": text, "predictions": [{"label": label, "probability": p} for label, p in preds]}
                          for text, preds in zip(args.inputs, results)], indent=2))
        return
    print(prediction_table(args.inputs, results))


def prediction_table(inputs: list[str], results: list[list[tuple[str, float]]]) -> str:
    """One row per input and label: input (first row only, cut to SHOWN characters), label, probability."""
    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"

    rows = [(cut(text) if rank == 0 else "", label, f"{p:.4f}")
            for text, preds in zip(inputs, results) for rank, (label, p) in enumerate(preds)]
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(("input", "label", "probability"))]
    lines = [f"{'input':<{widths[0]}}  {'label':<{widths[1]}}  {'probability':>{widths[2]}}"]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    return "\n".join(line.rstrip() for line in lines)
