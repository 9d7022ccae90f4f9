#!/usr/bin/env bash
# tests/e2e/node_cluster.sh: cpc-orchestrator (SQLite) + 5 cpc-node
# processes + an origin peer (`cpc net listen --store`) on loopback, with
# short timings from the orchestrator's and the nodes' config files.
#  1. content registered over REST (signed requests) ends with 3 replicas
#     of every chunk on 3 distinct nodes, each really in that node's store;
#     /metrics has cpc_bandwidth_bytes{node_type="node",...}; audits pass
#  2. an impostor (another key claiming a node's PeerId) is refused
#  3. kill -9 of a node: the factor is back to 3 within 60 s
#  4. a block damaged on a node's disk is found by the scrub, removed,
#     reported and re-made elsewhere
#  5. a node bandwidth-capped at 500 kB/s stays under 550 kB/s over 4 s
#  6. kill -9 of a node and of the orchestrator while content replicates:
#     confirmed chunks are still there after the restart and every chunk
#     reaches 3 replicas; the node's journal empties
#  7. a full node refuses blocks past its committed capacity
# The helper tests/e2e/node_cluster.mjs signs REST requests, plays the
# impostor and flips a byte inside a node's LMDB file.
set -euo pipefail

BIN=${CPC_BIN_DIR:?CPC_BIN_DIR must be the build directory}
SRC=${CPC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CPC=$BIN/cpc
W=$(mktemp -d /tmp/cpc-e2e-node.XXXXXX)
H=(node --import "$SRC/tests/interop/polyfill.mjs" "$SRC/tests/e2e/node_cluster.mjs")
declare -A PID ID MET
T0=$(date +%s)

log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

cleanup() {
  local p
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$W"/*.log; do echo "---- $f (tail)"; tail -n 25 "$f"; done
  exit 1
}

# wait_for FILE REGEX SECONDS: until a line of FILE matches.
wait_for() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---- orchestrator -------------------------------------------------------
cat >"$W/orch.json" <<EOF
{"scheduler": {"tick_ms": 200, "heartbeat_interval_ms": 500,
  "heartbeat_timeout_ms": 3000, "work_timeout_ms": 8000,
  "audit_interval_ms": 1500, "audit_timeout_ms": 3000,
  "vetting_audits": 0}}
EOF
REST=0 GRPC=0
start_orch() {
  : >"$W/orch.out"
  "$BIN/cpc-orchestrator" --config "$W/orch.json" --data "$W/orch" \
    --rest "127.0.0.1:$REST" --grpc "127.0.0.1:$GRPC" \
    >"$W/orch.out" 2>>"$W/orch.log" &
  PID[orch]=$!
  wait_for "$W/orch.out" 'rest listening' 10 || fail "orchestrator did not start"
  GRPC=$(sed -n 's/.*grpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/orch.out")
  REST=$(sed -n 's/.*rest listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/orch.out")
}
start_orch
BASE=http://127.0.0.1:$REST
log "orchestrator: rest $REST, grpc $GRPC"

# ---- origin: the uploader's blocks, served over Bitswap ------------------
mkdir -p "$W/chunks"
for i in $(seq 1 12); do head -c $((150000 + i * 7000)) /dev/urandom >"$W/chunks/a$i"; done
for i in $(seq 1 30); do head -c 262144 /dev/urandom >"$W/chunks/b$i"; done
for f in "$W"/chunks/*; do "$CPC" block put "$f" --store "$W/origin" >/dev/null; done
"$CPC" net listen /ip4/127.0.0.1/tcp/0 --store "$W/origin" --no-superseed >"$W/origin.out" 2>"$W/origin.log" &
PID[origin]=$!
wait_for "$W/origin.out" '/p2p/' 10 || fail "origin did not start"
ORIGIN=$(grep -m1 '/p2p/' "$W/origin.out")
log "origin $ORIGIN"

# ---- nodes ----------------------------------------------------------------
node_json() { # DIR REGION CAPACITY BANDWIDTH GRPC
  cat >"$1/node.json" <<EOF
{"capacity": "$3", "bandwidth": "$4", "region": "$2",
 "listen": ["/ip4/127.0.0.1/tcp/0"], "metrics": "127.0.0.1:0",
 "orchestrator": "127.0.0.1:$5", "scrub_interval_ms": 2000,
 "metrics_interval_ms": 1000, "reconnect_min_ms": 200,
 "reconnect_max_ms": 2000, "fetch_timeout_ms": 15000}
EOF
}
start_node() { # NAME
  local n=$1
  : >"$W/$n.out"
  "$BIN/cpc-node" --data "$W/$n" >"$W/$n.out" 2>>"$W/$n.log" &
  PID[$n]=$!
  wait_for "$W/$n.out" '^metrics listening' 10 || fail "$n did not start"
  ID[$n]=$(sed -n 's/^peer_id //p' "$W/$n.out")
  MET[$n]=$(sed -n 's/^metrics listening on //p' "$W/$n.out")
}
for i in 1 2 3 4 5; do
  "$BIN/cpc-node" init --data "$W/n$i" --capacity 64M --region "r$i" >/dev/null
  bw=0
  [ "$i" = 2 ] && bw=500kB/s
  node_json "$W/n$i" "r$i" 64M "$bw" "$GRPC"
  start_node "n$i"
done
for i in 1 2 3 4 5; do
  wait_for "$W/n$i.log" 'registered with the orchestrator' 10 || fail "n$i did not register"
done
log "5 nodes registered: ${ID[n1]} ..."

node_of() { # PeerId -> node name ("" if none)
  local k
  for k in n1 n2 n3 n4 n5; do
    if [ "${ID[$k]}" = "$1" ]; then echo "$k"; fi
  done
}

# every (cid, provider) of locate is in that provider's store
check_stores() { # CONTENT_ID
  "${H[@]}" locate "$BASE" "$1" >"$W/locate.json"
  node -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
    for (const [cid, ps] of Object.entries(m))
      for (const p of ps) console.log(cid, p)' "$W/locate.json" >"$W/pairs"
  while read -r cid peer; do
    local n
    n=$(node_of "$peer")
    [ -n "$n" ] || fail "provider $peer is not one of the nodes"
    "$CPC" block get "$cid" --store "$W/$n/blocks" -o /dev/null 2>/dev/null ||
      fail "$cid is said to be on $n but is not in its store"
  done <"$W/pairs"
}

# ---- 1. replication ---------------------------------------------------------
"${H[@]}" user "$BASE" "$W/user.key" >/dev/null
A=$("${H[@]}" content "$BASE" "$W/user.key" --origin "$ORIGIN" --tokens 6 "$W"/chunks/a*)
secs=$("${H[@]}" wait "$BASE" "$A" 3 60) || fail "content A never had 3 replicas per chunk"
check_stores "$A"
log "1. content A: 12 chunks x 3 replicas on distinct nodes after ${secs}s, all in the stores"

metrics=$(curl -sf "http://${MET[n1]}/metrics")
grep -q 'cpc_bandwidth_bytes{node_type="node",direction="sent"}' <<<"$metrics" ||
  fail "/metrics lacks cpc_bandwidth_bytes{node_type=\"node\"}"
for m in cpc_node_disk_used_bytes cpc_node_connections cpc_node_cpu_ratio \
  cpc_node_memory_resident_bytes 'cpc_node_replications_total{result="ok"}'; do
  grep -qF "$m" <<<"$metrics" || fail "/metrics lacks $m"
done
om=$(curl -sf -H 'Accept: application/openmetrics-text' "http://${MET[n1]}/metrics")
[ "$(tail -n1 <<<"$om")" = "# EOF" ] || fail "/metrics does not speak OpenMetrics"
for i in $(seq 1 100); do
  grep -qE 'audit [0-9]+ of .*: passed' "$W"/n*.log && break
  sleep 0.2
done
grep -qE 'audit [0-9]+ of .*: passed' "$W"/n*.log || fail "no audit answered"
log "   /metrics OK, audits answered and passed"

# ---- 2. impostor --------------------------------------------------------------
"${H[@]}" impostor "127.0.0.1:$GRPC" "${ID[n1]}" >"$W/impostor.out" 2>&1 ||
  { cat "$W/impostor.out"; fail "an impostor was accepted"; }
log "2. impostor refused: $(head -n1 "$W/impostor.out")"

# ---- 3. kill -9 a node: the factor comes back -----------------------------------
victim=$(node_of "$(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  console.log(Object.values(m)[0][0])' "$W/locate.json")")
cp "$W/pairs" "$W/pairs.before"
kill -KILL "${PID[$victim]}"
unset "PID[$victim]"
secs=$("${H[@]}" wait "$BASE" "$A" 3 60 --exclude "${ID[$victim]}") ||
  fail "replication factor not restored within 60 s after kill -9 of $victim"
log "3. kill -9 $victim: 3 replicas on live nodes again after ${secs}s"

# ---- 4. a damaged block is scrubbed and healed ------------------------------------
"${H[@]}" locate "$BASE" "$A" >"$W/locate.json"
read -r ccid cpeer < <(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const [cid, ps] = Object.entries(m)[1];
  console.log(cid, ps.find((p) => p !== process.argv[2]))' "$W/locate.json" "${ID[$victim]}")
cnode=$(node_of "$cpeer")
cfile=$(for f in "$W"/chunks/a*; do [ "$("$CPC" cid "$f")" != "$ccid" ] || echo "$f"; done)
[ -n "$cfile" ] || fail "no chunk file for $ccid"
"${H[@]}" flip "$W/$cnode/blocks/data.mdb" "$cfile" >/dev/null || fail "cannot damage $ccid on $cnode"
wait_for "$W/$cnode.log" "scrub: block $ccid is corrupt" 15 || fail "$cnode's scrub did not find $ccid damaged"
wait_for "$W/$cnode.log" "reported $ccid corrupt" 10 || fail "$cnode did not report $ccid"
"${H[@]}" wait "$BASE" "$A" 3 60 --exclude "${ID[$victim]}" >/dev/null || fail "$ccid not healed"
"${H[@]}" locate "$BASE" "$A" >"$W/locate.json"
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  process.exit(m[process.argv[2]].includes(process.argv[3]) ? 1 : 0)' \
  "$W/locate.json" "$ccid" "$cpeer" || fail "$cnode still listed for the damaged $ccid"
log "4. $ccid damaged on $cnode: scrubbed, reported, re-made elsewhere"

# the killed node comes back with what it had confirmed
start_node "$victim"
while read -r cid peer; do
  [ "$peer" = "${ID[$victim]}" ] || continue
  "$CPC" block get "$cid" --store "$W/$victim/blocks" -o /dev/null 2>/dev/null ||
    fail "$victim lost confirmed $cid across kill -9"
done <"$W/pairs.before"
wait_for "$W/$victim.log" 'registered with the orchestrator' 10 || fail "$victim did not come back"
log "   $victim restarted with every confirmed chunk"

# ---- 5 + 6. bandwidth cap, restarts mid-replication ------------------------------------
recv() { curl -sf "http://${MET[n2]}/metrics" | sed -n 's/^cpc_node_traffic_bytes_total{direction="received"} //p'; }
B=$("${H[@]}" content "$BASE" "$W/user.key" --origin "$ORIGIN" "$W"/chunks/b*)
sleep 0.5
r0=$(recv)
sleep 4
r1=$(recv)
rate=$(node -e 'console.log(Math.round((process.argv[2] - process.argv[1]) / 4))' "$r0" "$r1")
log "5. n2 capped at 500 kB/s received $rate B/s over 4 s"
[ "$rate" -le 550000 ] || fail "n2 took $rate B/s, over its 500 kB/s cap by more than 10%"
"${H[@]}" locate "$BASE" "$B" >"$W/locate.json"
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  for (const [cid, ps] of Object.entries(m)) if (ps.includes(process.argv[2])) console.log(cid)' \
  "$W/locate.json" "${ID[n2]}" >"$W/n2.before"
pending=$(ls "$W/n2/journal" | wc -l)
kill -KILL "${PID[n2]}"
kill -KILL "${PID[orch]}"
unset "PID[n2]" "PID[orch]"
log "6. kill -9 n2 ($(wc -l <"$W/n2.before") chunks of B confirmed, $pending orders in its journal) and the orchestrator"
sleep 1
start_orch
start_node n2
while read -r cid; do
  "$CPC" block get "$cid" --store "$W/n2/blocks" -o /dev/null 2>/dev/null ||
    fail "n2 lost confirmed $cid across kill -9"
done <"$W/n2.before"
secs=$("${H[@]}" wait "$BASE" "$B" 3 90) || fail "content B did not reach 3 replicas after the restarts"
check_stores "$B"
for i in $(seq 1 100); do
  [ -z "$(ls "$W/n2/journal")" ] && break
  sleep 0.2
done
[ -z "$(ls "$W/n2/journal")" ] || fail "n2's journal still holds $(ls "$W/n2/journal" | wc -l) orders"
log "   after both restarts: confirmed chunks kept, 30 chunks x 3 replicas (${secs}s), n2's journal empty"

# ---- 7. a full node refuses --------------------------------------------------------------
cat >"$W/orch2.json" <<EOF
{"scheduler": {"tick_ms": 200, "heartbeat_interval_ms": 500,
  "heartbeat_timeout_ms": 3000, "work_timeout_ms": 8000, "vetting_audits": 0}}
EOF
"$BIN/cpc-orchestrator" --config "$W/orch2.json" --data "$W/orch2" \
  --rest 127.0.0.1:0 --grpc 127.0.0.1:0 >"$W/orch2.out" 2>>"$W/orch2.log" &
PID[orch2]=$!
wait_for "$W/orch2.out" 'rest listening' 10 || fail "second orchestrator did not start"
GRPC2=$(sed -n 's/.*grpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/orch2.out")
BASE2=http://127.0.0.1:$(sed -n 's/.*rest listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$W/orch2.out")
"$BIN/cpc-node" init --data "$W/tiny" --capacity 600000 --region t >/dev/null
node_json "$W/tiny" t 600000 0 "$GRPC2"
start_node tiny
wait_for "$W/tiny.log" 'registered with the orchestrator' 10 || fail "tiny did not register"
"${H[@]}" user "$BASE2" "$W/user2.key" >/dev/null
# the uploader declares 1000-byte chunks; the blocks are 150-235 kB
"${H[@]}" content "$BASE2" "$W/user2.key" --origin "$ORIGIN" --replicas 1 \
  --declare 1000 "$W"/chunks/a1 "$W"/chunks/a2 "$W"/chunks/a3 "$W"/chunks/a4 "$W"/chunks/a5 >/dev/null
wait_for "$W/tiny.log" 'failed: capacity exceeded' 30 || fail "the full node did not refuse"
used=$("$CPC" block stat --store "$W/tiny/blocks" | sed -n 's/^bytes: //p')
[ "$used" -le 600000 ] || fail "tiny stores $used bytes, over its 600000"
tm=$(curl -sf "http://${MET[tiny]}/metrics")
grep -qE '^cpc_node_replications_total\{result="refused"\} [1-9]' <<<"$tm" ||
  fail "refusals not counted in /metrics"
log "7. full node: $(grep -m1 'capacity exceeded' "$W/tiny.log" | sed 's/.*failed: //'); holds $used of 600000 bytes"

log "PASS"
