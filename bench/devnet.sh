#!/usr/bin/env bash
# Devnet benchmark (issue 7, Performance): the seed's two data flows on a
# `cpc devnet --nodes 3 --users 2`, every process on 127.0.0.1:
#   put:         `cpc put FILE --access public` as user 1 (the PDS chunks,
#                encrypts, stores and registers a BENCH_MIB MiB random file)
#   replication: from the end of the put until the orchestrator reports
#                every chunk at 3 confirmed replicas
#                (GET /v1/content/<cid> -> .replication.complete)
#   get:         `cpc get URI -o OUT` as user 2 (locate, fetch from the
#                nodes, verify, decrypt), then cmp with the original
# References measured in the same run, on the same file:
#   encrypt:     `cpc encrypt FILE --out DIR` (the encrypt pipeline alone)
#   bitswap:     a plain Bitswap copy of the same bytes (256 KiB blocks):
#                `cpc net listen --store S --no-superseed` serving,
#                `cpc block get CID... --peer ADDR --store S2` fetching
# Prints times (wall clock of each command, process start included) and
# throughputs, and the ratios put/encrypt and get/bitswap in throughput
# (1.0 = as fast as the reference).
# usage: bench/devnet.sh [BUILD_DIR]   (default build; needs cpc, cpc-node,
#        cpc-pds, cpc-orchestrator, libcpc.a)
# env: BENCH_MIB (file size, default 1024), BENCH_PORT_BASE (default: a free
#      range picked at random), BENCH_KEEP=1 keeps the temp dir (logs).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for b in cpc cpc-node cpc-pds cpc-orchestrator libcpc.a; do
  [[ -e $build/$b ]] || { echo "build first: make build ($build/$b missing)" >&2; exit 1; }
