#!/usr/bin/env bash
# The test command: set up .venv (idempotent), then run the whole test suite, slow end-to-end tests included.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not slow"` or `-k structure`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec .venv/bin/python -m pytest -rs "$@"
