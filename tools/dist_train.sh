#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
# Without CUDA the processes use gloo on the CPU (GPUS is then the number of processes).
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" train.py "$CONFIG" --launcher pytorch "${@:3}"
