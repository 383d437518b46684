"""The connection every part of the store shares: one engine per database per process, sessions.

``ResultsStore`` (store.py) is this plus one mixin per kind of table; the mixins use only what is
defined here, so each can be read on its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from placement_search.errors import PlacementSearchError
from placement_search.store.engine import (
    acquire_engine,
    forget_engine,
    mask_url,
    one_line,
    parse_url,
    release_engine,
    remember_url,
)
from placement_search.store.migrations import prepare_schema
from placement_search.store.schema import Search


class StoreBase:
    """A connection to one results database (SQLite file or PostgreSQL), tables created if missing.

    An unreachable or invalid URL raises :class:`PlacementSearchError` within a few seconds, with
    the URL (password masked) and the fix, and without creating anything. ``must_exist`` is for
    readers (``list``, ``show``, ``analyze``): a SQLite path that does not exist is an error, never
    a new empty store.
    """

    def __init__(self, url: str | os.PathLike | None, *, create_dirs: bool = False, must_exist: bool = False) -> None:
        given = "" if url is None else str(url)
        parsed = parse_url(url)
        #: the URL as connected, password masked: safe to print, log and write to disk
        self.url = remember_url(parsed)
        shown = mask_url(given) if "://" in given else self.url
        self._identity, shared = acquire_engine(parsed, shown, create_dirs=create_dirs, must_exist=must_exist)
        self.engine = shared.engine
        self._write_engine = self.engine.execution_options(placement_search_write=True)
        self._closed = False
        if shared.tables_checked:
            return
        try:
            prepare_schema(self.engine, self._write_engine, self.url)
            shared.tables_checked = True
        except PlacementSearchError:
            forget_engine(self._identity)
            raise
        except (SQLAlchemyError, OSError) as exc:
            forget_engine(self._identity)
            fix = (
                "check that the directory is writable and the file is a placement-search SQLite store"
                if parsed.get_backend_name() == "sqlite"
                else "check that the server is running and the host, port, user, password and database "
                "in the URL are right"
            )
            raise PlacementSearchError(f"cannot open results store {shown}: {one_line(exc)}; {fix}") from exc

    def close(self) -> None:
        """Give the shared engine back; the process's last user disposes it."""
        if not self._closed:
            self._closed = True
            release_engine(self._identity)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction; on SQLite it holds the write lock from its first statement."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _insert(self, model):
        """INSERT with ON CONFLICT support for the connected back-end."""
        dialect = sqlite_dialect if self.engine.dialect.name == "sqlite" else pg_dialect
        return dialect.insert(model)

    def _search_row(self, session: Session, name: str) -> Search:
        row = session.execute(select(Search).where(Search.name == name)).scalar_one_or_none()
        if row is None:
            raise PlacementSearchError(
                f"no search named {name!r} in the results store {self.url}; "
                "see the stored names with `placement-search list`"
            )
        return row
