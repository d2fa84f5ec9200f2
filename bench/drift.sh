#!/usr/bin/env bash
# Drift benchmark: berth against Evidently's DataDriftPreset and SciPy, column
# by column: bench/drift.sh [ROWS=1000000]
# Evidently 0.7 needs pandas < 3, so the Python side runs in its own venv
# (created once under ~/.cache/berth-bench-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
venv="$HOME/.cache/berth-bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'pandas<3' evidently==0.7.23 scipy pyarrow scikit-learn joblib
fi
cargo build --release -q -p berth-cli
"$venv/bin/python" bench/drift.py "$CARGO_TARGET_DIR/release/berth" "${1:-1000000}"
