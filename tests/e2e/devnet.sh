#!/usr/bin/env bash
# tests/e2e/devnet.sh: `cpc devnet` (what `make run` starts) end to end:
# an orchestrator, 4 provider nodes and 3 users' PDSes as real processes on
# loopback, driven with the `cpc` command line as its summary says.
#   1. the devnet comes up and prints every URL and how to act as each user
#   2. user 1 puts a public and a private file; the orchestrator reports
#      every chunk replicated 3 times on the nodes
#   3. user 1's PDS stops: user 2 still gets the public file from the nodes,
#      byte-identical, and never the private one
#   4. a chunk altered on a node's disk is rejected and fetched elsewhere
#   5. kill -9 a node: user 3 still reads the content, the node is marked
#      offline and the replication factor is restored
#   6. SIGINT stops every process; the devnet exits 0
set -euo pipefail
BIN=${CPC_BIN_DIR:?CPC_BIN_DIR must be the build directory}
SRC=${CPC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CPC=$BIN/cpc
W=$(mktemp -d /tmp/cpc-e2e-devnet.XXXXXX)
DN=$W/dn
# A port base nothing else on this machine uses: probe the ports devnet
# takes (B .. B+300) for a free block.
pick_base() {
  local b
  for _ in $(seq 1 40); do
    b=$((20000 + (RANDOM % 30) * 400)) # below the ephemeral range (32768+)
    python3 - "$b" <<'EOF' && { echo "$b"; return; }
import socket, sys
b = int(sys.argv[1])
for p in [b, b + 1] + list(range(b + 10, b + 30)) + list(range(b + 100, b + 110)) + list(range(b + 200, b + 210)):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
  done
  echo "no free port block" >&2
  return 1
}
B=$(pick_base)
ORCH=http://127.0.0.1:$B
DPID=

cleanup() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill -INT "$DPID" 2>/dev/null || true
    sleep 2
  fi
  pkill -9 -f "$DN/" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "---- devnet stdout/stderr"; cat "$W/devnet.out" "$W/devnet.err" 2>/dev/null | tail -n 30
  for f in "$DN"/logs/*.log; do echo "---- $f (tail)"; tail -n 20 "$f"; done
  exit 1
}
ok() { echo "ok - $*"; }
as_user() { # U cpc-args...
  local u=$1; shift
  CPC_PDS=http://127.0.0.1:$((B + 10 + u - 1)) \
    CPC_PDS_TOKEN_FILE=$DN/user-$u/api-token "$CPC" "$@"
}
replication() { # CID -> the orchestrator's replication summary (JSON)
  curl -sf "$ORCH/v1/content/$1" | jq -c '.replication'
}
wait_complete() { # CID SECONDS
  for _ in $(seq 1 $(($2 * 5))); do
    [ "$(replication "$1" | jq -r '.complete')" = true ] && return 0
    sleep 0.2
  done
  return 1
}

# ---- 1. up ----------------------------------------------------------------
"$CPC" devnet --nodes 4 --users 3 --dir "$DN" --port-base "$B" \
  >"$W/devnet.out" 2>"$W/devnet.err" &
DPID=$!
for _ in $(seq 1 600); do
  grep -q "CPC devnet is up" "$W/devnet.out" 2>/dev/null && break
  kill -0 "$DPID" 2>/dev/null || fail "devnet exited before it was up"
  sleep 0.1
done
grep -q "CPC devnet is up (4 nodes, 3 users)" "$W/devnet.out" || fail "devnet not up in 60 s"
for u in 1 2 3; do
  grep -q "user-$u:  export CPC_PDS=http://127.0.0.1:$((B + 9 + u)) CPC_PDS_TOKEN_FILE=$DN/user-$u/api-token" \
    "$W/devnet.out" || fail "no instructions for user-$u"
done
for i in 1 2 3 4; do
  curl -sf "http://127.0.0.1:$((B + 19 + i))/metrics" | grep -q 'cpc_bandwidth_bytes{node_type="node"' ||
    fail "node-$i /metrics"
done
ok "devnet up on port base $B: orchestrator, 4 nodes, 3 PDSes"

# ---- 2. put and replication -------------------------------------------------
head -c 3000000 /dev/urandom >"$W/pub.bin"
head -c 700000 /dev/urandom >"$W/priv.bin"
PUB=$(as_user 1 put "$W/pub.bin" --access public) || fail "put public"
PRIV=$(as_user 1 put "$W/priv.bin" --access private) || fail "put private"
PUB_CID=${PUB#cpc://}
wait_complete "$PUB_CID" 60 || fail "public content not replicated: $(replication "$PUB_CID")"
# Private metadata is not public: its owner's `cpc ls` says "confirmed/wanted".
for _ in $(seq 1 300); do
  rep=$(as_user 1 ls | awk -v u="$PRIV" '$1 == u { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) print $i }')
  [ -n "$rep" ] && [ "${rep%/*}" -ge 3 ] && [ "${rep%/*}" -ge "${rep#*/}" ] && break
  sleep 0.2
