"""Single-edge sweep with and without the frozen-prefix cache, side by side in one run.

A fixed stratified subset of the extended edge space (each type in proportion to its share of the
169 edges, spread over the network) is trained twice with the same recipe and seed: once computing
every point, once reading the plain backbone points the edge leaves unchanged from the cache (its
time includes building the cache). Reports trials per hour for both, the ratio overall and per
edge type, and the largest difference in final accuracy. Targets: ratio >= 2x, accuracies within
0.5 points. Both ways cut text batches to their longest sequence (the default; see padding_trim.py).

    python benchmarks/prefix_cache_sweep.py               # MiniLM-L6 x TREC-6, 32 edges (~27 min on 2 CPUs)
    python benchmarks/prefix_cache_sweep.py --smoke-test  # tiny model, seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._side_by_side import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__, "training.prefix_cache", ("no cache", "cache"), edges=32, smoke_edges=8,
                  min_per_type=3, target=2.0))
