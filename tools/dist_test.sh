#!/usr/bin/env bash
# Evaluate a checkpoint with several processes: tools/dist_test.sh CONFIG CHECKPOINT NPROC
# [test.py options]. Each process evaluates its part of every test experience; the counts
# are summed, so the result equals a 1-process evaluation. PYTHON as in dist_train.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NPROC [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/_launch_env.sh"

"$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
