#!/usr/bin/env bash
# A whole validation gate (metrics, drift, stability, range) against a
# pandas/scikit-learn script like the seeds' validate_model.py:
# bench/gate.sh [ROWS=200000]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
. bench/venv.sh
"$PY" bench/gate.py "$CARGO_TARGET_DIR/release/berth" "${1:-200000}"
