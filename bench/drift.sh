#!/usr/bin/env bash
# Drift benchmark: berth against Evidently's DataDriftPreset and SciPy, column
# by column: bench/drift.sh [ROWS=1000000]
# The Python peers run in the virtualenv bench/venv.sh creates once.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
. bench/venv.sh
"$PY" bench/drift.py "$CARGO_TARGET_DIR/release/berth" "${1:-1000000}"
