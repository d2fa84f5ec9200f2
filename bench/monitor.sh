#!/usr/bin/env bash
# Monitoring benchmark: `berth monitor` over ROWS logged predictions x 12
# features joined with ROWS labels, beside Evidently's DataDriftPreset and
# ClassificationPreset on the same frames: bench/monitor.sh [ROWS=1000000]
# The Python peers run in the virtualenv bench/venv.sh creates once.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
. bench/venv.sh
"$PY" bench/monitor.py "$CARGO_TARGET_DIR/release/berth" "${1:-1000000}"
