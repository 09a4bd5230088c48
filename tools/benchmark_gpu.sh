#!/usr/bin/env bash
# The GPU table of docs/benchmark.md (tools/benchmark_gpu.py) on a lent GPU machine: Python 3.12 with a CUDA torch,
# torchvision and Triton, but no OpenMMLab and no network. OpenMMLab travels as wheels in .whl/ (ignored by git):
#
#   bash tools/benchmark_gpu.sh fetch            # here, where pip reaches PyPI, once: fills .whl/ (about 6 MB)
#   bash tools/benchmark_gpu.sh run [OPTIONS]    # there (the device tool's run, carry ['.whl']): writes
#                                                # $OUT/benchmark_gpu.md and $OUT/benchmark_gpu.log
#   bash tools/benchmark_gpu.sh run --dry-run --device cpu --out /tmp/gpu.md   # the plumbing, on CPU (CI)
#
# `run` uses the Python environment as it is when mmdet and mmcv's ops import (this repository's .venv). Otherwise it
# installs .whl/*.whl into $BENCHMARK_GPU_SITE (default /tmp/benchmark_gpu_site) and mmcv 2.1.0's Python sources from
# its sdist there, with scalenet_lab/benchmark/mmcv_ext_shim.py as mmcv's compiled ops (torchvision's roi_align and
# nms: building mmcv's CUDA ops from source takes longer than a lease allows). OPTIONS go to tools/benchmark_gpu.py;
# --out defaults to $OUT/benchmark_gpu.md. $PYTHON: the interpreter (default .venv/bin/python if present, else
# python3).
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=.whl
SITE=${BENCHMARK_GPU_SITE:-/tmp/benchmark_gpu_site}
MMCV_VERSION=2.1.0
# What mmengine, mmdet and mmcv import that the GPU machine's image lacks (KINDS.md of the device tool), pinned to the
# versions of tools/setup_env.sh's environment; mmcv comes as its sdist.
PACKAGES=(mmengine==0.10.7 mmdet==3.3.0 pycocotools==2.0.11 shapely==2.2.0 terminaltables==3.1.10 addict==2.4.0
          yapf==0.43.0 termcolor==3.3.0 platformdirs==4.14.8)
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

say() { echo "[benchmark_gpu.sh] $*" >&2; }

fetch() {
  mkdir -p "$WHEELS"
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
  # Python 3.12 x86-64 wheels, whatever this machine runs (the device tool's README)
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$WHEELS" "${PACKAGES[@]}"
  # the sdist's metadata step imports torch: no build isolation, this environment's torch
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$WHEELS" "mmcv==$MMCV_VERSION"
  say "$(du -sh "$WHEELS" | cut -f1) in $WHEELS/: carry it (run's carry ['.whl'])"
}

install_carried() {
  local sdist="$WHEELS/mmcv-$MMCV_VERSION.tar.gz"
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1 || [[ ! -f "$sdist" ]]; then
    say "mmdet or mmcv's ops do not import with $PYTHON, and $WHEELS/ lacks the wheels or $sdist:"
    say "run 'bash tools/benchmark_gpu.sh fetch' where pip reaches PyPI, and carry .whl"
    exit 2
  fi
  say "installing $WHEELS/*.whl and mmcv $MMCV_VERSION's Python sources into $SITE"
  rm -rf "$SITE"
  mkdir -p "$SITE"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$WHEELS"/*.whl
  tar -xzf "$sdist" -C "$SITE" "mmcv-$MMCV_VERSION/mmcv"
  mv "$SITE/mmcv-$MMCV_VERSION/mmcv" "$SITE/mmcv"
  rm -rf "$SITE/mmcv-$MMCV_VERSION"
  cp scalenet_lab/benchmark/mmcv_ext_shim.py "$SITE/mmcv/_ext.py"
  export PYTHONPATH="$SITE:$PYTHONPATH"
}

run() {
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  if ! "$PYTHON" -c 'import mmdet, mmcv.ops' >/dev/null 2>&1; then
    install_carried
  fi
  "$PYTHON" -c 'import mmcv.ops, mmdet, mmdet_scalenet, scalenet_lab.benchmark' || {
    say "the environment does not import mmcv.ops, mmdet and this repository's packages (above)"
    exit 1
  }
  local args=("$@")
  if [[ " $* " != *" --out "* ]]; then
    args=(--out "${OUT:?set OUT or give --out FILE}/benchmark_gpu.md" "${args[@]}")
  fi
  if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
    PYTHONUNBUFFERED=1 "$PYTHON" tools/benchmark_gpu.py "${args[@]}" 2>&1 | tee "$OUT/benchmark_gpu.log"
  else
    PYTHONUNBUFFERED=1 "$PYTHON" tools/benchmark_gpu.py "${args[@]}"
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  run) shift; run "$@" ;;
  *) say "usage: bash tools/benchmark_gpu.sh fetch | run [tools/benchmark_gpu.py options]"; exit 2 ;;
esac
