#!/usr/bin/env bash
# `mlflow.pyfunc.load_model("models:/NAME@champion")` and the first
# prediction, against berth hub and against `mlflow server` (SQLite backend,
# artifacts served by the server itself), the same ONNX model registered in
# each through the same mlflow client, on loopback, in one run.
# usage: bench/mlflow_pyfunc.sh [MODEL=random_forest_multiclass] [RUNS=15]
# MODEL is a fixture's name, or big:MB for a generated MatMul model of about MB megabytes
# (the large-file path: streamed rather than sent from memory).
# MLflow runs in its own virtualenv with pinned versions (created once under ~/.cache).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
# BERTH_BIN=path runs that binary instead of building one.
[ -n "${BERTH_BIN:-}" ] || cargo build --release --locked -q -p berth-cli
venv="$HOME/.cache/berth-bench-venv-mlflow"
stamp="$venv/.berth-mlflow-2"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'mlflow==3.17.2' 'onnxruntime==1.31.1' 'onnx==1.23.2'
  touch "$stamp"
fi
model="${1:-random_forest_multiclass}"
case "$model" in
  big:*) mb=${model#big:}; model=$(mktemp --suffix=.onnx); trap 'rm -f "$model"' EXIT
         "$venv/bin/python" - "$mb" "$model" <<'PY'
import sys, numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
mb, out = float(sys.argv[1]), sys.argv[2]
cols = 1000
rows = max(1, int(mb * 1e6 / 4 / cols))
w = numpy_helper.from_array(np.random.default_rng(1).normal(size=(rows, cols)).astype("float32"), "W")
g = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "big",
                      [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, rows])],
                      [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, cols])], [w])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), out)
PY
         ;;
  *) model="crates/berth-ml/tests/data/onnx/$model.onnx" ;;
esac
"$venv/bin/python" bench/mlflow_pyfunc.py "${BERTH_BIN:-$CARGO_TARGET_DIR/release/berth}" "$model" "${2:-15}"
