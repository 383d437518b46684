#!/usr/bin/env bash
# Regenerates analysis/results/foundation.csv: on each offline backbone, the linear probe against
# the single edge GGA picks from one-pass gradient-rank scores (the engine's end-to-end check).
# About 6 minutes on 2 CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
P=.venv/bin/placement-search
out=$(mktemp -d)
for preset in minilm_trec6 dinov2s_fashion; do
  cfg=search_spaces/$preset.yaml
  $P score "$cfg" --out "$out/$preset-scores.csv" >/dev/null
  edge=$($P gga "$cfg" -k 1 --scores "$out/$preset-scores.csv")
  $P train "$cfg" -p empty --out "$out/$preset-empty.json" >/dev/null
  $P train "$cfg" -p "$edge" --out "$out/$preset-gga1.json" >/dev/null
done
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
import pandas as pd
rows = []
for preset in ("minilm_trec6", "dinov2s_fashion"):
    for kind in ("empty", "gga1"):
        d = json.loads(Path(sys.argv[1], f"{preset}-{kind}.json").read_text())
        rows.append({"preset": preset, "placement": d["placement"] or "empty", "chosen_by": "linear probe" if kind == "empty" else "gga:1",
                     "val_accuracy": d["val_accuracy"], "test_accuracy": d["test_accuracy"],
                     "trainable_params": d["num_trainable_params"], "wall_time_s": round(d["wall_time_s"], 1)})
pd.DataFrame(rows).to_csv("analysis/results/foundation.csv", index=False)
print(pd.DataFrame(rows).to_string(index=False))
PY
