"""Store URLs and database engines: parse, check and connect, one engine per store per process.

Why one engine per process: SQLite's locks are POSIX advisory locks, which belong to the process,
and closing *any* descriptor of the database file drops all of them. A second engine (or a plain
``open()`` of the file to check its header) closed while the first holds locks lets an outside
reader (``show``, the sqlite3 shell) believe it is the last connection, checkpoint the WAL and
delete it; later commits of this process then go to a deleted file and are lost. So every
``ResultsStore`` of a process shares the engine of its database file, and the file is only looked
at (header check) before that engine's first connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from placement_search.errors import PlacementSearchError
from placement_search.store.records import json_dumps

DEFAULT_STORE_PATH = Path("runs") / "placement_search.sqlite"
CONNECT_TIMEOUT_S = 5
#: how long a SQLite writer waits for another writer's lock before giving up
SQLITE_BUSY_TIMEOUT_S = 60
URL_HELP = "use a file path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
#: where a resumed search finds a store password that no file holds (see ``unmask``)
STORE_URL_ENV = "PLACEMENT_SEARCH_STORE_URL"


def default_store_url(config_store: str | os.PathLike | None = None) -> str:
    """The store URL for a config's ``store`` value: a file path or a SQLAlchemy URL.

    Nothing (None / empty) means ``$PLACEMENT_SEARCH_STORE_URL`` when set (a way to give a
    PostgreSQL password without putting it on a command line), else ``runs/placement_search.sqlite``
    under the current directory. A plain path becomes an absolute ``sqlite:///`` URL (Ray workers and resumed drivers may run
    elsewhere). ``postgresql://`` and ``postgres://`` map to the psycopg 3 driver, the one installed.
    """
    text = "" if config_store is None else str(config_store).strip()
    if not text:
        text = os.environ.get(STORE_URL_ENV, "").strip() or str(DEFAULT_STORE_PATH)
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return text


def parse_url(given: str | os.PathLike | None) -> URL:
    """The SQLAlchemy URL of a store value; a malformed one is a one-line error (password masked)."""
    text = default_store_url(given)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # ValueError: e.g. an unclosed IPv6 bracket in the host
        raise PlacementSearchError(f"malformed results store URL {mask_url(str(given))!r}; {URL_HELP}") from None
    if url.password == "***":  # a masked URL from a file or a message: the real one must come from the user
        return make_url(unmask(url.render_as_string(hide_password=True)))
    return url


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``: what may be printed, logged or written."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        text = str(url)
        if "://" in text and "@" in text:  # unparsable: drop everything between scheme and host
            scheme, rest = text.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return text
    return parsed.render_as_string(hide_password=True)


_REAL_URLS: dict[str, str] = {}
_REAL_URLS_LOCK = threading.Lock()


def remember_url(url: URL) -> str:
    """Register the real URL of a store opened in this process; returns its masked form.

    Tune's experiment state, searcher state, the stored config and exports only ever hold the
    masked URL. Whatever the driver opened itself (``run``, ``resume --store URL``) it can unmask.
    """
    masked = url.render_as_string(hide_password=True)
    with _REAL_URLS_LOCK:
        _REAL_URLS[masked] = url.render_as_string(hide_password=False)
    return masked


def unmask(url: str) -> str:
    """The real URL behind a masked one: from this process's open stores, or ``$PLACEMENT_SEARCH_STORE_URL``.

    A URL without a masked password comes back unchanged. A masked one this process never opened
    is an error that says how to give the password again.
    """
    if ":***@" not in url:
        return url
    with _REAL_URLS_LOCK:
        if url in _REAL_URLS:
            return _REAL_URLS[url]
    env = os.environ.get(STORE_URL_ENV)
    if env and mask_url(default_store_url(env)) == url:
        return default_store_url(env)
    raise PlacementSearchError(
        f"the results store {url} needs its password, which placement-search never writes to disk; "
        f"pass the full URL with --store or set {STORE_URL_ENV}"
    )


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A driver error as one short line (psycopg's messages span several)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (resolved), or None for memory / URI databases / servers."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def sqlite_snapshot(path: Path, folder: Path) -> Path:
    """A consistent copy of a SQLite file into ``folder``, its WAL included (a sweep may be writing
    it), read without writing anything beside it. Not for a file this process holds an engine on
    (module doc: closing this connection would drop that engine's locks)."""
    target = folder / path.name
    live = path.with_name(path.name + "-wal").exists()
    # no WAL beside it: nobody is writing it, so read it as immutable (no -shm is created);
    # a WAL: a writer may be at work, so read it with locks, read-only
    query = "mode=ro" if live else "mode=ro&immutable=1"
    source = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?{query}", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    return target


def check_sqlite_path(path: Path, shown: str, must_exist: bool) -> None:
    """Refuse a SQLite path that could not be written (or, ``must_exist``, does not exist) before
    anything touches the disk. Called only before this process's first connection to the file."""
    parent = path.parent
    if must_exist and not path.is_file():
        raise PlacementSearchError(
            f"no results store at {path}; point --store at a store written by `placement-search run` "
            "(a SQLite path or a SQLAlchemy URL)"
        )
    if not parent.exists():
        raise PlacementSearchError(
            f"cannot open results store {shown}: directory {parent} does not exist; "
            f"create it (mkdir -p {parent}) or point the store at an existing directory"
        )
    if not parent.is_dir():
        raise PlacementSearchError(
            f"cannot open results store {shown}: {parent} is not a directory; choose another store path"
        )
    if path.exists() and not path.is_file():
        raise PlacementSearchError(
            f"cannot open results store {shown}: {path} is not a file; choose another store path"
        )
    if path.is_file() and path.stat().st_size > 0:
        # safe: no connection of this process holds locks on the file yet (see the module doc)
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                # SQLite would silently take over a short non-database file
                raise PlacementSearchError(
                    f"cannot open results store {shown}: {path} exists and is not a SQLite database; "
                    "choose another store path"
                )
    writable = os.access(path, os.R_OK | os.W_OK) if path.exists() else os.access(parent, os.W_OK | os.X_OK)
    if not writable or not os.access(parent, os.W_OK | os.X_OK):
        raise PlacementSearchError(
            f"cannot open results store {shown}: {path if path.exists() else parent} is not writable "
            "(SQLite also writes -wal/-shm files beside it); fix the permissions or choose another store path"
        )


def _sqlite_engine(url: URL) -> Engine:
    memory = sqlite_file(url) is None
    engine = create_engine(
        url,
        json_serializer=json_dumps,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record) -> None:
        # take transaction control away from sqlite3 so SQLAlchemy's BEGIN is the real one
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn) -> None:
        # writers take the write lock up front: a read that later upgrades to a write can fail
        # with "database is locked" without waiting, IMMEDIATE waits for the busy timeout
        immediate = conn.get_execution_options().get("placement_search_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _make_engine(url: URL, shown: str) -> Engine:
    """An engine with the per-backend settings: fast connect timeout, SQLite WAL/busy/foreign keys."""
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(url)
        if backend == "postgresql":
            return create_engine(url, json_serializer=json_dumps,
                                 connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, pool_pre_ping=True)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise PlacementSearchError(f"unsupported results store URL {shown} ({one_line(exc)}); {URL_HELP}") from None
    raise PlacementSearchError(f"unsupported results store URL {shown} (backend {backend!r}); {URL_HELP}")


class _Shared:
    """An engine and how many open ResultsStores use it."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.users, self.tables_checked = engine, 0, False


_ENGINES: dict[str, _Shared] = {}
_ENGINES_LOCK = threading.RLock()


def _identity(url: URL) -> str:
    path = sqlite_file(url)
    return f"sqlite:{path}" if path is not None else url.render_as_string(hide_password=False)


def acquire_engine(url: URL, shown: str, *, create_dirs: bool = False, must_exist: bool = False) -> tuple[str, _Shared]:
    """The process's engine for ``url`` (made on first use, after the path checks); pair with release."""
    identity = _identity(url)
    with _ENGINES_LOCK:
        shared = _ENGINES.get(identity)
        if shared is None:
            path = sqlite_file(url)
            if path is not None:
                if create_dirs and not must_exist:
                    path.parent.mkdir(parents=True, exist_ok=True)
                check_sqlite_path(path, shown, must_exist)
            elif url.get_backend_name() == "sqlite" and must_exist and (url.database or ":memory:") == ":memory:":
                raise PlacementSearchError("an in-memory results store holds nothing to read; point --store at a file")
            shared = _Shared(_make_engine(url, shown))
            _ENGINES[identity] = shared
        shared.users += 1
        return identity, shared


def release_engine(identity: str) -> None:
    """Drop one user; the last one disposes the engine (closing its connections the proper way)."""
    with _ENGINES_LOCK:
        shared = _ENGINES.get(identity)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del _ENGINES[identity]
            shared.engine.dispose()


def forget_engine(identity: str) -> None:
    """Dispose an engine whose first use failed (bad server, wrong file), whoever else holds it."""
    with _ENGINES_LOCK:
        shared = _ENGINES.pop(identity, None)
    if shared is not None:
        shared.engine.dispose()
