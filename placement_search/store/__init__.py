"""The results store (SQLAlchemy; a SQLite file by default, PostgreSQL on clusters).

Every trial of every search lands here exactly once; resumed searches read back which trials are
done, replay mode looks placements up instead of training, and analysis reads DataFrames.
"""

from placement_search.store.schema import SCHEMA_VERSION, SEARCH_STATUSES, TRIAL_STATUSES
from placement_search.store.store import (
    DEFAULT_STORE_PATH,
    GROUND_TRUTH_SEARCHER,
    ResultsStore,
    SearchRecord,
    TrialRecord,
    default_store_url,
    open_store,
)

__all__ = [
    "DEFAULT_STORE_PATH",
    "GROUND_TRUTH_SEARCHER",
    "SCHEMA_VERSION",
    "SEARCH_STATUSES",
    "TRIAL_STATUSES",
    "ResultsStore",
    "SearchRecord",
    "TrialRecord",
    "default_store_url",
    "open_store",
]
