#!/usr/bin/env bash
# Serving benchmark: berth serve beside FastAPI + uvicorn + scikit-learn and a
# bare hyper server (the HTTP floor), under wrk at 64 connections; then cold
# start for a ~100 MB model: bench/serve.sh [COLD_START_MB=100]
# The Python peer runs in its own virtualenv with pinned versions (created
# once under ~/.cache); wrk comes from the Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
cargo build --release -q -p berth-serve --example http_floor

if ! command -v wrk >/dev/null; then
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi

venv="$HOME/.cache/berth-bench-venv-serve"
stamp="$venv/.berth-serve-1"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q fastapi==0.165.0 'uvicorn[standard]==0.54.0' scikit-learn==1.9.1 joblib==1.6.0 \
    pandas==3.1.1 numpy==2.4.6
  touch "$stamp"
fi

"$venv/bin/python" bench/serve.py "$CARGO_TARGET_DIR/release/berth" "$CARGO_TARGET_DIR/release/examples/http_floor" \
  "${1:-100}"
