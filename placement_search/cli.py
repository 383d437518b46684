"""The ``placement-search`` command line.

Every sub-command takes a config (a YAML file, or the name of a shipped preset: ``presets`` lists
them) and ``--set section.key=value`` overrides. Bad input exits with code 2 and one line
``error: ...`` naming the problem and the fix: argument errors too (argparse's usage block is left
out; ``--help`` shows it), and every numeric flag of every sub-command is range-checked before a
config is read, Ray starts or a store opens.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

from placement_search.errors import PlacementSearchError
from placement_search.placement.selection import BASELINE_SYNTAX


class UsageError(Exception):
    """A command line argparse cannot parse; main() prints it as one ``error:`` line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors raised as :class:`UsageError` (one line) instead of printed with
    the usage block and exited; sub-command parsers inherit the class."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        raise UsageError(f"{message}; {_store_hint(message)}see `{self.prog} --help`")


def _store_hint(message: str) -> str:
    """Every command names its results store with ``--store``; a store path or URL given bare
    (``placement-search list runs/x.sqlite``) is the likeliest unrecognised argument, so say so."""
    if not message.startswith("unrecognized arguments: "):
        return ""
    for token in message.split(": ", 1)[1].split():
        if "://" in token or token.lower().endswith((".sqlite", ".sqlite3", ".db")):
            return f"a results store is named with --store ({_flag('store')} {token}); "
    return ""


#: integer flags (by argparse dest, in any sub-command, plugins included): (smallest, largest)
INT_FLAGS = {
    "num_samples": (1, None),
    "max_concurrent": (1, None),
    "seed": (0, 2**32 - 1),
    "replay_seeds": (1, None),
    "top": (1, None),
    "k": (1, None),
    "n_boot": (0, None),
    "workers": (1, None),
    "threads": (1, None),
    "port": (0, 65535),
    "top_k": (1, None),
    "max_adapter_params": (1, None),
}
#: float flags: (smallest, largest, whether the largest is allowed)
FLOAT_FLAGS = {"gamma": (0.0, 1.0, False), "max_inference_cost": (1.0, math.inf, False)}


def _flag(dest: str) -> str:
    return "-k" if dest == "k" else "--" + dest.replace("_", "-")


def check_flags(args: argparse.Namespace) -> None:
    """Range-check the numeric flags the parsed command has (see INT_FLAGS / FLOAT_FLAGS)."""
    for dest, (low, high) in INT_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if value < low or high is not None and value > high:
            allowed = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise PlacementSearchError(f"{_flag(dest)} must be {allowed}, got {value}")
    for dest, (low, high, high_ok) in FLOAT_FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if not (math.isfinite(value) and low <= value and (value < high or high_ok and value == high)):
            raise PlacementSearchError(f"{_flag(dest)} must be in [{low:g}, {high:g}{']' if high_ok else ')'}, got {value}")
    for dest in ("out",):  # write targets: refuse the wrong kind of path before any work
        out = getattr(args, dest, None)
        if out is None:
            continue
        wants_folder = args.command in ("export", "analyze")
        if wants_folder and out.exists() and not out.is_dir():
            raise PlacementSearchError(f"--out {out} is a file; {args.command} writes a folder, name a new or existing folder")
        if not wants_folder and out.is_dir():
            example = out / ("metrics.json" if args.command == "train" else "scores.csv")
            raise PlacementSearchError(f"--out {out} is a folder; name the file to write, e.g. {example}")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="search-space YAML or preset name, e.g. minilm_trec6 or my_space.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable), e.g. --set training.epochs=1")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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

    p = sub.add_parser("run", help="run a placement search (Ray Tune or a local process pool), recording every trial")
    _add_config(p)
    p.add_argument("--searcher", help="prior-gp, random, tpe, gga-tpe, nsga2, exhaustive or baseline:NAME "
                   "(default: search.searcher)")
    p.add_argument("--num-samples", type=int, help="number of trials (default: search.num_samples)")
    p.add_argument("--name", help="search name (default: <config name>-<searcher>-<time>)")
    p.add_argument("--store", help="results store: SQLite path or SQLAlchemy URL (default: search.store)")
    p.add_argument("--address", help="Ray cluster address (default: an embedded local Ray instance)")
    p.add_argument("--seed", type=int, help="searcher seed (default: search.seed)")
    p.add_argument("--max-concurrent", type=int, help="cap on trials running at once")
    p.add_argument("--objectives", help="what to optimise: val_accuracy, then any of adapter_params, "
                   "inference_cost (a Pareto front; searchers tpe, nsga2, gga-tpe, random)")
    p.add_argument("--max-adapter-params", type=int, help="never train placements with more adapter parameters")
    p.add_argument("--max-inference-cost", type=float,
                   help="never train placements whose forward costs more than this times the linear probe's")
    p.add_argument("--replay", action="store_true",
                   help="look placements up in the stored exhaustive ground truth instead of training")
    p.add_argument("--train-missing", action="store_true",
                   help="with --replay: train placements the ground truth lacks instead of failing")
    p.add_argument("--replay-seeds", type=int, default=1, metavar="N",
                   help="with --replay: run N searches with searcher seeds seed..seed+N-1")
    p.add_argument("--runner", choices=("tune", "local"), default="tune",
                   help="tune: Ray Tune on an embedded local Ray or --address (default); local: a Ray-free "
                        "process pool on this machine (e.g. several workers sharing one GPU)")
    p.add_argument("--workers", type=int, default=1, help="with --runner local: trials trained at once")
    p.add_argument("--threads", type=int, default=1, help="with --runner local: torch threads per worker")
    p.add_argument("--dashboard", action="store_true",
                   help="serve Ray's dashboard for the embedded Ray instance on 127.0.0.1 (prints its URL; log in "
                        "with the token `ray get-auth-token` prints)")

    p = sub.add_parser("resume", help="finish a search whose driver stopped")
    p.add_argument("name")
    p.add_argument("--store", help="results store (default: runs/placement_search.sqlite)")
    p.add_argument("--address", help="Ray cluster address (default: the one the search used, else local)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run the search's failed trials again (after fixing what made them fail)")

    p = sub.add_parser("list", help="list the searches in a results store")
    p.add_argument("--store", help="results store (default: runs/placement_search.sqlite)")

    p = sub.add_parser("show", help="table of a search's trials, its best placement and regret")
    p.add_argument("name")
    p.add_argument("--store", help="results store (default: runs/placement_search.sqlite)")
    p.add_argument("--top", type=int, default=15, help="rows of the trial table to show")

    sub.add_parser("presets", help="list the shipped presets (a CONFIG argument takes their names)")

    for module in PLUGINS:
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the plugin's package is not part of this installation
            present = False
        if present:
            importlib.import_module(module).add_commands(sub, NO_CONFIG)
    return parser


