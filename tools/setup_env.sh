#!/usr/bin/env bash
# One idempotent set-up step: creates .venv/ at the repository root and installs torch 2.14.1 with torchvision
# 0.29.1, mmengine 0.10.7, mmcv 2.1.0 built from source with its ops, mmdet 3.3.0, mmpretrain 1.2.0,
# mmsegmentation 1.2.2, pycocotools, the test and lint tools and this package (editable).
#
# The mmcv wheel takes 20-40 minutes to build on 2 cores; it is built once and cached outside the repository in
# ${MMDET_SCALENET_CACHE:-~/.cache/mmdet-scalenet}. A second run with nothing changed takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CACHE="${MMDET_SCALENET_CACHE:-$HOME/.cache/mmdet-scalenet}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

# mmpretrain imports torchvision, and torchvision's only wheels (PyPI's) link torch's CUDA libraries: so the stack is
# the CUDA build of torch with its matching torchvision. It runs on a CPU-only machine and on a GPU alike.
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMENGINE_VERSION=0.10.7
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
MMPRETRAIN_VERSION=1.2.0
MMSEG_VERSION=1.2.2
# mmengine 0.10.7 imports pkg_resources, which setuptools 81 removes; torch 2.14.1 needs setuptools >= 77.0.3.
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
   && "$VENV/bin/python" -c 'import pkg_resources, mmcv.ops, mmdet, mmpretrain, mmseg, mmdet_scalenet' >/dev/null 2>&1; then
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

step "installing build tools (${BUILD_TOOLS[*]}), torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION"
"${PIP[@]}" install "pip<25" "${BUILD_TOOLS[@]}"
"${PIP[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "$SETUPTOOLS"

WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch-$TORCH_VERSION-$PYTAG-$(uname -m)"
WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$WHEEL" ]]; then
  step "building mmcv $MMCV_VERSION with its ops from source: this takes 20-40 minutes on 2 cores (once; cached in $WHEEL_DIR)"
  mkdir -p "$CACHE"
  BUILD_DIR="$(mktemp -d "$CACHE/build.XXXXXX")"
  # --no-build-isolation: the ops compile against the torch installed above; with isolation they are skipped.
  "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation -d "$BUILD_DIR" "mmcv==$MMCV_VERSION"
  tar -xzf "$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD_DIR"
  SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
  # torch 2.14's headers need C++20; mmcv 2.1.0 asks the compiler for C++17 (its ops compile as C++20 unchanged).
  grep -q -- "-std=c++17" "$SRC/setup.py" || { say "mmcv's setup.py no longer asks for -std=c++17: update this step"; exit 1; }
  sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" wheel --no-deps --no-build-isolation \
    -w "$BUILD_DIR" "$SRC"
  mkdir -p "$WHEEL_DIR"
  BUILT="$(ls "$BUILD_DIR"/mmcv-*.whl)"
  mv "$BUILT" "$WHEEL_DIR/"
  rm -rf "$BUILD_DIR"
  WHEEL="$WHEEL_DIR/$(basename "$BUILT")"
else
  say "using the cached mmcv wheel $WHEEL"
fi

step "installing mmcv $MMCV_VERSION, mmengine $MMENGINE_VERSION, mmdet $MMDET_VERSION, mmpretrain $MMPRETRAIN_VERSION, \
mmsegmentation $MMSEG_VERSION, pycocotools, onnx, pytest, hypothesis, ruff, pre-commit"
# onnx/onnxscript/onnxruntime: tools/export_onnx.py and its round-trip test. ftfy and regex: mmseg imports them
# without declaring them. hypothesis: the property-based tests of the structure loader. ruff and pre-commit: the
# lint step of the test command (.pre-commit-config.yaml).
"${PIP[@]}" install "$WHEEL" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "$SETUPTOOLS" \
  "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" "mmpretrain==$MMPRETRAIN_VERSION" \
  "mmsegmentation==$MMSEG_VERSION" ftfy==6.3.1 regex==2026.11.15 pycocotools \
  onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.31.1 pytest hypothesis==6.170.17 ruff==0.17.6 pre-commit==4.7.0

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
import torchvision
import mmdet, mmpretrain, mmseg, mmdet_scalenet
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
_, keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
assert keep.tolist() == [0], keep
print(f'[setup] torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__} (ops OK), '
      f'mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}, mmseg {mmseg.__version__}, '
      f'mmdet_scalenet {mmdet_scalenet.__version__}')
PY

echo "$WANT" > "$STAMP"
say "done: activate with 'source .venv/bin/activate'"