done
[ -n "$rep" ] && [ "${rep%/*}" -ge 3 ] || fail "private content not replicated: $(as_user 1 ls)"
R=$(replication "$PUB_CID")
[ "$(jq -r '.min_confirmed' <<<"$R")" -ge 3 ] || fail "fewer than 3 copies: $R"
held=0
for i in 1 2 3 4; do
  n=$("$CPC" block ls --store "$DN/node-$i/blocks" | wc -l)
  [ "$n" -gt 0 ] && held=$((held + 1))
done
[ "$held" -ge 3 ] || fail "blocks on only $held nodes"
as_user 1 status >"$W/status.txt" || fail "cpc status"
ok "put public + private; every chunk on >= 3 of 4 nodes: $R"

# ---- 3. the owner offline: read from the nodes -------------------------------
U1=$(pgrep -f "cpc-pds .*--data $DN/user-1 ") || fail "no user-1 PDS"
kill -TERM "$U1"
for _ in $(seq 1 100); do kill -0 "$U1" 2>/dev/null || break; sleep 0.1; done
as_user 2 get "$PUB" -o "$W/got2.bin" || fail "user 2 cannot get public content with the owner offline"
cmp -s "$W/pub.bin" "$W/got2.bin" || fail "user 2's download differs"
if as_user 2 get "$PRIV" -o "$W/priv2.bin" 2>"$W/err.txt"; then fail "user 2 got private content"; fi
[ ! -e "$W/priv2.bin" ] || fail "a refused get left a file"
ok "owner offline: public content read from the nodes, private refused ($(head -c 100 "$W/err.txt"))"

# ---- 4. a chunk altered on a node -------------------------------------------
# A chunk of the public content user 3 is about to read, on a node that
# holds it (the orchestrator lists the chunks).
curl -sf "$ORCH/v1/content/$PUB_CID" | jq -r '.chunks[].cid' | sort >"$W/pub_chunks.txt"
victim=""
for i in 1 2 3 4; do
  c=$("$CPC" block ls --store "$DN/node-$i/blocks" | sort | comm -12 - "$W/pub_chunks.txt" | head -n 1)
  if [ -n "$c" ]; then victim=$i; vcid=$c; break; fi
done
[ -n "$victim" ] || fail "no node holds a chunk of $PUB_CID"
"$CPC" block get "$vcid" --store "$DN/node-$victim/blocks" -o "$W/block.bin"
node --import "$SRC/tests/interop/polyfill.mjs" "$SRC/tests/e2e/node_cluster.mjs" \
  flip "$DN/node-$victim/blocks/data.mdb" "$W/block.bin" || fail "could not alter the block"
as_user 3 get "$PUB" -o "$W/got3.bin" || fail "user 3 cannot get the content with one chunk altered on node-$victim"
cmp -s "$W/pub.bin" "$W/got3.bin" || fail "user 3's download differs"
ok "chunk $vcid altered on node-$victim: the download is still byte-identical"

# ---- 5. kill -9 a node -------------------------------------------------------
K=$(( victim % 4 + 1 ))
KP=$(pgrep -f "cpc-node .*--data $DN/node-$K ") || fail "no node-$K"
kill -9 "$KP"
for _ in $(seq 1 300); do
  curl -sf "$ORCH/v1/nodes" | jq -e '[.items[] | select(.state == "offline")] | length >= 1' >/dev/null && break
  sleep 0.1
done
curl -sf "$ORCH/v1/nodes" | jq -e '[.items[] | select(.state == "offline")] | length >= 1' >/dev/null ||
  fail "node-$K not marked offline in 30 s"
wait_complete "$PUB_CID" 60 || fail "replication not restored after node-$K died: $(replication "$PUB_CID")"
rm -f "$W/got3.bin"
as_user 3 get "$PUB" -o "$W/got3.bin" || fail "user 3 cannot read after node-$K died"
cmp -s "$W/pub.bin" "$W/got3.bin" || fail "download after the kill differs"
ok "kill -9 node-$K: offline, healed to $(replication "$PUB_CID"), still readable"

# ---- 6. Ctrl-C -----------------------------------------------------------------
kill -INT "$DPID"
st=0
for _ in $(seq 1 300); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null && fail "devnet still running 30 s after SIGINT"
wait "$DPID" || st=$?
DPID=
[ "$st" = 0 ] || fail "devnet exited $st after SIGINT"
sleep 0.5
if pgrep -f "$DN/" >/dev/null; then fail "processes left: $(pgrep -af "$DN/")"; fi
grep -q "stopped" "$W/devnet.err" || fail "no stop message"
ok "SIGINT: every process stopped, exit 0"