#: modules that add sub-commands: each has add_commands(subparsers, handlers), registering its
#: parsers and, in ``handlers``, a function(args) per command (commands that take no config)
PLUGINS = ("placement_search.analysis.commands", "placement_search.cluster.commands", "placement_search.serve.commands",
           "placement_search.export.commands")


def _space(cfg):
    """The config's edge space; loads the backbone (memoised) to learn its depth."""
    from placement_search.experiment import cached_backbone, edge_space

    return edge_space(cfg), cached_backbone(cfg.backbone)


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

    from placement_search.scoring import scores_from_frame

    if not path.is_file():
        raise PlacementSearchError(f"scores file {path} does not exist; write it with `placement-search score`")
    frame = pd.read_csv(path)
    missing = {"source", "destination", "rank"} - set(frame.columns)
    if missing:
        raise PlacementSearchError(f"scores file {path} lacks column(s) {', '.join(sorted(missing))}; "
                                   "write it with `placement-search score`")
    return scores_from_frame(frame)


def cmd_train(cfg, args) -> None:
    from placement_search.experiment import load_experiment
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

    def show(point, model, state):
        print(f"  step {point.step:>5}  epoch {point.epoch:5.2f}  train loss {point.train_loss:.4f}  "
              f"val loss {point.val_loss:.4f}  val acc {point.val_accuracy:.4f}", flush=True)

    result, _ = train_placement(cfg, placement, backbone, task, on_eval=show)
    m = result.metrics()
    print(f"placement     {m['placement'] or 'empty'}")
    print(f"trainable     {m['num_trainable_params']} parameters ({m['num_adapter_params']} in adapters)")
    print(f"val accuracy  {m['val_accuracy']:.4f}")
    print(f"test accuracy {m['test_accuracy']:.4f}")
    print(f"wall time     {m['wall_time_s']:.1f} s ({m['train_flops'] / 1e12:.3g} TFLOPs of training and evaluation)")
    print(f"inference     {m['inference_flops'] / 1e9:.3g} GFLOPs per example, {m['inference_cost']:.3f}x the linear probe")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {**m, "curve": [vars(p) for p in result.curve], "config": cfg.to_dict()}
        args.out.write_text(json.dumps(payload, indent=2, default=str))


def cmd_score(cfg, args) -> None:
    from placement_search.experiment import load_experiment

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
        from placement_search.experiment import load_experiment

        backbone, task = load_experiment(cfg)
        table = _score_table(cfg, backbone, task).mapping()
    placement = gga(table, space, k, args.gamma)
    print(placement)


