#!/usr/bin/env bash
# Training benchmark against scikit-learn and LightGBM (and a forecast): bench/train.sh [ROWS=100000] [FEATURES=20]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
. bench/venv.sh
"$PY" bench/train.py "$CARGO_TARGET_DIR/release/berth" "${1:-100000}" "${2:-20}"
