"""The results store (SQLAlchemy; a SQLite file by default, PostgreSQL on clusters).

Every trial of every search lands here exactly once; resumed searches read back which trials are
done, replay mode looks placements up instead of training, and analysis reads DataFrames.
"""

from placement_search.store.engine import DEFAULT_STORE_PATH, STORE_URL_ENV, default_store_url, mask_url, unmask
from placement_search.store.ground_truth import GROUND_TRUTH_SEARCHER
from placement_search.store.keys import benchmark_description, benchmark_key, score_description, score_key
from placement_search.store.records import SearchRecord, TrialRecord, error_line
from placement_search.store.schema import (
    CURVE_FIELDS,
    MEASURED_STATUSES,
    METRICS,
    SCHEMA_VERSION,
    SCORED_STATUSES,
    SEARCH_STATUSES,
    TRIAL_STATUSES,
)
from placement_search.store.store import ResultsStore, open_store
from placement_search.store.trials import best_per_search, best_trial

__all__ = [
    "CURVE_FIELDS",
    "DEFAULT_STORE_PATH",
    "GROUND_TRUTH_SEARCHER",
    "MEASURED_STATUSES",
    "METRICS",
    "SCHEMA_VERSION",
    "SCORED_STATUSES",
    "SEARCH_STATUSES",
    "STORE_URL_ENV",
    "TRIAL_STATUSES",
    "ResultsStore",
    "SearchRecord",
    "TrialRecord",
    "benchmark_description",
    "benchmark_key",
    "best_per_search",
    "best_trial",
    "default_store_url",
    "error_line",
    "mask_url",
    "open_store",
    "score_description",
    "score_key",
    "unmask",
]
