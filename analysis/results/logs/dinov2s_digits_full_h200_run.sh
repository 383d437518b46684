#!/bin/bash
# One device call: the DINOv2-S x digits single-edge sweep on the lent GPU (analysis/sweep_without_ray.py).
# Carried with it (.gpu/, git-ignored): the sqlalchemy, datasets, dill and multiprocess wheels for Python 3.12,
# the backbone weights (matrices in float16), the store planned by sweep_local.py --plan-only, and
# order.txt (the 462 edges outside the CPU sample, trained first). Called as
#   ORDER=.gpu/order.txt WORKERS=14 LIMIT=400 bash run.sh                         (seed 0; the one-search first version of this file)
#   NAMES="dinov2s-digits-gpu-seed1 dinov2s-digits-gpu-seed2" WORKERS=14 LIMIT=210 bash run.sh
set -o pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/*.whl || exit 3
export PYTHONPATH=/tmp/site PLACEMENT_SEARCH_ASSETS=/tmp/assets
nvidia-smi -L; nproc
python3 - <<'PY' || exit 4
import shutil, os, torch, sqlalchemy, datasets, pyarrow, transformers
from safetensors.torch import load_file, save_file
os.makedirs("/tmp/assets/dinov2-s14", exist_ok=True)
half = load_file(".gpu/dinov2_s14_fp16.safetensors")
save_file({k: v.float() for k, v in half.items()}, "/tmp/assets/dinov2-s14/model.safetensors", metadata={"format": "pt"})
shutil.copy(".gpu/dinov2_config.json", "/tmp/assets/dinov2-s14/config.json")
print("torch", torch.__version__, "transformers", transformers.__version__, "datasets", datasets.__version__,
      "pyarrow", pyarrow.__version__, "sqlalchemy", sqlalchemy.__version__, "cuda", torch.cuda.is_available())
import placement_search.experiment, placement_search.runners.local_pool  # noqa: the Ray-free path imports
PY
[ -f "$OUT/digits_gpu.sqlite" ] || cp .gpu/digits_gpu.sqlite "$OUT/"
for n in ${NAMES:-dinov2s-digits-gpu-exhaustive}; do python3 analysis/sweep_without_ray.py --store "sqlite:///$OUT/digits_gpu.sqlite" --name $n \
   --workers "${WORKERS:-12}" ${ORDER:+--order "$ORDER"} --time-limit "${LIMIT:-420}" 2>&1 | tee -a "$OUT/sweep_log.txt"; done
rc=$?
python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('pragma wal_checkpoint(TRUNCATE)')" "$OUT/digits_gpu.sqlite"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
exit $rc