done
cpc=$build/cpc
mib=${BENCH_MIB:-1024}
bytes=$((mib << 20))
block=262144
tmp=$(mktemp -d)
pids=()
devnet_pid=
cleanup() {
  local rc=$?
  if [[ -n $devnet_pid ]] && kill -0 "$devnet_pid" 2>/dev/null; then
    kill -INT "$devnet_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$devnet_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$devnet_pid" 2>/dev/null || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${BENCH_KEEP:-} || $rc -ne 0 && -d $tmp/devnet/logs ]]; then
    if [[ $rc -ne 0 && -d $tmp/devnet/logs ]]; then
      for f in "$tmp"/devnet/logs/*.log; do echo "== $f (tail)" >&2; tail -n 8 "$f" >&2; done
    fi
    if [[ -n ${BENCH_KEEP:-} ]]; then echo "kept $tmp" >&2; return; fi
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
rate() { awk -v m="$1" -v s="$2" 'BEGIN {printf "%.0f", m / s}'; } # MiB/s
wait_line() { # FILE REGEX SECONDS
  for _ in $(seq 1 $(($3 * 10))); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}
# A port base B whose devnet ports (3 nodes, 2 users) are all free.
pick_base() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 40000, 10)
    if all(free(b + o) for o in (0, 1, 10, 11, 20, 21, 22, 100, 101, 102, 200, 201)):
        print(b); break
PY
}

head -c "$bytes" /dev/urandom >"$tmp/file"
echo "file: $mib MiB random; devnet: 3 nodes, 2 users; build $build"

# Each timed step starts with the page cache's dirty pages written out
# (sync), so that it does not pay for the writeback of the step before.
# --- reference 1: the encrypt pipeline alone -------------------------------
sync
t0=$(now)
"$cpc" encrypt "$tmp/file" --out "$tmp/enc" >/dev/null
t1=$(now)
enc_s=$(secs "$t0" "$t1")
rm -rf "$tmp/enc"
echo "encrypt (cpc encrypt FILE --out DIR):          $enc_s s ($(rate "$mib" "$enc_s") MiB/s)"

# --- reference 2: a plain Bitswap copy of the same bytes --------------------
libs=$(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 lmdb libuv)
# shellcheck disable=SC2086
cc -O2 -Iinclude bench/bitswap_fill.c "$build/libcpc.a" $libs -lpthread -lm -o "$tmp/fill"
"$tmp/fill" "$tmp/file" "$block" "$tmp/origin" >"$tmp/cids"
"$cpc" net listen /ip4/127.0.0.1/tcp/0 --store "$tmp/origin" --no-superseed \
  >"$tmp/origin.addr" 2>"$tmp/origin.err" &
origin_pid=$!
pids+=("$origin_pid")
wait_line "$tmp/origin.addr" /p2p/ 10
origin=$(head -1 "$tmp/origin.addr")
sync
t0=$(now)
# shellcheck disable=SC2046
out=$("$cpc" block get $(cat "$tmp/cids") --peer "$origin" --store "$tmp/plain" \
  --timeout 600000 2>&1) || { echo "$out" >&2; exit 1; }
t1=$(now)
bs_s=$(secs "$t0" "$t1")
bs_own=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$out")
kill "$origin_pid" 2>/dev/null || true
wait "$origin_pid" 2>/dev/null || true
rm -rf "$tmp/plain" "$tmp/origin"
echo "bitswap (cpc block get, 1 peer, $((bytes / block)) x 256 KiB): $bs_s s ($(rate "$mib" "$bs_s") MiB/s; ${bs_own:-?} s by the client's own clock)"

# --- the devnet --------------------------------------------------------------
base=${BENCH_PORT_BASE:-$(pick_base)}
[[ -n $base ]] || { echo "no free port range found" >&2; exit 1; }
t0=$(now)
"$cpc" devnet --nodes 3 --users 2 --dir "$tmp/devnet" --port-base "$base" \
  >"$tmp/devnet.out" 2>"$tmp/devnet.err" &
devnet_pid=$!
for _ in $(seq 1 600); do
  grep -q 'CPC devnet is up' "$tmp/devnet.out" 2>/dev/null && break
  kill -0 "$devnet_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'CPC devnet is up' "$tmp/devnet.out" ||
  { echo "cpc devnet did not come up (exited, or not up within 60 s):" >&2; cat "$tmp/devnet.err" >&2; exit 1; }
echo "devnet up in $(secs "$t0" "$(now)") s (port base $base)"
orch=http://127.0.0.1:$base
# "  user-U:  export CPC_PDS=URL CPC_PDS_TOKEN_FILE=PATH"
user_env() {
  sed -n "s/^ *user-$1: *export //p" "$tmp/devnet.out"
}
as_user() { # U cpc-args...
  local u=$1; shift
  # shellcheck disable=SC2046
  env $(user_env "$u") "$cpc" "$@"
}
[[ -n $(user_env 1) && -n $(user_env 2) ]] ||
  { echo "devnet did not print how to reach users 1 and 2:" >&2; cat "$tmp/devnet.out" >&2; exit 1; }

# --- put as user 1 -----------------------------------------------------------
sync
t0=$(now)
uri=$(as_user 1 put "$tmp/file" --access public)
t1=$(now)
put_s=$(secs "$t0" "$t1")
cid=${uri#cpc://}
echo "put (user 1, cpc put --access public):         $put_s s ($(rate "$mib" "$put_s") MiB/s)  $uri"

# --- replication to 3 nodes ---------------------------------------------------
deadline=$(($(date +%s) + ${BENCH_REPL_TIMEOUT:-240}))
while :; do
  r=$(curl -sf "$orch/v1/content/$cid" | jq -c .replication 2>/dev/null || true)
  [[ $(jq -r .complete <<<"${r:-null}" 2>/dev/null) == true ]] && break
  if (($(date +%s) > deadline)); then
    echo "replication not complete after ${BENCH_REPL_TIMEOUT:-240} s: $r" >&2
    exit 1
  fi
  sleep 0.2
done
t2=$(now)
repl_s=$(secs "$t1" "$t2")
echo "replication (3 nodes, until complete):         $repl_s s after the put ($(rate $((3 * mib)) "$repl_s") MiB/s stored in all; $(secs "$t0" "$t2") s from the start of the put) $r"

# the nodes' side, from their logs: the first fetch order and the last
# confirmation (each after an fsync of the node's store)
first=$(grep -h 'cpc-node: fetching' "$tmp"/devnet/logs/node-*.log | cut -c1-24 | sort | sed -n 1p)
last=$(grep -h 'confirmed$' "$tmp"/devnet/logs/node-*.log | cut -c1-24 | sort | tail -1)
if [[ -n $first && -n $last ]]; then
  first=$(date -d "$first" +%s.%N)
  last=$(date -d "$last" +%s.%N)
  echo "  of which: first fetch by a node $(secs "$t1" "$first") s after the put, nodes busy $(secs "$first" "$last") s ($(rate $((3 * mib)) "$(secs "$first" "$last")") MiB/s), orchestrator listed all $(secs "$last" "$t2") s after the last confirmation"
fi

# --- get as user 2 ------------------------------------------------------------
sync
t0=$(now)
as_user 2 get "$uri" -o "$tmp/out"
t1=$(now)
get_s=$(secs "$t0" "$t1")
cmp -s "$tmp/file" "$tmp/out" || { echo "user 2's download differs from the file" >&2; exit 1; }
echo "get (user 2, cpc get -o FILE, byte-identical): $get_s s ($(rate "$mib" "$get_s") MiB/s)"

echo "ratio put/encrypt (throughput): $(awk -v a="$enc_s" -v b="$put_s" 'BEGIN {printf "%.2f", a / b}') (1.0 = put as fast as encrypting alone)"
echo "ratio get/bitswap (throughput): $(awk -v a="$bs_s" -v b="$get_s" 'BEGIN {printf "%.2f", a / b}') (1.0 = get as fast as one plain Bitswap copy)"

# --- stop the devnet with SIGINT: it must exit 0 -------------------------------
kill -INT "$devnet_pid"
set +e
wait "$devnet_pid"
drc=$?
set -e
devnet_pid=
[[ $drc -eq 0 ]] || { echo "cpc devnet exited $drc after SIGINT:" >&2; tail -5 "$tmp/devnet.err" >&2; exit 1; }
errs=$({ grep -ciwE 'error|warn(ing)?|fail(ed|ure)?' "$tmp"/devnet/logs/*.log || true; } |
  awk -F: '$2 > 0 {sub(".*/", "", $1); printf "%s %s; ", $1, $2}')
echo "devnet stopped by SIGINT, exit 0; log lines saying error/warning/failed: ${errs:-none}"
