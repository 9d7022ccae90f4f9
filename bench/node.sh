#!/usr/bin/env bash
# Provider node benchmark (issue 6), every process on 127.0.0.1:
#  1. replication: a 1 GiB object (BENCH_BLOCKS x 256 KiB, blake3 raw) held
#     by an origin (`cpc net listen --store`) is registered with
#     cpc-orchestrator (replicas 3) and pulled by 3 cpc-node processes; time
#     from registration until the orchestrator lists 3 stored replicas of
#     every chunk (each confirmed after an fsync of the node's store).
#     Reference in the same run: a plain Bitswap transfer of the same blocks
#     from the same origin (`cpc block get CID... --peer ORIGIN --store`).
#     Prints both and the ratio reference time / replication time (1.0 =
#     three replicas as fast as one plain copy).
#  2. memory: a cpc-node's resident memory (VmRSS) idle with the object
#     stored, and its peak (VmHWM) while serving 100 peers that each fetch
#     BENCH_PEER_BLOCKS of its blocks at once (bench/node_peers.c).
# usage: bench/node.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x $build/cpc-node && -x $build/cpc-orchestrator && -f $build/libcpc.a ]] ||
  { echo "build first: make build" >&2; exit 1; }
n=${BENCH_BLOCKS:-4096}
peer_blocks=${BENCH_PEER_BLOCKS:-64}
size=262144
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
H=(node --import ./tests/interop/polyfill.mjs tests/e2e/node_cluster.mjs)
wait_line() { # FILE REGEX SECONDS
  for _ in $(seq 1 $(($3 * 10))); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}
now() { date +%s.%N; }

libs=$(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 lmdb libuv)
# shellcheck disable=SC2086
cc -O2 -Iinclude bench/bitswap_fill.c "$build/libcpc.a" $libs -lpthread -lm -o "$tmp/fill"
# shellcheck disable=SC2086
cc -O2 -Iinclude -I"$build/proto" bench/node_peers.c "$build/libcpc.a" $libs -lpthread -lm -o "$tmp/peers"
head -c $((n * size)) /dev/urandom >"$tmp/blocks.bin"
"$tmp/fill" "$tmp/blocks.bin" "$size" "$tmp/origin" >"$tmp/cids"
rm -f "$tmp/blocks.bin"
mib=$((n * size >> 20))
echo "object: $n blocks x 256 KiB = $mib MiB"

"$build/cpc" net listen /ip4/127.0.0.1/tcp/0 --store "$tmp/origin" --no-superseed >"$tmp/origin.addr" 2>"$tmp/origin.err" &
pids+=($!)
wait_line "$tmp/origin.addr" /p2p/ 10
origin=$(head -1 "$tmp/origin.addr")

# --- reference: one plain Bitswap copy (the client's own timing, from the
# first dial to the last block stored)
# shellcheck disable=SC2046
out=$("$build/cpc" block get $(cat "$tmp/cids") --peer "$origin" --store "$tmp/plain" --timeout 600000 2>&1) ||
  { echo "$out" >&2; exit 1; }
plain_s=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$out")
rm -rf "$tmp/plain"
echo "plain Bitswap copy (cpc block get, 1 peer):  $plain_s s ($(awk -v m="$mib" -v s="$plain_s" 'BEGIN {printf "%.0f", m / s}') MiB/s)"

# --- replication to 3 nodes
cat >"$tmp/orch.json" <<JSON
{"scheduler": {"tick_ms": 50, "batch": 4096, "heartbeat_interval_ms": 1000,
  "heartbeat_timeout_ms": 60000, "work_timeout_ms": 600000,
  "audit_interval_ms": 3600000, "vetting_audits": 0}}
JSON
"$build/cpc-orchestrator" --config "$tmp/orch.json" --data "$tmp/orch" \
  --rest 127.0.0.1:0 --grpc 127.0.0.1:0 >"$tmp/orch.out" 2>"$tmp/orch.err" &
pids+=($!)
wait_line "$tmp/orch.out" 'rest listening' 10
grpc=$(sed -n 's/.*grpc listening on \(.*\)/\1/p' "$tmp/orch.out")
base=http://$(sed -n 's/.*rest listening on \(.*\)/\1/p' "$tmp/orch.out")
for i in 1 2 3; do
  "$build/cpc-node" init --data "$tmp/n$i" --capacity 2G --region "r$i" \
    --listen /ip4/127.0.0.1/tcp/0 --orchestrator "$grpc" >/dev/null
  "$build/cpc-node" --data "$tmp/n$i" >"$tmp/n$i.out" 2>"$tmp/n$i.err" &
  pids+=($!)
  eval "node_pid$i=$!"
