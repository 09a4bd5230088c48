#!/usr/bin/env bash
# One idempotent set-up step: creates .venv/ at the repository root and installs torch 2.13.0 (CPU),
# mmengine 0.10.7, mmcv 2.1.0 built from source with its ops, mmdet 3.3.0, pycocotools and this package (editable).
#
# The mmcv wheel takes 20-40 minutes to build on 2 cores; it is built once and cached outside the repository in
# ${MMDET_SCALENET_CACHE:-~/.cache/mmdet-scalenet}. A second run with nothing changed takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CACHE="${MMDET_SCALENET_CACHE:-$HOME/.cache/mmdet-scalenet}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

TORCH_VERSION=2.13.0
MMENGINE_VERSION=0.10.7
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
# mmengine 0.10.7 imports pkg_resources, which setuptools 81 removes; torch 2.13.0 needs setuptools >= 77.0.3.
# The pin goes into every install: pip would otherwise upgrade setuptools to satisfy torch's requirement.
SETUPTOOLS="setuptools>=77.0.3,<81"
BUILD_TOOLS=("$SETUPTOOLS" wheel ninja psutil numpy)

STEP="starting"
say() { printf '[setup] %s\n' "$*"; }
step() { STEP="$1"; say "$1"; }
trap 'status=$?; printf "[setup] FAILED while: %s (exit %s). Read the messages above; fix and re-run %s.\n" \
      "$STEP" "$status" "tools/setup_env.sh" >&2' ERR

# Everything that decides what gets installed: a change to any of it re-runs the installs.
fingerprint() {
  { cat "$ROOT/tools/setup_env.sh" "$ROOT/setup.py"; "$PYTHON" --version; uname -m; } | sha256sum | cut -d' ' -f1
}
STAMP="$VENV/.mmdet-scalenet-setup"
WANT="$(fingerprint)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] \
   && "$VENV/bin/python" -c 'import pkg_resources, mmcv.ops, mmdet, mmdet_scalenet' >/dev/null 2>&1; then
  say "environment in .venv is up to date"
  exit 0
fi

step "checking Python ($PYTHON)"
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 8), sys.version' \
  || { say "Python >= 3.8 is needed (3.11 recommended); set PYTHON=/path/to/python3.11"; exit 1; }
PYTAG="$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"

if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating .venv"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

step "installing build tools (${BUILD_TOOLS[*]}) and torch $TORCH_VERSION (CPU)"
"${PIP[@]}" install "pip<25" "${BUILD_TOOLS[@]}"
"${PIP[@]}" install "torch==$TORCH_VERSION" "$SETUPTOOLS"

WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch-$TORCH_VERSION-$PYTAG-$(uname -m)"
WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$WHEEL" ]]; then
  step "building mmcv $MMCV_VERSION with its ops from source: this takes 20-40 minutes on 2 cores (once; cached in $WHEEL_DIR)"
  mkdir -p "$CACHE"
  BUILD_DIR="$(mktemp -d "$CACHE/build.XXXXXX")"
  # --no-build-isolation: the ops compile against the torch installed above; with isolation they are skipped.
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" wheel --no-deps --no-build-isolation \
    -w "$BUILD_DIR" "mmcv==$MMCV_VERSION"
  mkdir -p "$WHEEL_DIR"
  BUILT="$(ls "$BUILD_DIR"/mmcv-*.whl)"
  mv "$BUILT" "$WHEEL_DIR/"
  rm -rf "$BUILD_DIR"
  WHEEL="$WHEEL_DIR/$(basename "$BUILT")"
else
  say "using the cached mmcv wheel $WHEEL"
fi

step "installing mmcv $MMCV_VERSION, mmengine $MMENGINE_VERSION, mmdet $MMDET_VERSION, pycocotools, pytest, onnx"
# onnx/onnxscript/onnxruntime: tools/export_onnx.py and its round-trip test.
"${PIP[@]}" install "$WHEEL" "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" "$SETUPTOOLS" pycocotools pytest \
  onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.31.1

step "installing mmdet_scalenet (editable)"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"

step "checking that mmcv's compiled ops load"
"$VENV/bin/python" - <<'PY'
import warnings
with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # its own deprecation notice
    import pkg_resources  # noqa: F401  (mmengine needs it at run time: setuptools < 81)
import torch
import mmcv
from mmcv.ops import nms
import mmdet, mmdet_scalenet
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
_, keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
assert keep.tolist() == [0], keep
print(f'[setup] torch {torch.__version__}, mmcv {mmcv.__version__} (ops OK), mmdet {mmdet.__version__}, '
      f'mmdet_scalenet {mmdet_scalenet.__version__}')
PY

echo "$WANT" > "$STAMP"
say "done: activate with 'source .venv/bin/activate'"
