#!/usr/bin/env bash
# The test command: set up .venv (idempotent), lint the tree (.pre-commit-config.yaml), then run the whole test suite,
# slow end-to-end tests included. Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not slow"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
# OpenMP threads that spin while waiting stall every parallel region when other jobs share the cores (measured: a
# ScaleNet forward 10-50x slower); sleeping waits cost nothing measurable on an idle machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
echo "[lint] pre-commit run --all-files"
PATH="$ROOT/.venv/bin:$PATH" PRE_COMMIT_HOME="${PRE_COMMIT_HOME:-$HOME/.cache/pre-commit}" \
  .venv/bin/pre-commit run --all-files --show-diff-on-failure
exec .venv/bin/python -m pytest -rs "$@"