done
for i in 1 2 3; do wait_line "$tmp/n$i.err" 'registered with the orchestrator' 10; done
sleep 1
idle0=$(awk '/VmRSS/ {print $2}' /proc/"$node_pid1"/status)
"${H[@]}" user "$base" "$tmp/user.key" >/dev/null
reg=$("${H[@]}" content "$base" "$tmp/user.key" --origin "$origin" --cids "$tmp/cids" --size "$size" --time)
content=$(head -1 <<<"$reg")
t0_ms=$(tail -1 <<<"$reg")
"${H[@]}" wait "$base" "$content" 3 1200 >/dev/null
listed_ms=$(date +%s%3N)
# the last confirmation any node logged (each after its store's fsync)
last=$(grep -h 'confirmed$' "$tmp"/n[123].err | cut -c1-24 | sort | tail -1)
last_ms=$(node -e 'console.log(Date.parse(process.argv[1]))' "$last")
first=$(grep -h 'cpc-node: fetching' "$tmp"/n[123].err | cut -c1-24 | sort | head -1)
first_ms=$(node -e 'console.log(Date.parse(process.argv[1]))' "$first")
repl_s=$(awk -v a="$t0_ms" -v b="$last_ms" 'BEGIN {printf "%.2f", (b - a) / 1000}')
nodes_s=$(awk -v a="$first_ms" -v b="$last_ms" 'BEGIN {printf "%.2f", (b - a) / 1000}')
sched_s=$(awk -v a="$t0_ms" -v b="$first_ms" 'BEGIN {printf "%.2f", (b - a) / 1000}')
listed_s=$(awk -v a="$t0_ms" -v b="$listed_ms" 'BEGIN {printf "%.2f", (b - a) / 1000}')
echo "replication to 3 nodes (3 x $mib MiB):      $repl_s s from registration to the last confirmation ($(awk -v m="$mib" -v s="$repl_s" 'BEGIN {printf "%.0f", 3 * m / s}') MiB/s stored in all; all listed by the orchestrator after $listed_s s)"
echo "  of which: $sched_s s until the first order reached a node (orchestrator), $nodes_s s from the first fetch to the last confirmation (nodes: $(awk -v m="$mib" -v s="$nodes_s" 'BEGIN {printf "%.0f", 3 * m / s}') MiB/s)"
echo "ratio (plain copy time / replication time): $(awk -v a="$plain_s" -v b="$repl_s" 'BEGIN {printf "%.2f", a / b}') (1.0: 3 fsync'd replicas as fast as 1 plain copy); nodes only: $(awk -v a="$plain_s" -v b="$nodes_s" 'BEGIN {printf "%.2f", a / b}')"

# --- memory of node 1
sleep 2
idle=$(awk '/VmRSS/ {print $2}' /proc/"$node_pid1"/status)
idle_anon=$(awk '/RssAnon/ {print $2}' /proc/"$node_pid1"/status)
addr=$(grep -m1 '^listening on' "$tmp/n1.out" | sed 's/^listening on //')
head -n "$peer_blocks" "$tmp/cids" >"$tmp/peer_cids"
before_hwm=$(awk '/VmHWM/ {print $2}' /proc/"$node_pid1"/status)
"$tmp/peers" "$addr" "$tmp/peer_cids" 100 >"$tmp/peers.out" 2>"$tmp/peers.err" &
ppid=$!
peak=0 peak_anon=0
while kill -0 "$ppid" 2>/dev/null; do
  r=$(awk '/VmRSS/ {print $2}' /proc/"$node_pid1"/status)
  a=$(awk '/RssAnon/ {print $2}' /proc/"$node_pid1"/status)
  [ "$r" -gt "$peak" ] && peak=$r
  [ "$a" -gt "$peak_anon" ] && peak_anon=$a
  sleep 0.05
done
wait "$ppid" || { cat "$tmp/peers.err" >&2; exit 1; }
echo "node RSS: $((idle0 / 1024)) MiB idle empty; $((idle / 1024)) MiB idle holding $mib MiB (anonymous $((idle_anon / 1024)) MiB, the rest LMDB's file pages)"
echo "node RSS while serving 100 peers: peak $((peak / 1024)) MiB sampled (anonymous $((peak_anon / 1024)) MiB; VmHWM $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/"$node_pid1"/status) MiB, $((before_hwm / 1024)) MiB before) -- $(tail -1 "$tmp/peers.out")"
