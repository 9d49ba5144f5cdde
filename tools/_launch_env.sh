# Sourced by dist_train.sh, dist_test.sh and slurm_train.sh (HERE = the tools folder):
# PYTHON defaults to the checkout's .venv interpreter, then python3; torchrun's
# multi-node settings default to one node on this machine.
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python3; fi
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
export PYTHONPATH="$HERE/..":${PYTHONPATH:-}
