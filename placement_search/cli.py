"""The ``placement-search`` command line.

Every sub-command takes a config (a YAML file from search_spaces/) and ``--set section.key=value``
overrides. Bad input exits with code 2 and one line ``error: ...`` naming the problem and the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from placement_search.errors import PlacementSearchError
from placement_search.placement.selection import BASELINE_SYNTAX


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="search-space YAML, e.g. search_spaces/minilm_trec6.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set training.epochs=1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="placement-search",
        description="Search where a small budget of adapters should go in a pre-trained transformer.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("space", help="show the points and edges of the config's backbone and edge space")
    _add_config(p)

    p = sub.add_parser("train", help="fine-tune one placement and report validation/test accuracy")
    _add_config(p)
    p.add_argument("--placement", "-p", default=None,
                   help=f"edges or a name: {BASELINE_SYNTAX} (default: gga:K with K = space.k)")
    p.add_argument("--out", type=Path, help="also write the metrics and learning curve as JSON here")

    p = sub.add_parser("score", help="gradient-rank scores of every edge (one pass per batch) to CSV")
    _add_config(p)
    p.add_argument("--out", type=Path, default=None, help="CSV path (default: <config name>_scores.csv)")

    p = sub.add_parser("gga", help="print the GGA placement of K edges")
    _add_config(p)
    p.add_argument("-k", type=int, default=None, help="number of adapters (default: space.k)")
    p.add_argument("--gamma", type=float, default=0.6, help="distance discount (0 = plain top-k)")
    p.add_argument("--scores", type=Path, default=None,
                   help="reuse a CSV written by `score` instead of scoring again")
    return parser


def _space(cfg):
    """The config's edge space; loads the backbone (memoised) to learn its depth."""
    from placement_search.loading import cached_backbone
    from placement_search.placement.edges import EdgeSpace

    backbone = cached_backbone(cfg.backbone)
    return EdgeSpace(backbone.num_points, tuple(cfg.space.edge_types)), backbone


def cmd_space(cfg, args) -> None:
    space, backbone = _space(cfg)
    full = space.num_points**2
    print(f"backbone      {cfg.backbone.name} ({backbone.num_blocks} blocks, d={backbone.hidden_size})")
    print(f"points        {space.num_points} (0 = embeddings, 2k-1 = after attention k, 2k = after MLP k)")
    print(f"edges         {len(space)} of {full} in the extended space")
    for t, c in space.counts_by_type().items():
        print(f"  {t:<12}{c}")
    print(f"adapters (K)  {cfg.space.k}")


def _score_table(cfg, backbone, task):
    from placement_search.scoring import score_edges

    return score_edges(backbone, task.train, task.num_classes, cfg.scoring)


def _scores_from_csv(path: Path):
    import pandas as pd

    from placement_search.placement.edges import Edge

    if not path.is_file():
        raise PlacementSearchError(f"scores file {path} does not exist; write it with `placement-search score`")
    frame = pd.read_csv(path)
    missing = {"source", "destination", "rank"} - set(frame.columns)
    if missing:
        raise PlacementSearchError(f"scores file {path} lacks column(s) {', '.join(sorted(missing))}; "
                                   "write it with `placement-search score`")
    return {Edge(int(r.source), int(r.destination)): float(r.rank) for r in frame.itertuples()}


def cmd_train(cfg, args) -> None:
    from placement_search.loading import load_experiment
    from placement_search.placement.selection import resolve_placement
    from placement_search.training import train_placement

    text = args.placement if args.placement is not None else f"gga:{cfg.space.k}"
    space, _ = _space(cfg)
    if "->" in text:  # reject bad edges before the task is loaded
        space.parse(text)
    backbone, task = load_experiment(cfg)
    placement = resolve_placement(text, space, lambda: _score_table(cfg, backbone, task).mapping())
    print(f"training placement {str(placement) or 'empty'} ({len(placement)} adapters) on "
          f"{task.name}: {len(task.train)} train / {len(task.validation)} val / {len(task.test)} test")

    def show(point, model):
        print(f"  step {point.step:>5}  epoch {point.epoch:5.2f}  train loss {point.train_loss:.4f}  "
              f"val loss {point.val_loss:.4f}  val acc {point.val_accuracy:.4f}", flush=True)

    result, _ = train_placement(cfg, placement, backbone, task, on_eval=show)
    m = result.metrics()
    print(f"placement     {m['placement'] or 'empty'}")
    print(f"trainable     {m['num_trainable_params']} parameters ({m['num_adapter_params']} in adapters)")
    print(f"val accuracy  {m['val_accuracy']:.4f}")
    print(f"test accuracy {m['test_accuracy']:.4f}")
    print(f"wall time     {m['wall_time_s']:.1f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {**m, "curve": [vars(p) for p in result.curve], "config": cfg.to_dict()}
        args.out.write_text(json.dumps(payload, indent=2, default=str))


def cmd_score(cfg, args) -> None:
    from placement_search.loading import load_experiment

    out = args.out or Path(f"{cfg.name}_scores.csv")
    space, _ = _space(cfg)
    backbone, task = load_experiment(cfg)
    frame = _score_table(cfg, backbone, task).to_frame(space)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    summary = frame.groupby("type")["rank"].describe()[["count", "mean", "min", "max"]]
    print(f"rank at rtol={cfg.scoring.rtol:g} by edge type:")
    print(summary.to_string())
    print(f"top edges: {', '.join(f'{r.source}->{r.destination} ({r.rank})' for r in frame.nlargest(5, 'rank').itertuples())}")
    print(f"wrote {len(frame)} edges to {out}")


def cmd_gga(cfg, args) -> None:
    from placement_search.placement.selection import gga

    k = args.k if args.k is not None else cfg.space.k
    space, _ = _space(cfg)
    if k < 1 or k > len(space):
        raise PlacementSearchError(f"K={k} must be between 1 and the {len(space)} edges of the space")
    if args.scores:
        table = _scores_from_csv(args.scores)
    else:
        from placement_search.loading import load_experiment

        backbone, task = load_experiment(cfg)
        table = _score_table(cfg, backbone, task).mapping()
    placement = gga(table, space, k, args.gamma)
    print(placement)


COMMANDS = {"space": cmd_space, "train": cmd_train, "score": cmd_score, "gga": cmd_gga}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from placement_search.config import load_config

        cfg = load_config(args.config, args.overrides)
        COMMANDS[args.command](cfg, args)
    except PlacementSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
