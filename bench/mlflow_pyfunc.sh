#!/usr/bin/env bash
# `mlflow.pyfunc.load_model("models:/NAME@champion")` and the first
# prediction, against berth hub and against `mlflow server` (SQLite backend,
# artifacts served by the server itself), the same ONNX model registered in
# each through the same mlflow client, on loopback, in one run.
# usage: bench/mlflow_pyfunc.sh [MODEL_ONNX=random_forest_multiclass] [RUNS=15]
# MLflow runs in its own virtualenv with pinned versions (created once under ~/.cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
# BERTH_BIN=path runs that binary instead of building one.
[ -n "${BERTH_BIN:-}" ] || cargo build --release --locked -q -p berth-cli
venv="$HOME/.cache/berth-bench-venv-mlflow"
stamp="$venv/.berth-mlflow-1"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'mlflow==3.17.2' 'onnxruntime==1.31.1'
  touch "$stamp"
fi
model="crates/berth-ml/tests/data/onnx/${1:-random_forest_multiclass}.onnx"
"$venv/bin/python" bench/mlflow_pyfunc.py "${BERTH_BIN:-$CARGO_TARGET_DIR/release/berth}" "$model" "${2:-15}"
