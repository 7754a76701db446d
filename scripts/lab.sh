#!/usr/bin/env bash
# make lab: a local cloud on 127.0.0.1 and JupyterLab whose notebooks' kernel talks to it.
# Usage: scripts/lab.sh <kit python> <lab venv> [cloud port]   (no port or 0: a free one, not a guessable 5050)
# CLOUD_ARGS: more options for the cloud (split at spaces), e.g. to run your own article-style code:
#   CLOUD_ARGS="--account 111122223333 --image my-repo=src/data --mirror https://host/file.csv=data/file.csv"
set -euo pipefail
kit_python=$1 lab_venv=$2 port=${3:-0}
cd "$(dirname "$0")/.."
state=$(mktemp -d "${TMPDIR:-/tmp}/pipeline-dreams-lab.XXXXXX")
cloud_pid=""
cleanup() {
  if [ -n "$cloud_pid" ]; then kill "$cloud_pid" 2>/dev/null || true; wait "$cloud_pid" 2>/dev/null || true; fi
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# JupyterLab's port: the one LAB_ARGS names, else a free one. The cloud allows that origin (and only it)
# besides its own, so no other web page can call it.
# (JupyterLab refuses an option given twice, so ours are added only when LAB_ARGS lacks them.)
lab_options=()
lab_port=$(sed -n 's/.*--\(ServerApp\.\)\{0,1\}port[= ]\([0-9][0-9]*\).*/\2/p' <<< "${LAB_ARGS:-}")
if [ -z "$lab_port" ]; then
  lab_port=$("$kit_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  lab_options+=("--ServerApp.port=$lab_port")
fi
# No silent move to another port: the cloud allows JupyterLab's origin on this one only.
grep -q 'port_retries' <<< "${LAB_ARGS:-}" || lab_options+=("--ServerApp.port_retries=0")

cloud_args=()
read -r -a cloud_args <<< "${CLOUD_ARGS:-}"  # split at spaces, no globbing
"$kit_python" -m localcloud --port "$port" --exit-with-parent \
  --allow-origin "http://127.0.0.1:$lab_port" --allow-origin "http://localhost:$lab_port" \
  ${cloud_args[@]+"${cloud_args[@]}"} > "$state/cloud.log" 2>&1 &
cloud_pid=$!
# Wait for the real ready line ("localcloud ready at …"; a bare "ready" also matches "Address already in use").
for _ in $(seq 600); do
  grep -q '^localcloud ready at ' "$state/cloud.log" && break
  kill -0 "$cloud_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^localcloud ready at ' "$state/cloud.log"; then
  echo "make lab: the local cloud did not start:" >&2; cat "$state/cloud.log" >&2; exit 1
fi
endpoint=$(sed -n 's/^localcloud ready at \(http:[^ ]*\) .*/\1/p' "$state/cloud.log")
# The cloud answers only its own keys, kept in a runtime file only this user can read: the kernels get them.
keys_file=$(sed -n 's/^localcloud ready at .*; keys in \(.*\)$/\1/p' "$state/cloud.log")
read -r key_id secret < <("$kit_python" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(r["aws_access_key_id"], r["aws_secret_access_key"])' "$keys_file")
export PIPELINE_DREAMS_LOCAL_ACCESS_KEY_ID="$key_id" PIPELINE_DREAMS_LOCAL_SECRET_ACCESS_KEY="$secret"
# Code written for AWS in a kernel (boto3's default session, the SageMaker SDK) reaches the cloud as a script does
# after `eval "$(python -m localcloud env)"`: the same lines, with the kit's region (settings.toml's, or the default)
region=$("$kit_python" -c 'from helpers.config import settings; print(settings(target="local").region)')
eval "$("$kit_python" -m localcloud env --endpoint "$endpoint" --region "$region")"

# The notebooks' kernel is the kit's Python (helpers, boto3, pandas); JupyterLab runs from its own venv.
export JUPYTER_DATA_DIR="$state/data" JUPYTER_CONFIG_DIR="$state/config" JUPYTER_RUNTIME_DIR="$state/runtime"
export IPYTHONDIR="$state/ipython" JUPYTER_PATH="$state/data"
"$kit_python" -m ipykernel install --prefix "$state/kernel" --name python3 --display-name "Python 3 (Pipeline Dreams)" > /dev/null
mkdir -p "$state/data/kernels" && cp -r "$state/kernel/share/jupyter/kernels/python3" "$state/data/kernels/"
# Only where the cloud is: the data URL stays settings.toml's (empty there: the kit asks the cloud for its copy).
export PIPELINE_DREAMS_ENDPOINT="$endpoint"
unset PIPELINE_DREAMS_DATA_URL
echo "local cloud at $PIPELINE_DREAMS_ENDPOINT (refuses web pages other than JupyterLab's, and keys other than its own)"
echo "  your own scripts and the AWS CLI: eval \"\$($kit_python -m localcloud env --endpoint $PIPELINE_DREAMS_ENDPOINT)\""
echo "JupyterLab at http://127.0.0.1:$lab_port; open notebooks/01_bucket.ipynb"
root_flag=""
[ "$(id -u)" -eq 0 ] && root_flag="--allow-root"  # workshop VMs and CI often run as root
# shellcheck disable=SC2086  # LAB_ARGS and root_flag are lists of extra options
"$lab_venv/bin/jupyter" lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=notebooks "${lab_options[@]}" \
  $root_flag ${LAB_ARGS:-}
