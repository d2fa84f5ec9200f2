#!/usr/bin/env bash
# Loading 1M × 20 from CSV and Parquet, berth against pandas: bench/data_load.sh [ROWS=1000000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
. bench/venv.sh
"$PY" bench/data_load.py "$CARGO_TARGET_DIR/release/berth" "${1:-1000000}" "${2:-3}"
