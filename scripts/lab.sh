#!/usr/bin/env bash
# make lab: a local cloud on 127.0.0.1:PORT and JupyterLab whose notebooks' kernel talks to it.
# Usage: scripts/lab.sh <kit python> <lab venv> <port>
set -euo pipefail
kit_python=$1 lab_venv=$2 port=$3
cd "$(dirname "$0")/.."
state=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-dreams-lab.XXXXXX")
cleanup() { kill "$cloud_pid" 2>/dev/null || true; wait "$cloud_pid" 2>/dev/null || true; rm -rf "$state"; }
trap cleanup EXIT INT TERM

"$kit_python" -m localcloud --port "$port" > "$state/cloud.log" 2>&1 &
cloud_pid=$!
for _ in $(seq 100); do grep -q ready "$state/cloud.log" && break; sleep 0.1; done
grep ready "$state/cloud.log" || { cat "$state/cloud.log"; exit 1; }
data_url=$(sed -n 's/.*data at \([^)]*\)).*/\1/p' "$state/cloud.log")

# The notebooks' kernel is the kit's Python (helpers, boto3, pandas); JupyterLab runs from its own venv.
export JUPYTER_DATA_DIR="$state/data" JUPYTER_CONFIG_DIR="$state/config" JUPYTER_RUNTIME_DIR="$state/runtime"
export IPYTHONDIR="$state/ipython" JUPYTER_PATH="$state/data"
"$kit_python" -m ipykernel install --prefix "$state/kernel" --name python3 --display-name "Python 3 (Pipeline Dreams)" > /dev/null
mkdir -p "$state/data/kernels" && cp -r "$state/kernel/share/jupyter/kernels/python3" "$state/data/kernels/"
export PIPELINE_DREAMS_ENDPOINT="http://127.0.0.1:$port" PIPELINE_DREAMS_DATA_URL="$data_url/iris.data"
echo "JupyterLab on the local cloud at $PIPELINE_DREAMS_ENDPOINT; open notebooks/01_bucket.ipynb"
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-root"  # workshop VMs and CI often run as root
# shellcheck disable=SC2086  # LAB_ARGS and root_flag are lists of extra options
"$lab_venv/bin/jupyter" lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=notebooks $root_flag ${LAB_ARGS:-}
