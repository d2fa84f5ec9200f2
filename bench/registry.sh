#!/usr/bin/env bash
# Registry benchmark: create VERSIONS versions of one model, then resolve
# name@alias RESOLVES times — berth on SQLite and on PostgreSQL, and MLflow's
# model registry (SQLite backend) on the same workload, in the same run.
# usage: bench/registry.sh [VERSIONS=10000] [RESOLVES=100000]
# MLflow is much slower; it runs MLFLOW_VERSIONS (1000) and MLFLOW_RESOLVES
# (10000) operations by default, and the table compares rates per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}; M=${2:-100000}
MN=${MLFLOW_VERSIONS:-1000}; MM=${MLFLOW_RESOLVES:-10000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-registry --example registry_bench
BIN="$CARGO_TARGET_DIR/release/examples/registry_bench"
out=$(mktemp); work=$(mktemp -d)
trap 'rm -rf "$work" "$out"' EXIT

"$BIN" "sqlite://$work/registry.db" "$N" "$M" >>"$out"
db="berth_bench_$$"
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
"$BIN" "postgres://postgres@127.0.0.1:5432/$db" "$N" "$M" >>"$out" || true
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE $db WITH (FORCE)"
if python3 -c 'import mlflow' 2>/dev/null; then
  python3 bench/registry_mlflow.py "$MN" "$MM" >>"$out"
else
  echo "(mlflow not installed: pip install mlflow — skipping the MLflow column)" >&2
fi

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
base = {r["phase"]: r for r in rows if r["engine"] == "mlflow-sqlite"}
print(f"{'engine':<14} {'phase':<15} {'ops':>7} {'ops/s':>10} {'p50 us':>9} {'p99 us':>9} {'vs MLflow':>10}")
for r in rows:
    b = base.get(r["phase"])
    ratio = f"{r['ops_per_s'] / b['ops_per_s']:.1f}x" if b and r["engine"] != "mlflow-sqlite" else ""
    print(f"{r['engine']:<14} {r['phase']:<15} {r['ops']:>7} {r['ops_per_s']:>10.1f} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} {ratio:>10}")
PY
