#!/usr/bin/env bash
# Rollout benchmark: berth serve with no rollout, a canary at 50%, blue-green
# switched and shadow mirroring, beside nginx splitting 50/50 over two berth
# servers (what teams run instead), under wrk: bench/rollout.sh
# wrk and nginx come from Debian packages (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    apt-get install -y -q "$tool" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$tool" >/dev/null; }
  fi
done
python3 bench/rollout.py "$CARGO_TARGET_DIR/release/berth"
