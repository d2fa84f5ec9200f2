#!/usr/bin/env bash
# What watching live traffic costs a server: berth serve with nothing
# recorded, with the live drift window (the default), and with the window and
# every request written to the prediction log; on berth's own model over
# /predict and on an ONNX export over the Open Inference Protocol, under wrk at
# 64 connections: bench/serve_log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
if ! command -v wrk >/dev/null; then
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi
python3 bench/serve_log.py "$CARGO_TARGET_DIR/release/berth"
