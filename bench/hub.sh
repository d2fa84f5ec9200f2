#!/usr/bin/env bash
# Hub benchmark: berth hub beside mlflow server (basic-auth app on), each on
# SQLite and on PostgreSQL: create a version, resolve an alias, list the newest
# 100 versions of a model with many versions, at 1 and 16 clients.
# usage: bench/hub.sh [VERSIONS=10000] [MLFLOW_VERSIONS=1000]
# MLflow runs in its own virtualenv with pinned versions (created once under
# ~/.cache); wrk comes from the Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
# BERTH_BIN=path runs that binary instead of building one.
[ -n "${BERTH_BIN:-}" ] || cargo build --release --locked -q -p berth-cli
if ! command -v wrk >/dev/null; then
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi
venv="$HOME/.cache/berth-bench-venv-hub"
stamp="$venv/.berth-hub-3"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'mlflow[auth]==3.17.2' psycopg2-binary==2.9.13 'psycopg[binary]==3.3.9'
  touch "$stamp"
fi
cd bench
"$venv/bin/python" hub.py "${BERTH_BIN:-$CARGO_TARGET_DIR/release/berth}" "${1:-10000}" "${2:-1000}"
