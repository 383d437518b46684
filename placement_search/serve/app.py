"""The HTTP server of ``placement-search serve``: stdlib ``ThreadingHTTPServer``, read-only.

Routes::

    /                    every search: progress, elapsed, ETA, best so far, regret, percentile
    /search/NAME         one search: trial table, single-edge heatmap, learning curves, placements
    /api/searches        the index's JSON          (503 {"error": ...} while the store is unreachable)
    /api/search/NAME     a search page's JSON      (404 {"error": ...} for an unknown name)

The store is opened with ``must_exist=True`` on the first request that needs it (so ``serve`` can
start before the first search creates the default store) and kept open: one engine for the whole
process, as the store requires. The server never writes to it. When it cannot be reached the
pages keep their last data and say so; they recover by themselves when it is back.

Binds 127.0.0.1 by default. Requests whose Host header names something else than the address
served are refused (a web page elsewhere cannot read the store through DNS rebinding); bound to
a non-loopback address on purpose, any Host is accepted.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from placement_search.errors import PlacementSearchError
from placement_search.serve.data import LiveData, plain
from placement_search.serve.pages import index_page, message_page, search_page
from placement_search.store import ResultsStore, default_store_url, mask_url, open_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8767
#: how often a store that could not be opened is tried again (at most)
REOPEN_EVERY_S = 1.0
#: what browsers may load: nothing but this page's own inline code and its own API
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class StoreUnavailable(Exception):
    """The store cannot be opened or read right now (its one-line reason is the message)."""


def _one_line(exc: BaseException, limit: int = 300) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StoreLink:
    """The server's one connection to the store: opened when first needed, retried after a failure."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.shown = mask_url(default_store_url(url))
        self._lock = threading.Lock()
        self._data: LiveData | None = None
        self._store: ResultsStore | None = None
        self._tried_at = -1e9
        self._why = ""

    def data(self) -> LiveData:
        with self._lock:
            if self._data is not None:
                return self._data
            if time.monotonic() - self._tried_at < REOPEN_EVERY_S:
                raise StoreUnavailable(self._why)
            self._tried_at = time.monotonic()
            try:
                store = open_store(self.url, must_exist=True)
            except PlacementSearchError as exc:
                self._why = " ".join(str(exc).split())
                raise StoreUnavailable(self._why) from None
            self._store, self._data = store, LiveData(store)
            self.shown = store.url
            return self._data

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._data = None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LiveServer(ThreadingHTTPServer):
    """The server: ``url`` is what to open; ``link`` its store connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, link: StoreLink, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, quiet: bool = True) -> None:
        self.link = link
        self.quiet = quiet
        family_host = host.strip("[]")
        if ":" in family_host:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__((family_host, port), Handler)
        self.host = family_host

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def host_allowed(self, header: str | None) -> bool:
        if not _is_loopback(self.host):
            return True  # served on a real interface on purpose: any name may reach it
        if not header:
            return True  # HTTP/1.0 clients send none; a browser always does
        name = header.rsplit(":", 1)[0] if not header.endswith("]") else header
        return _is_loopback(name.strip("[]")) or name.strip("[]") == self.host

    def server_close(self) -> None:
        super().server_close()
        self.link.close()


class Handler(BaseHTTPRequestHandler):
    server: LiveServer
    server_version = "placement-search-serve"
    protocol_version = "HTTP/1.1"
    #: an idle keep-alive connection is closed after this many seconds (it holds a thread)
    timeout = 60

    # ------------------------------------------------------------------------- plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: str, content_type: str) -> None:
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, status: int, value: Any) -> None:
        try:
            body = json.dumps(value, allow_nan=False)
        except ValueError:  # a NaN that slipped through: null, as everywhere else
            body = json.dumps(plain(value), allow_nan=False)
        self._send(status, body, "application/json; charset=utf-8")

    def _html(self, status: int, body: str) -> None:
        self._send(status, body, "text/html; charset=utf-8")

    def _not_found(self, api: bool, what: str) -> None:
        shown = self.server.link.shown
        if api:
            self._json(HTTPStatus.NOT_FOUND, {"error": what})
        else:
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", what, shown))

    # --------------------------------------------------------------------------- routes

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if not self.server.host_allowed(self.headers.get("Host")):
            self._html(HTTPStatus.MISDIRECTED_REQUEST,
                       message_page("Wrong host", "this server answers only requests addressed to its loopback address"))
            return
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path in ("/", "/index.html"):
                self._html(HTTPStatus.OK, index_page(self._live().overview()))
            elif path == "/api/searches":
                self._json(HTTPStatus.OK, self._live().overview())
            elif path.startswith("/api/search/"):
                self._search(urllib.parse.unquote(path[len("/api/search/"):]), api=True)
            elif path.startswith("/search/"):
                self._search(urllib.parse.unquote(path[len("/search/"):]), api=False)
            elif path == "/favicon.ico":
                self.send_response(HTTPStatus.NO_CONTENT)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._not_found(path.startswith("/api/"), f"no page at {path}; the searches are listed at /")
        except StoreUnavailable as exc:
            self._unavailable(path, str(exc))
        except (SQLAlchemyError, OSError) as exc:
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                return  # the browser went away mid-answer
            self._unavailable(path, _one_line(exc))

    def _live(self) -> LiveData:
        return self.server.link.data()

    def _search(self, name: str, api: bool) -> None:
        live = self._live()
        unknown = f"no search named {name!r} in the results store {live.store.url}; the searches are listed at /"
        if not name or not live.has_search(name):
            self._not_found(api, unknown)
            return
        try:
            data = live.search(name)
        except PlacementSearchError:  # deleted between the two reads
            self._not_found(api, unknown)
            return
        if api:
            self._json(HTTPStatus.OK, data)
        else:
            self._html(HTTPStatus.OK, search_page(name, data))

    def _unavailable(self, path: str, why: str) -> None:
        message = f"results store {self.server.link.shown} is unreachable: {why}"
        if path.startswith("/api/"):
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": message})
        elif path.startswith("/search/"):
            name = urllib.parse.unquote(path[len("/search/"):])
            self._html(HTTPStatus.SERVICE_UNAVAILABLE, search_page(name, {"error": message}))
        else:
            self._html(HTTPStatus.SERVICE_UNAVAILABLE, index_page({"error": message}))


def make_server(store: str | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                quiet: bool = True) -> LiveServer:
    """A bound (not yet serving) server; ``port=0`` picks a free port (``server.port``)."""
    return LiveServer(StoreLink(store), host, port, quiet)


def serve_forever(server: LiveServer, out=sys.stdout) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt), then close the socket and the store."""
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("stopped", file=out, flush=True)
    finally:
        server.server_close()
