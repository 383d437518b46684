"""The results store: every trial of every search, keyed so searches resume and compare.

Runners write each finished trial once (``record_trials``); the unique ``(search, trial_key)``
pair makes that write exactly-once under retries, resumes and concurrent writers. Reads return
pandas DataFrames for the analysis layer. The default is one SQLite file (WAL mode, so readers in
other processes see rows as they land and never block the writer); a cluster points every driver
at one PostgreSQL database instead (SQLite over a network file system is not safe).

The parts: engine.py (URLs, checks, one engine per process), migrations.py (schema versions),
records.py (row values and frames), and one mixin per kind of table: searches.py, trials.py,
ground_truth.py, scores.py. Keys that say which results compare live in keys.py.
"""

from __future__ import annotations

import os

from placement_search.store.ground_truth import GroundTruthMixin
from placement_search.store.scores import ScoresMixin
from placement_search.store.searches import SearchesMixin


class ResultsStore(SearchesMixin, GroundTruthMixin, ScoresMixin):
    """A connection to one results database; see the mixins for what it reads and writes."""


def open_store(store: str | os.PathLike | None = None, *, must_exist: bool = False) -> ResultsStore:
    """Open the config's store (path or URL); the default file's ``runs/`` directory is created.

    ``must_exist``: for commands that only read (``list``, ``show``, ``export``, ``analyze``,
    ``resume``), a SQLite file that is not there is an error instead of a new empty store.
    """
    return ResultsStore(store, create_dirs=not store, must_exist=must_exist)
