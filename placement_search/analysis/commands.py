"""The ``placement-search analyze`` sub-command (registered through cli.PLUGINS)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from placement_search.analysis.report import DEFAULT_REPORT_DIR


def add_commands(subparsers, handlers: dict) -> None:
    """Add ``analyze`` to the CLI's sub-parsers and its function to ``handlers``."""
    p = subparsers.add_parser("analyze", help="write an HTML report (heatmaps, rank correlation, regret) of a store")
    p.add_argument("--store", required=True, help="results store: SQLite path or SQLAlchemy URL")
    p.add_argument("--out", type=Path, default=DEFAULT_REPORT_DIR, help=f"report folder (default: {DEFAULT_REPORT_DIR})")
    p.add_argument("--benchmark", metavar="KEY", help="only this benchmark key (default: every key in the store)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for confidence intervals")
    handlers["analyze"] = cmd_analyze


def cmd_analyze(args: argparse.Namespace) -> None:
    from placement_search.analysis.report import write_report

    start = time.perf_counter()
    index = write_report(args.store, args.out, benchmark=args.benchmark, n_boot=args.n_boot)
    print(f"report written to {index} ({time.perf_counter() - start:.1f} s)")