def print_summary(summary, top: int = 15) -> None:
    from placement_search.search.trial_table import trial_table

    print(trial_table(summary.trials, top=top))
    if summary.best_placement is None:
        print(f"search {summary.name}: no completed trial")
        return
    line = f"best placement {summary.best_placement or 'empty'}  val acc {summary.best_val_accuracy:.4f}"
    if summary.test_at_best_val is not None:
        line += f"  test acc {summary.test_at_best_val:.4f}"
    print(line)
    from placement_search.store.reference import standing_line

    standing = standing_line(summary.standing)
    if standing:
        print(standing)
    print(f"search {summary.name} in {summary.store_url}")


def cmd_run(cfg, args) -> None:
    from placement_search.search.service import RunOptions, run_search

    if args.replay_seeds < 1:
        raise PlacementSearchError(f"--replay-seeds must be at least 1, got {args.replay_seeds}")
    if args.replay_seeds > 1 and not args.replay:
        raise PlacementSearchError("--replay-seeds needs --replay (live searches run one seed at a time)")
    if args.runner != "local" and (args.workers != 1 or args.threads != 1):
        raise PlacementSearchError("--workers and --threads are for --runner local; Tune sizes trials with "
                                   "search.cpus_per_trial and search.max_concurrent")
    if args.replay and args.runner == "local":
        raise PlacementSearchError("--replay looks trials up instead of running them; drop --runner local")
    base_seed = args.seed if args.seed is not None else cfg.search.seed
    for offset in range(args.replay_seeds):
        name = args.name
        if name and args.replay_seeds > 1:
            name = f"{name}-s{base_seed + offset}"
        opts = RunOptions(searcher=args.searcher, num_samples=args.num_samples, name=name, store=args.store,
                          address=args.address, replay=args.replay, train_missing=args.train_missing,
                          seed=base_seed + offset, max_concurrent=args.max_concurrent, runner=args.runner,
                          workers=args.workers, threads=args.threads, verbose=0 if args.replay_seeds > 1 else 1,
                          dashboard=args.dashboard, max_adapter_params=args.max_adapter_params,
                          max_inference_cost=args.max_inference_cost,
                          objectives=args.objectives.split(",") if args.objectives else None)
        summary = run_search(cfg, opts)
        if args.replay_seeds == 1:
            print_summary(summary)
        else:
            regret = "n/a" if summary.regret is None else f"{summary.regret:+.4f}"
            print(f"{summary.name}: best {summary.best_placement or 'empty'} val {summary.best_val_accuracy:.4f} regret {regret}")


def cmd_resume(args) -> None:
    from placement_search.search.service import resume_search

    print_summary(resume_search(args.name, args.store, args.address, retry_failed=args.retry_failed))


def cmd_list(args) -> None:
    from placement_search.store import DEFAULT_STORE_PATH, STORE_URL_ENV, open_store

    if args.store is None and not os.environ.get(STORE_URL_ENV) and not Path(DEFAULT_STORE_PATH).is_file():
        print("no searches yet; start one with `placement-search run CONFIG`")
        return
    frame = open_store(args.store, must_exist=True).list_searches()  # reading never creates a store
    if frame.empty:
        print("no searches yet; start one with `placement-search run CONFIG`")
        return
    cols = ["name", "searcher", "status", "trials_done", "trials_failed", "trials_stopped", "num_samples", "best_val_accuracy",
            "test_at_best_val", "best_placement", "created_at"]
    print(frame[[c for c in cols if c in frame.columns]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def cmd_show(args) -> None:
    from placement_search.search.service import summarize
    from placement_search.store import open_store

    print_summary(summarize(open_store(args.store, must_exist=True), args.name), top=args.top)


def cmd_presets(args) -> None:
    from placement_search.config import config_file, load_config, preset_names

    for name in preset_names():
        cfg = load_config(name)
        print(f"{name:26} {cfg.backbone.name} x {cfg.task.name}  ({config_file(name).resolve()})")


COMMANDS = {"space": cmd_space, "train": cmd_train, "score": cmd_score, "gga": cmd_gga, "run": cmd_run}
NO_CONFIG = {"resume": cmd_resume, "list": cmd_list, "show": cmd_show, "presets": cmd_presets}


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        check_flags(args)
        if args.command in NO_CONFIG:
            NO_CONFIG[args.command](args)
        else:
            from placement_search.config import load_config

            cfg = load_config(args.config, args.overrides)
            COMMANDS[args.command](cfg, args)
    except (PlacementSearchError, UsageError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
