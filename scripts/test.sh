#!/usr/bin/env bash
# Run the test suite: the fast tests, then the slow real-model tests (real pre-trained backbones
# and data) when PLACEMENT_SEARCH_FAST is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# lint first: seconds, and the settings live in pyproject.toml ([tool.ruff])
.venv/bin/ruff check placement_search tests benchmarks analysis
if [ -n "${PLACEMENT_SEARCH_FAST:-}" ]; then
  exec "$PY" -m pytest -q -m "not slow" "$@"
fi
exec "$PY" -m pytest -q "$@"
