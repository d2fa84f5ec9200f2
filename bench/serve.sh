#!/usr/bin/env bash
# Serving benchmark: berth serve beside FastAPI + uvicorn + scikit-learn and a
# bare hyper server (the HTTP floor), under wrk at 64 connections; then cold
# start for a ~100 MB model: bench/serve.sh [COLD_START_MB=100]
# The Python peers run in the virtualenv bench/venv.sh creates once; wrk comes
# from the Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli -p berth-serve --bin berth --example http_floor
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
. bench/venv.sh
"$PY" bench/serve.py "$CARGO_TARGET_DIR/release/berth" "$CARGO_TARGET_DIR/release/examples/http_floor" "${1:-100}"
