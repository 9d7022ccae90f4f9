#!/usr/bin/env bash
# tests/e2e/node_drops.sh: deletions reach a node that was offline.
# cpc-orchestrator + 3 cpc-node processes + an origin peer on loopback:
# content X (blocks s1..s4) and content Y (s3..s5, sharing s3 and s4 with
# X) are on all three nodes. n3 is stopped and goes offline; X is
# deleted; n1 and n2 drop s1 and s2 at once. n3 restarts: its WorkStream
# carries the drop orders recorded meanwhile, so it drops s1 and s2 too,
# while s3, s4 (still Y's) and s5 stay on every node.
# Runs against SQLite, then against PostgreSQL (tests/lib/pg.sh) when a
# server can be started there (skipped with a note otherwise).
set -euo pipefail

BIN=${CPC_BIN_DIR:?CPC_BIN_DIR must be the build directory}
SRC=${CPC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CPC=$BIN/cpc
W=$(mktemp -d /tmp/cpc-e2e-drops.XXXXXX)
H=(node --import "$SRC/tests/interop/polyfill.mjs" "$SRC/tests/e2e/node_cluster.mjs")
declare -A PID ID
T0=$(date +%s)
PG_STARTED=

log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

stop_all() {
  local p
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
  PID=()
}

cleanup() {
  stop_all
  [ -z "$PG_STARTED" ] || cpc_pg_stop
  if [ -n "${KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$W"/*/*.log "$W"/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (tail)"
    tail -n 25 "$f"
  done
  exit 1
}

wait_for() { # FILE REGEX SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# ---- the blocks, served by an origin peer -------------------------------------
mkdir -p "$W/chunks"
for i in 1 2 3 4 5; do head -c $((100000 + i * 5000)) /dev/urandom >"$W/chunks/s$i"; done
for f in "$W"/chunks/*; do "$CPC" block put "$f" --store "$W/origin" >/dev/null; done
declare -A CID
for i in 1 2 3 4 5; do CID[s$i]=$("$CPC" cid "$W/chunks/s$i"); done
"$CPC" net listen /ip4/127.0.0.1/tcp/0 --store "$W/origin" --no-superseed \
  >"$W/origin.out" 2>"$W/origin.log" &
PID[origin]=$!
wait_for "$W/origin.out" '/p2p/' 10 || fail "origin did not start"
ORIGIN=$(grep -m1 '/p2p/' "$W/origin.out")

has() { # NODE_DIR BLOCK -> 0 when the node's store holds it
  "$CPC" block get "${CID[$2]}" --store "$1/blocks" -o /dev/null 2>/dev/null
}

# until_blocks SECONDS NODE_DIR [+|-]BLOCK...: + held, - not held
until_blocks() {
  local secs=$1 dir=$2 i b ok
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    ok=1
    for b in "$@"; do
      if [ "${b:0:1}" = + ]; then has "$dir" "${b:1}" || ok=
      else ! has "$dir" "${b:1}" || ok=; fi
    done
    [ -n "$ok" ] && return 0
    sleep 0.2
  done
  return 1
}

node_state() { # BASE PEERID
  curl -sf "$1/v1/nodes/$2" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d))
    process.stdin.on("end", () => console.log(JSON.parse(s).state))'
}

# ---- one run against the database URL $1 ("" for SQLite) ----------------------
scenario() {
  local db=$1 name=$2 d base grpc rest i X Y
  d=$W/$name
  mkdir -p "$d"
  cat >"$d/orch.json" <<EOF
{"scheduler": {"tick_ms": 200, "heartbeat_interval_ms": 500,
  "heartbeat_timeout_ms": 3000, "work_timeout_ms": 8000,
  "audit_interval_ms": 600000, "vetting_audits": 0}}
EOF
  "$BIN/cpc-orchestrator" --config "$d/orch.json" --data "$d/orch" \
    ${db:+--db "$db"} --rest 127.0.0.1:0 --grpc 127.0.0.1:0 \
    >"$d/orch.out" 2>>"$d/orch.log" &
  PID[orch]=$!
  wait_for "$d/orch.out" 'rest listening' 10 || fail "$name: orchestrator did not start"
  grpc=$(sed -n 's/.*grpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$d/orch.out")
  rest=$(sed -n 's/.*rest listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$d/orch.out")
  base=http://127.0.0.1:$rest

  start_node() { # N
    : >"$d/n$1.out"
    "$BIN/cpc-node" --data "$d/n$1" >"$d/n$1.out" 2>>"$d/n$1.log" &
    PID[n$1]=$!
    wait_for "$d/n$1.out" '^metrics listening' 10 || fail "$name: n$1 did not start"
    ID[n$1]=$(sed -n 's/^peer_id //p' "$d/n$1.out")
  }
  for i in 1 2 3; do
    "$BIN/cpc-node" init --data "$d/n$i" --capacity 16M --region "r$i" >/dev/null
    cat >"$d/n$i/node.json" <<EOF
{"capacity": "16M", "bandwidth": "0", "region": "r$i",
 "listen": ["/ip4/127.0.0.1/tcp/0"], "metrics": "127.0.0.1:0",
 "orchestrator": "127.0.0.1:$grpc", "scrub_interval_ms": 60000,
 "metrics_interval_ms": 1000, "reconnect_min_ms": 200,
 "reconnect_max_ms": 1000, "fetch_timeout_ms": 15000}
EOF
    start_node "$i"
  done
  for i in 1 2 3; do
    wait_for "$d/n$i.log" 'registered with the orchestrator' 10 || fail "$name: n$i did not register"
  done

  "${H[@]}" user "$base" "$d/user.key" >/dev/null
  X=$("${H[@]}" content "$base" "$d/user.key" --origin "$ORIGIN" --replicas 3 \
    "$W"/chunks/s1 "$W"/chunks/s2 "$W"/chunks/s3 "$W"/chunks/s4)
  Y=$("${H[@]}" content "$base" "$d/user.key" --origin "$ORIGIN" --replicas 3 \
    "$W"/chunks/s3 "$W"/chunks/s4 "$W"/chunks/s5)
  "${H[@]}" wait "$base" "$X" 3 60 >/dev/null || fail "$name: X never had 3 replicas"
  "${H[@]}" wait "$base" "$Y" 3 60 >/dev/null || fail "$name: Y never had 3 replicas"
  for i in 1 2 3; do
    until_blocks 10 "$d/n$i" +s1 +s2 +s3 +s4 +s5 || fail "$name: n$i does not hold every block"
  done
  log "$name: X (s1-s4) and Y (s3-s5) on n1, n2, n3"

  kill -TERM "${PID[n3]}"
  wait "${PID[n3]}" 2>/dev/null || true
  unset "PID[n3]"
  for i in $(seq 1 100); do
    [ "$(node_state "$base" "${ID[n3]}")" = offline ] && break
    sleep 0.1
  done
  [ "$(node_state "$base" "${ID[n3]}")" = offline ] || fail "$name: n3 never went offline"
  "${H[@]}" delete "$base" "$d/user.key" "$X"
  for i in 1 2; do
    until_blocks 20 "$d/n$i" -s1 -s2 +s3 +s4 +s5 ||
      fail "$name: n$i did not drop X's own blocks (or dropped a shared one)"
  done
  # the deletion is done on the orchestrator's side before n3 is back
  sleep 1
  until_blocks 1 "$d/n3" +s1 +s2 || fail "$name: n3's store changed while it was stopped"
  log "$name: n3 stopped and offline, X deleted: n1, n2 dropped s1 s2, kept s3 s4 s5"

  start_node 3
  wait_for "$d/n3.log" 'registered with the orchestrator' 10 || fail "$name: n3 did not come back"
  until_blocks 30 "$d/n3" -s1 -s2 +s3 +s4 +s5 ||
    fail "$name: n3 still holds X's blocks (or lost Y's) 30 s after it came back"
  for i in 1 2; do
    until_blocks 1 "$d/n$i" -s1 -s2 +s3 +s4 +s5 || fail "$name: n$i changed"
  done
  "${H[@]}" wait "$base" "$Y" 3 30 >/dev/null || fail "$name: Y lost replicas"
  log "$name: n3 back: dropped s1 s2 (drop orders), kept s3 s4 s5; Y has 3 replicas"
  stop_all
  # the origin is shared by both runs
  "$CPC" net listen /ip4/127.0.0.1/tcp/0 --store "$W/origin" --no-superseed \
    >"$W/origin.out" 2>"$W/origin.log" &
  PID[origin]=$!
  wait_for "$W/origin.out" '/p2p/' 10 || fail "origin did not restart"
  ORIGIN=$(grep -m1 '/p2p/' "$W/origin.out")
}

scenario "" sqlite

. "$SRC/tests/lib/pg.sh"
if cpc_pg_start >"$W/pg.out" 2>&1; then
  PG_STARTED=1
  scenario "$CPC_PG_URL" postgres
else
  log "PostgreSQL could not be started here (tests/lib/pg.sh): SQLite only"
  cat "$W/pg.out"
fi
log "PASS"
