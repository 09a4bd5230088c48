#!/usr/bin/env bash
# The main job: set up .venv (idempotent), then run the demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec .venv/bin/python tools/demo.py "$@"
