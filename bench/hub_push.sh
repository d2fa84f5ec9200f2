#!/usr/bin/env bash
# A large push and pull through `berth hub` on loopback beside the same push
# and pull straight into the local store, in one run. Both end in an embedded
# store on the same disk, so the ratio is what the hub's HTTP path costs:
# streaming, hashing on the way in, spooling and the commit. Each push is of
# a file the store lacks, each pull into an empty directory.
# usage: bench/hub_push.sh [SIZE_MIB=1024] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1024}; RUNS=${2:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
# BERTH_BIN=path runs that binary instead of building one.
[ -n "${BERTH_BIN:-}" ] || cargo build --release --locked -q -p berth-cli
BERTH="${BERTH_BIN:-$CARGO_TARGET_DIR/release/berth}"
work=$(mktemp -d -p "${BENCH_DIR:-/tmp}")
hub_pid=
trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"' EXIT
times="$work/times"

# The hub's project, its admin token, and a publisher's token for the client.
(mkdir -p "$work/hub" && cd "$work/hub" && "$BERTH" init -q >/dev/null)
admin=$("$BERTH" -C "$work/hub" hub init)
"$BERTH" -C "$work/hub" hub --addr 127.0.0.1:0 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/hub.log" && break; sleep 0.1; done
url="http://$(sed -n 's/.*listening on http:\/\///p' "$work/hub.log" | head -n1)"
export XDG_CACHE_HOME="$work/cache"
token=$(BERTH_HUB_URL=$url BERTH_TOKEN=$admin "$BERTH" token create --principal bench --role publisher --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

t() { # label, command...
  local label=$1; shift
  local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; e=$(date +%s.%N)
  echo "$label $(echo "$e - $s" | bc -l)" >>"$times"
}
for run in $(seq 1 "$RUNS"); do
  f="$work/model$run.bin"
  head -c "$((SIZE << 20))" /dev/urandom >"$f"
  touch -d '1 minute ago' "$f"
  cat "$f" >/dev/null   # both read from the page cache
  p="$work/local$run"; mkdir -p "$p"
  (cd "$p" && "$BERTH" init -q >/dev/null)
  t "push, local store" "$BERTH" -C "$p" push "$f" --model bench -q
  t "push, through the hub" env BERTH_HUB_URL="$url" BERTH_TOKEN="$token" "$BERTH" push "$f" --model "bench$run" -q
  t "pull, local store" "$BERTH" -C "$p" pull bench@1 -o "$work/pulled-local$run" -q
  t "pull, through the hub" env BERTH_HUB_URL="$url" BERTH_TOKEN="$token" "$BERTH" pull "bench$run@1" -o "$work/pulled-hub$run" -q
  cmp -s "$f" "$work/pulled-hub$run/model$run.bin" || { echo "the pull through the hub differs" >&2; exit 1; }
  rm -rf "$f" "$p" "$work/pulled-local$run" "$work/pulled-hub$run" "$work/cache"
done

python3 bench/ratio_table.py "$times" "$SIZE" file "local store" "through the hub" \
  "(vs local store: throughput relative to the same operation on the local store)" push pull
