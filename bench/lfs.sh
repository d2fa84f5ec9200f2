#!/usr/bin/env bash
# `git lfs push` of a large file through the hub's Git LFS server on loopback
# beside the same push into a local bare repository's LFS storage (a file://
# LFS URL, which git lfs serves with its standalone file transfer), and
# `git lfs fetch` of it back from each, in one run. Each push is of an object
# the destination lacks (a new model on the hub, a new bare repository), each
# fetch into a clone that lacks it. Both destinations are on the same disk,
# so the ratio is what the hub's HTTP path costs: streaming, hashing on the
# way in, the store's write, the registry's record, verifying on the way out.
# usage: bench/lfs.sh [SIZE_MIB=200] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-200}; RUNS=${2:-3}
command -v git-lfs >/dev/null || { echo "git lfs is not installed: apt-get install -y git-lfs" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
# BERTH_BIN=path runs that binary instead of building one.
[ -n "${BERTH_BIN:-}" ] || cargo build --release --locked -q -p berth-cli
BERTH="${BERTH_BIN:-$CARGO_TARGET_DIR/release/berth}"
work=$(mktemp -d -p "${BENCH_DIR:-/tmp}")
hub_pid=
trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"' EXIT
times="$work/times"

# Git with a home of its own: the machine's git config is never read or written.
export HOME="$work/home" GIT_CONFIG_GLOBAL="$work/home/gitconfig" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name bench; git config --global user.email bench@example.com
git config --global init.defaultBranch main
git lfs install >/dev/null

# The hub's project, its admin token, and a publisher's token for git lfs.
(mkdir -p "$work/hub" && cd "$work/hub" && "$BERTH" init -q >/dev/null)
admin=$("$BERTH" -C "$work/hub" hub init 2>/dev/null)
"$BERTH" -C "$work/hub" hub --addr 127.0.0.1:0 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/hub.log" && break; sleep 0.1; done
url="http://$(sed -n 's/.*listening on http:\/\///p' "$work/hub.log" | head -n1)"
token=$(BERTH_HUB_URL=$url BERTH_TOKEN=$admin XDG_CACHE_HOME="$work/cache" \
  "$BERTH" token create --principal bench --role publisher --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

t() { # label, command...
  local label=$1; shift
  local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; e=$(date +%s.%N)
  echo "$label $(echo "$e - $s" | bc -l)" >>"$times"
}
for run in $(seq 1 "$RUNS"); do
  src="$work/src$run" local="$work/local$run.git" hub_lfs="$url/lfs/bench$run"
  git init -q "$src"; git init -q --bare "$local"
  git -C "$src" lfs track '*.bin' >/dev/null
  head -c "$((SIZE << 20))" /dev/urandom >"$src/model.bin"
  git -C "$src" add .gitattributes model.bin; git -C "$src" commit -q -m model
  git -C "$src" remote add origin "$work/git$run.git"
  oid=$(git -C "$src" lfs ls-files -l | cut -d' ' -f1)
  cat "$src/.git/lfs/objects/${oid:0:2}/${oid:2:2}/$oid" >/dev/null   # both read from the page cache
  to_local=(-c "lfs.url=file://$local")
  to_hub=(-c "lfs.url=$hub_lfs" -c "http.$hub_lfs.extraHeader=Authorization: Bearer $token" -c lfs.locksverify=false)
  t "push, local bare repo" git -C "$src" "${to_local[@]}" lfs push origin main
  t "push, through the hub" git -C "$src" "${to_hub[@]}" lfs push origin main

  dst="$work/dst$run"
  GIT_LFS_SKIP_SMUDGE=1 git clone -q "$src" "$dst"
  object="$dst/.git/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
  t "fetch, local bare repo" git -C "$dst" "${to_local[@]}" lfs fetch origin main
  cmp -s "$src/model.bin" "$object" || { echo "the object fetched from the bare repo differs" >&2; exit 1; }
  rm -rf "$dst/.git/lfs/objects"
  t "fetch, through the hub" git -C "$dst" "${to_hub[@]}" lfs fetch origin main
  cmp -s "$src/model.bin" "$object" ||
    { echo "the object fetched through the hub differs" >&2; exit 1; }
  rm -rf "$src" "$local" "$dst"
done

python3 bench/ratio_table.py "$times" "$SIZE" object "local bare repo" "through the hub" \
  "(vs local bare repo: throughput relative to the same git lfs command into a local bare repository)" push fetch
