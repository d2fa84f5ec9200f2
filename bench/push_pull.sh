#!/usr/bin/env bash
# Push and pull of one large file to the local store, beside the tools that do
# one part of the job: sha256sum and `openssl dgst -sha256` (hashing; openssl
# uses the CPU's SHA extensions, sha256sum does not) and cp (copying), in the
# same run. berth's push hashes, copies and fsyncs; pull copies, verifies and
# fsyncs. Re-push of the unchanged file must take no copy and no re-hash.
# usage: bench/push_pull.sh [SIZE_MIB=1024] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1024}; RUNS=${2:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
cargo build --release -q -p berth-cli
BERTH="$CARGO_TARGET_DIR/release/berth"
work=$(mktemp -d -p "${BENCH_DIR:-/tmp}")
trap 'rm -rf "$work"' EXIT
f="$work/model.bin"
head -c "$((SIZE << 20))" /dev/urandom >"$f"
touch -d '1 minute ago' "$f"
cat "$f" >/dev/null   # every contender reads from the page cache

times=$(mktemp -p "$work")
t() { # label, command...
  local label=$1; shift
  local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
  echo "$label $(echo "$e - $s" | bc -l)" >>"$times"
}
for run in $(seq 1 "$RUNS"); do
  p="$work/p$run"; mkdir -p "$p"
  (cd "$p" && "$BERTH" init -q >/dev/null)
  t sha256sum sha256sum "$f"
  t openssl openssl dgst -sha256 "$f"
  t cp cp "$f" "$work/copy$run"
  t "cp+sync" sh -c "cp '$f' '$work/copy$run.s' && sync '$work/copy$run.s'"
  t "berth push" "$BERTH" -C "$p" push "$f" --model bench -q
  t "berth re-push" "$BERTH" -C "$p" push "$f" --model bench -q
  t "berth pull" "$BERTH" -C "$p" pull bench@1 -o "$work/pulled$run" -q
  rm -rf "$work/copy$run" "$work/copy$run.s" "$work/pulled$run" "$p/.berth/store/blobs"
done

python3 - "$times" "$SIZE" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    label, secs = line.rsplit(" ", 1)
    rows.setdefault(label, []).append(float(secs))
size_mb = int(sys.argv[2]) * 1048576 / 1e6
med = {k: statistics.median(v) for k, v in rows.items()}
print(f"{size_mb / 1000:.2f} GB file, median of {len(next(iter(rows.values())))} runs")
print(f"{'operation':<15} {'seconds':>8} {'MB/s':>8} {'vs sha256sum':>13} {'vs openssl':>11}")
for k in ["sha256sum", "openssl", "cp", "cp+sync", "berth push", "berth re-push", "berth pull"]:
    s = med[k]
    print(f"{k:<15} {s:>8.3f} {size_mb / s:>8.0f} {med['sha256sum'] / s:>12.2f}x {med['openssl'] / s:>10.2f}x")
print("(ratios are throughput relative to the tool: above 1.00x is faster)")
PY
