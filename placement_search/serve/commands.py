"""The ``placement-search serve`` sub-command (registered through cli.PLUGINS)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from placement_search.errors import PlacementSearchError
from placement_search.serve.app import DEFAULT_HOST, DEFAULT_PORT


def add_commands(subparsers, handlers: dict) -> None:
    """Add ``serve`` to the CLI's sub-parsers and its function to ``handlers``."""
    p = subparsers.add_parser("serve", help="live pages of a results store in the browser (progress, best so far, "
                                            "heatmap, learning curves), updating while searches run")
    p.add_argument("--store", help="results store: SQLite path or SQLAlchemy URL (default: "
                                   "$PLACEMENT_SEARCH_STORE_URL, else runs/placement_search.sqlite)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default: {DEFAULT_HOST}, this machine only; the pages have no login)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    handlers["serve"] = cmd_serve


def _check_store(value: str | None) -> None:
    """A malformed or unsupported store URL is an error now; a store that is not there yet is not."""
    from placement_search.store import default_store_url, mask_url

    url = default_store_url(value)
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        raise PlacementSearchError(f"malformed results store URL {mask_url(str(value))!r}; use a file path, "
                                   "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    if backend not in ("sqlite", "postgresql"):
        raise PlacementSearchError(f"unsupported results store URL {mask_url(url)}; use SQLite or PostgreSQL")


def cmd_serve(args: argparse.Namespace) -> None:
    from placement_search.serve.app import StoreUnavailable, make_server, serve_forever

    if not 0 <= args.port <= 65535:
        raise PlacementSearchError(f"--port must be from 0 to 65535, got {args.port}")
    _check_store(args.store)
    try:
        server = make_server(args.store, args.host, args.port, quiet=not args.verbose)
    except OSError as exc:
        raise PlacementSearchError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}; "
                                   "choose another --port (0 picks a free one)") from None
    try:
        server.link.data()
        note = ""
    except StoreUnavailable as exc:
        note = f" (not readable yet: {exc}; the pages will show it as soon as it is)"
    print(f"serving {server.link.shown}{note}", flush=True)
    if server.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"warning: bound to {server.host}: anyone who can reach this address can read the store's results",
              file=sys.stderr, flush=True)
    print(f"open {server.url}  (Ctrl-C stops it)", flush=True)
    serve_forever(server)
