"""Text batches cut to their longest sequence against batches padded to max_length, side by side.

TREC questions average 13 tokens of the 32 the task pads to, so most of a padded batch is padding
the attention masks out anyway. With ``training.trim_padding`` (the default) each training batch
runs at its longest question and evaluation batches group questions of similar length. A fixed
stratified subset of single edges is trained both ways (prefix cache off in both, to measure
trimming alone); reports trials per hour, the ratio and the largest accuracy difference.

    python benchmarks/padding_trim.py               # MiniLM-L6 x TREC-6, 8 edges (~8 min on 2 CPUs)
    python benchmarks/padding_trim.py --smoke-test  # tiny model, seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._side_by_side import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__, "training.trim_padding", ("padded", "trimmed"), edges=8, smoke_edges=4,
                  min_per_type=1, also=("training.prefix_cache=false",), smoke_also=("task.max_length=64",)))
