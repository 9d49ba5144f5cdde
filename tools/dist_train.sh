#!/usr/bin/env bash
# Several processes with torchrun + DDP: tools/dist_train.sh CONFIG NPROC [train.py options]
#
# NPROC processes on this node: one per GPU (nccl) or, without CUDA, CPU processes (gloo).
# train_dataloader.batch_size is per process, as in mmengine: the global batch is
# NPROC x batch_size (halve it to keep a 1-process run's global batch on 2 processes).
# Several nodes: run this on every node with NNODES, NODE_RANK and MASTER_ADDR set.
# PYTHON: the interpreter; defaults to the checkout's .venv, then python3.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/_launch_env.sh"

"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "${@:3}"
