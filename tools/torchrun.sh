#!/usr/bin/env bash
# torchrun for tools/dist_train.sh and tools/dist_test.sh: bash tools/torchrun.sh NPROC TOOL [TOOL's arguments]
# Environment, as in mmdet's scripts: NNODES, NODE_RANK, PORT, MASTER_ADDR; PYTHON (default: python).
NPROC=$1
TOOL=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" \
    --master_port="$PORT" "$ROOT/tools/$TOOL" "${@:3}"
