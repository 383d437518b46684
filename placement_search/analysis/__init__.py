"""Analysis of a results store: ground-truth maps, rank-accuracy correlation, searcher regret, report.

Every function takes and returns pandas DataFrames (``load_results`` is the only one that reads a
store), so the same code serves the ``analyze`` command, notebooks and tests.
"""

from placement_search.analysis.correlation import cross_task_correlation, rank_accuracy_correlation
from placement_search.analysis.fidelity import (
    benchmark_headroom,
    first_epoch_accuracy,
    probe_headroom,
    stopping_headroom,
)
from placement_search.analysis.maps import (
    edge_type_breakdown,
    map_structure,
    shared_top_edges,
    single_edge_heatmap,
    top_edges,
    top_fraction_edges,
    transfer_regret,
)
from placement_search.analysis.plots import plot_edge_type_box, plot_heatmap, plot_rank_vs_accuracy, plot_regret
from placement_search.analysis.regret import (
    hits,
    median_ratio_ci,
    near_best_threshold,
    optimum,
    regret_compute_summary,
    regret_curves,
    regret_summary,
    target_summary,
    top_fraction_threshold,
    trials_to_top_fraction,
)
from placement_search.analysis.report import write_report
from placement_search.analysis.results import Results, largest_per_key, load_results, matching_score_keys

__all__ = [
    "Results",
    "load_results",
    "largest_per_key",
    "matching_score_keys",
    "rank_accuracy_correlation",
    "cross_task_correlation",
    "single_edge_heatmap",
    "top_edges",
    "transfer_regret",
    "shared_top_edges",
    "top_fraction_edges",
    "map_structure",
    "edge_type_breakdown",
    "optimum",
    "regret_curves",
    "regret_summary",
    "top_fraction_threshold",
    "trials_to_top_fraction",
    "near_best_threshold",
    "hits",
    "median_ratio_ci",
    "target_summary",
    "regret_compute_summary",
    "first_epoch_accuracy",
    "benchmark_headroom",
    "probe_headroom",
    "stopping_headroom",
    "plot_heatmap",
    "plot_rank_vs_accuracy",
    "plot_regret",
    "plot_edge_type_box",
    "write_report",
]
