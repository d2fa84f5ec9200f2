#!/usr/bin/env bash
# ONNX batch scoring against onnxruntime: bench/onnx_predict.sh [ROWS=1000000]
# The fixtures are committed; the Python peers run in bench/venv.sh's virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli -p berth-ml --example onnx_throughput
. bench/venv.sh
"$PY" bench/onnx_predict.py "$CARGO_TARGET_DIR/release" "${1:-1000000}"
