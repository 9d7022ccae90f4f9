#!/usr/bin/env bash
# pds_flows.sh: the seed's posting and consumption flows with real
# processes on loopback: an orchestrator on SQLite and PDSes for users A, B,
# C (and D for the storage limit), driven with the `cpc` command line. No
# provider nodes: content is served by its owner's PDS (the origin the
# orchestrator hands out with locate).
#   - A puts public, followers-only and private files; B (not following)
#     gets the public one and a clear refusal for the others; B follows A
#     and gets the followers-only one, never the private one; C gets only
#     the public one; every download is byte-identical.
#   - after B unfollows, A's new followers-only content is not shared with B
#   - the orchestrator down: A's upload is kept and queued, A reads it
#     offline; once the orchestrator is back it is registered and B reads
#     it; nothing registered before is lost across the restart
#   - kill -9 A's PDS mid-upload: after a restart the upload is cleanly
#     absent (no catalogue entry, no stray blocks)
#   - kill -9 right after a put: the content is there after a restart;
#     kill -9 of a reader right after a get: its store (a cache written
#     behind) is sound and the content reads again
#   - storage limit with LRU eviction of cached blocks (own content kept)
#   - bad config, metrics, key file modes, CLI errors
set -u
BIN=${CPC_BIN_DIR:?CPC_BIN_DIR is not set}
CPC=$BIN/cpc
for b in cpc cpc-pds cpc-orchestrator; do
  [ -x "$BIN/$b" ] || { echo "FAIL: $b not built in $BIN"; exit 1; }
done
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "== $f"; tail -n 15 "$f"; done; exit 1; }
ok() { echo "ok - $*"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_for() { # FILE PATTERN [seconds]
  local i
  for i in $(seq 1 $((${3:-20} * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# --- orchestrator (fixed ports, so it can be restarted) --------------------
OREST=$(free_port); OGRPC=$(free_port)
ORCH=http://127.0.0.1:$OREST
start_orch() {
  "$BIN/cpc-orchestrator" --rest 127.0.0.1:$OREST --grpc 127.0.0.1:$OGRPC \
    --data "$T/orch" >>"$T/orch.log" 2>&1 &
  ORCH_PID=$!; PIDS+=($ORCH_PID)
  for i in $(seq 1 100); do curl -sf "$ORCH/healthz" >/dev/null && return 0; sleep 0.1; done
  fail "orchestrator did not start"
}
start_orch

# --- PDSes ----------------------------------------------------------------
declare -A API P2P PID PEER
cat >"$T/pds.json" <<EOF
{ "sync_interval_ms": 300, "fetch_timeout_ms": 20000,
  "cache_eviction": "lru", "encryption": "chacha20-poly1305" }
EOF
start_pds() { # NAME CONFIG [extra args]
  local n=$1 cfg=$2; shift 2
  [ -n "${P2P[$n]:-}" ] || P2P[$n]=$(free_port)
  [ -n "${API[$n]:-}" ] || API[$n]=$(free_port)
  : >"$T/$n.log"
  "$BIN/cpc-pds" --config "$cfg" --data "$T/$n" --orchestrator "$ORCH" \
    --api 127.0.0.1:${API[$n]} --listen /ip4/127.0.0.1/tcp/${P2P[$n]} "$@" \
    >>"$T/$n.log" 2>&1 &
  PID[$n]=$!; PIDS+=(${PID[$n]})
  wait_for "$T/$n.log" "api listening" || fail "PDS $n did not start"
  PEER[$n]=$(awk '/^peer id/ {print $3}' "$T/$n.log")
}
c() { # NAME cpc-args...
  local n=$1; shift
  CPC_PDS=http://127.0.0.1:${API[$n]} "$CPC" "$@" --data "$T/$n"
}
start_pds a "$T/pds.json"
A_ADDR=$(awk '/^listening on/ {print $3; exit}' "$T/a.log")
start_pds b "$T/pds.json" --bootstrap "$A_ADDR"
start_pds c "$T/pds.json" --bootstrap "$A_ADDR"

[ "$(stat -c %a "$T/a/api-token")" = 600 ] || fail "api-token is not 0600"
[ "$(stat -c %a "$T/a/identity")" = 600 ] || fail "identity is not 0600"
case ${PEER[a]} in 16Uiu2*) ;; *) fail "PeerId ${PEER[a]} is not a secp256k1 one";; esac
ok "three PDSes up; key files 0600; PeerIds ${PEER[a]:0:12}…"

# --- posting ----------------------------------------------------------------
head -c 1500000 /dev/urandom >"$T/pub.bin"
head -c 700000 /dev/urandom >"$T/fol.bin"
head -c 300000 /dev/urandom >"$T/priv.bin"
PUB=$(c a put "$T/pub.bin" --access public --name holiday-pub) || fail "put public"
FOL=$(c a put "$T/fol.bin" --access followers) || fail "put followers"
PRIV=$(c a put "$T/priv.bin" --access private) || fail "put private"
case $PUB in cpc://bafkr4*) ;; *) fail "put printed '$PUB', not a URI";; esac
c a ls >"$T/ls.txt" || fail "ls"
[ "$(grep -c registered "$T/ls.txt")" = 3 ] || fail "ls does not show 3 registered items: $(cat "$T/ls.txt")"
ok "A put public, followers-only and private content: $PUB"

# --- consumption ------------------------------------------------------------
c b get "$PUB" -o "$T/b_pub.bin" || fail "B get public"
cmp -s "$T/pub.bin" "$T/b_pub.bin" || fail "B's public download differs"
# -o onto something that is not a regular file writes through it, never
# replaces it (a FIFO here, read back whole).
mkfifo "$T/fifo"
cat "$T/fifo" > "$T/b_pub_fifo.bin" &
c b get "$PUB" -o "$T/fifo" || fail "B get public into a FIFO"
wait $!
[ -p "$T/fifo" ] || fail "get -o replaced the FIFO"
cmp -s "$T/pub.bin" "$T/b_pub_fifo.bin" || fail "the FIFO got other bytes"
if c b get "$FOL" -o "$T/b_fol.bin" 2>"$T/err.txt"; then fail "B (not following) got followers-only content"; fi
grep -q "refused" "$T/err.txt" || fail "no clear refusal: $(cat "$T/err.txt")"
[ ! -e "$T/b_fol.bin" ] || fail "a refused get left an output file"
if c b get "$PRIV" -o "$T/b_priv.bin" 2>/dev/null; then fail "B got private content"; fi
ok "B (stranger) got the public file byte-identical and a refusal for the others: $(head -c 90 "$T/err.txt")…"

c b follow "${PEER[a]}" >/dev/null || fail "B follow A"
c a followers | grep -q "${PEER[b]}" || fail "A's followers lack B"
c b following | grep -q "${PEER[a]}" || fail "B's following lacks A"
got=0
for i in $(seq 1 50); do
  if c b get "$FOL" -o "$T/b_fol.bin" 2>"$T/err.txt"; then got=1; break; fi
  sleep 0.2
done
[ $got = 1 ] || fail "B (following) never got the followers-only content: $(cat "$T/err.txt")"
cmp -s "$T/fol.bin" "$T/b_fol.bin" || fail "B's followers-only download differs"
if c b get "$PRIV" -o "$T/b_priv.bin" 2>/dev/null; then fail "B (following) got private content"; fi
ok "B followed A, got the followers-only file (key wrapped by A's PDS) and never the private one"

c c get "$PUB" -o "$T/c_pub.bin" || fail "C get public"
cmp -s "$T/pub.bin" "$T/c_pub.bin" || fail "C's public download differs"
if c c get "$FOL" -o /dev/null 2>/dev/null; then fail "C got followers-only content"; fi
if c c get "$PRIV" -o /dev/null 2>/dev/null; then fail "C got private content"; fi
c a get "$PRIV" -o "$T/a_priv.bin" || fail "A get own private"
cmp -s "$T/priv.bin" "$T/a_priv.bin" || fail "A's own private download differs"
c a get "$PUB" | cmp -s - "$T/pub.bin" || fail "get to standard output differs"
ok "C got only the public file; A reads its own private file"

c b unfollow "${PEER[a]}" >/dev/null || fail "B unfollow A"
head -c 200000 /dev/urandom >"$T/fol2.bin"
FOL2=$(c a put "$T/fol2.bin" --access followers) || fail "put fol2"
sleep 1
if c b get "$FOL2" -o /dev/null 2>/dev/null; then fail "B got new followers-only content after unfollowing"; fi
if command -v sqlite3 >/dev/null; then
  n=$(sqlite3 "$T/a/pds.db" "SELECT count(*) FROM readers WHERE content_id = '${FOL2#cpc://}' AND reader = '${PEER[b]}'")
  [ "$n" = 0 ] || fail "A wrapped new content for B after the unfollow"
fi
ok "after unfollowing, B is not given A's new followers-only content"

c a search holiday | grep -q "${PUB#cpc://}" || fail "search does not find the public file"
c a profile set --display-name "Alice A" --bio "hi" >/dev/null || fail "profile set"
c b profile get "${PEER[a]}" | grep -q '"Alice A"' || fail "profile get"
c a status >"$T/status.txt" || fail "status"
grep -q "^content .*4 items" "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
ok "search, profile, status"

curl -s "http://127.0.0.1:${API[a]}/metrics" >"$T/metrics.txt"
grep -q 'cpc_bandwidth_bytes{node_type="pds",direction="out"}' "$T/metrics.txt" || fail "metrics lack cpc_bandwidth_bytes"
out=$(awk '/^cpc_pds_traffic_bytes_total\{direction="out"\}/ {print $2}' "$T/metrics.txt")
[ "${out%.*}" -ge 1500000 ] 2>/dev/null || fail "A's traffic out is $out bytes, expected >= 1.5 MB"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${API[a]}/v1/status")" = 401 ] || fail "API answers without a token"
ok "metrics (A sent $out bytes over Bitswap), token required"

# --- orchestrator down: local-first ------------------------------------------
head -c 900000 /dev/urandom >"$T/pub2.bin"
PUB2=$(c a put "$T/pub2.bin" --access public) || fail "put pub2"
sleep 0.5
kill -TERM $ORCH_PID; wait $ORCH_PID 2>/dev/null
c c get "$PUB2" -o "$T/c_pub2dht.bin" 2>"$T/err.txt" || fail "C cannot find public content through the DHT: $(cat "$T/err.txt")"
cmp -s "$T/pub2.bin" "$T/c_pub2dht.bin" || fail "C's DHT download differs"
if c c get "$FOL" -o /dev/null 2>/dev/null; then fail "C got followers-only content through the DHT"; fi
ok "orchestrator down: public content found through the DHT (owner's signed key record) and fetched"
head -c 400000 /dev/urandom >"$T/off.bin"
OFF=$(c a put "$T/off.bin" --access public 2>"$T/err.txt") || fail "put while the orchestrator is down"
grep -q queued "$T/err.txt" || fail "no 'queued' note: $(cat "$T/err.txt")"
c a ls | grep "${OFF}" | grep -q queued || fail "ls does not show the upload queued"
c a get "$OFF" -o "$T/a_off.bin" || fail "A cannot read its own content offline"
cmp -s "$T/off.bin" "$T/a_off.bin" || fail "offline read differs"
c b get "$OFF" -o "$T/b_off_dht.bin" || fail "B cannot read A's queued public upload through the DHT"
cmp -s "$T/off.bin" "$T/b_off_dht.bin" || fail "B's DHT download of the queued upload differs"
OFFP=$(c a put "$T/priv.bin" --access private --name offline-private 2>/dev/null) || fail "private put while the orchestrator is down"
if c b get "$OFFP" -o /dev/null 2>"$T/err.txt"; then fail "B read private content while the orchestrator is down"; fi
grep -q "orchestrator" "$T/err.txt" || fail "unclear error while the orchestrator is down: $(cat "$T/err.txt")"
ok "orchestrator down: uploads stored and queued, readable by their owner (public ones by anyone, through the DHT)"
start_orch
for i in $(seq 1 50); do [ "$(c a ls | grep -c queued)" = 0 ] && break; sleep 0.2; done
c a ls | grep "${OFFP}" | grep -q registered || fail "queued private upload not registered"
c a ls | grep "${OFF}" | grep -q registered || fail "queued upload not registered after the orchestrator came back"
c b get "$OFF" -o "$T/b_off.bin" || fail "B get the formerly queued content"
cmp -s "$T/off.bin" "$T/b_off.bin" || fail "B's download of the formerly queued content differs"
c c get "$PUB" -o "$T/c_pub2.bin" && cmp -s "$T/pub.bin" "$T/c_pub2.bin" || fail "content lost across the orchestrator restart"
c a followers >/dev/null || fail "followers after restart"
ok "orchestrator back: the queued upload was registered; nothing registered before was lost"

# --- kill -9 mid-upload ----------------------------------------------------
blocks_before=$(c a status --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["storage"]["blocks"])')
( head -c 1200000 /dev/urandom; sleep 3; head -c 1200000 /dev/urandom ) |
  c a put - --access public >"$T/mid.out" 2>"$T/mid.err" &
PUT_PID=$!
sleep 1.5
kill -9 ${PID[a]}
wait $PUT_PID 2>/dev/null && fail "the interrupted put reported success"
start_pds a "$T/pds.json"
grep -q "removed .* blocks" "$T/a.log" || fail "restart did not clean the partial upload's blocks"
items=$(c a ls --json | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["items"]))')
[ "$items" = 7 ] || fail "after kill -9 mid-upload A has $items items, expected 7"
blocks_after=$(c a status --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["storage"]["blocks"])')
[ "$blocks_after" = "$blocks_before" ] || fail "block count $blocks_before before, $blocks_after after the interrupted upload"
c b get "$PUB" -o "$T/b_pub3.bin" && cmp -s "$T/pub.bin" "$T/b_pub3.bin" || fail "A's content not served after restart"
ok "kill -9 mid-upload: after restart the upload is cleanly absent ($blocks_after blocks, $items items)"

# --- kill -9 right after a put, and right after a get -------------------------
# Own content's blocks are committed (synced) before the put answers; blocks
# fetched from others are a cache, written behind in groups: a kill -9 may
# lose the last ones, but the reader's store stays sound and the content
# reads back whole (what was kept from the cache, the rest fetched again).
head -c 3000000 /dev/urandom >"$T/dur.bin"
DUR=$(c a put "$T/dur.bin" --access public) || fail "A put before a kill -9"
kill -9 ${PID[a]}; wait ${PID[a]} 2>/dev/null
start_pds a "$T/pds.json"
c a get "$DUR" -o "$T/a_dur.bin" && cmp -s "$T/dur.bin" "$T/a_dur.bin" ||
  fail "A's content put right before a kill -9 is not readable after a restart"
c b get "$DUR" -o "$T/b_dur.bin" && cmp -s "$T/dur.bin" "$T/b_dur.bin" ||
  fail "B get before its kill -9"
kill -9 ${PID[b]}; wait ${PID[b]} 2>/dev/null
"$CPC" block scrub --store "$T/b/blocks" >"$T/scrub.txt" 2>&1 ||
  fail "scrub of B's store after a kill -9: $(cat "$T/scrub.txt")"
grep -q ", 0 bad," "$T/scrub.txt" || fail "B's store after a kill -9: $(cat "$T/scrub.txt")"
start_pds b "$T/pds.json" --bootstrap "$A_ADDR"
c b get "$DUR" -o "$T/b_dur2.bin" && cmp -s "$T/dur.bin" "$T/b_dur2.bin" ||
  fail "B cannot read the content again after a kill -9"
ok "kill -9 right after a put: own content readable; right after a get: the reader's store sound ($(sed 's/.*: //' "$T/scrub.txt")), the content read again"

# --- storage limit and LRU eviction ------------------------------------------
cat >"$T/small.json" <<EOF
{ "storage_limit": "1300KiB", "sync_interval_ms": 300, "fetch_timeout_ms": 20000 }
EOF
start_pds d "$T/small.json"
head -c 300000 /dev/urandom >"$T/own_d.bin"
OWN_D=$(c d put "$T/own_d.bin" --access private) || fail "D put own"
for k in 1 2 3; do
  head -c 500000 /dev/urandom >"$T/s$k.bin"
  S[$k]=$(c a put "$T/s$k.bin" --access public) || fail "A put s$k"
done
for k in 1 2 3; do
  c d get "${S[$k]}" -o "$T/d_s$k.bin" || fail "D get s$k under the storage limit"
  cmp -s "$T/s$k.bin" "$T/d_s$k.bin" || fail "D's s$k differs"
done
c d status --json >"$T/d.json"
read used limit evicted < <(python3 -c 'import json,sys;s=json.load(open(sys.argv[1]))["storage"];print(s["used"],s["limit"],s["evicted_blocks"])' "$T/d.json")
[ "$used" -le "$limit" ] || fail "D uses $used bytes over its limit $limit"
[ "$evicted" -gt 0 ] || fail "D evicted nothing (used $used of $limit)"
c d get "$OWN_D" -o "$T/d_own.bin" && cmp -s "$T/own_d.bin" "$T/d_own.bin" || fail "D's own content was evicted"
c d get "${S[1]}" -o "$T/d_s1b.bin" && cmp -s "$T/s1.bin" "$T/d_s1b.bin" || fail "D cannot fetch an evicted file again"
head -c 2000000 /dev/urandom >"$T/big.bin"
BIG=$(c a put "$T/big.bin" --access public) || fail "A put big"
if c d get "$BIG" -o /dev/null 2>"$T/err.txt"; then fail "D got content larger than its storage limit"; fi
grep -q "storage limit" "$T/err.txt" || fail "unclear storage-limit error: $(cat "$T/err.txt")"
ok "storage limit $limit: $used used, $evicted cached blocks evicted (LRU), own content kept, too-large content refused"

# --- bandwidth limit -------------------------------------------------------------
# E may move 1 MiB/s; a 4 MB download must not run faster than that + 10%
# (a cap is a bound on the rate: load can only make it slower).
cat >"$T/slow.json" <<EOF
{ "bandwidth_limit": "1MiB", "sync_interval_ms": 300, "fetch_timeout_ms": 30000 }
EOF
start_pds e "$T/slow.json"
head -c 4000000 /dev/urandom >"$T/bw.bin"
BW=$(c a put "$T/bw.bin" --access public) || fail "A put bw"
t0=$(date +%s.%N)
c e get "$BW" -o "$T/e_bw.bin" || fail "E get under the bandwidth limit"
t1=$(date +%s.%N)
cmp -s "$T/bw.bin" "$T/e_bw.bin" || fail "E's download differs"
sleep 1.2 # the PDS reads its traffic counters once a second
recv=$(c e status --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["bandwidth"]["received"])')
rate=$(python3 -c "print(int($recv / ($t1 - $t0)))")
python3 -c "import sys; sys.exit(0 if $rate <= 1.1 * 1048576 else 1)" ||
  fail "E received $recv bytes in $(python3 -c "print(round($t1 - $t0, 2))") s: $rate B/s, over 1 MiB/s + 10%"
[ "$recv" -ge 4000000 ] || fail "E's traffic counter says $recv bytes for a 4 MB download"
ok "bandwidth limit 1 MiB/s: $recv bytes received at $rate B/s"

# --- bad input -----------------------------------------------------------------
echo '{"storage_limit": "lots"}' >"$T/bad.json"
"$BIN/cpc-pds" --config "$T/bad.json" --data "$T/bad" 2>"$T/err.txt" && fail "bad config accepted"
grep -q "storage_limit" "$T/err.txt" || fail "bad config error does not name the key: $(cat "$T/err.txt")"
echo '{"network": {"bootstrap": ["/ip4/127.0.0.1/tcp/1"]}}' >"$T/bad.json"
"$BIN/cpc-pds" --config "$T/bad.json" --data "$T/bad" 2>"$T/err.txt" && fail "bootstrap without /p2p/ accepted"
grep -q "network.bootstrap" "$T/err.txt" || fail "bad bootstrap error: $(cat "$T/err.txt")"
CPC_PDS=http://127.0.0.1:1 "$CPC" ls --data "$T/a" 2>"$T/err.txt"; [ $? = 1 ] || fail "ls against no PDS did not exit 1"
grep -q "cannot reach the PDS" "$T/err.txt" || fail "unclear unreachable error: $(cat "$T/err.txt")"
"$CPC" get not-a-uri --data "$T/a" 2>/dev/null && fail "bad URI accepted"
c a rm "$PRIV" >/dev/null || fail "rm"
c a ls | grep -q "${PRIV}" && fail "rm left the item"
if c b get "$PRIV" -o /dev/null 2>/dev/null; then fail "removed content still readable"; fi
ok "bad config names the key; CLI errors; rm"

# --- clean stop -------------------------------------------------------------
for n in a b c d; do kill -TERM ${PID[$n]}; done
for n in a b c d; do wait ${PID[$n]}; rc=$?; [ $rc = 0 ] || fail "PDS $n exited $rc on SIGTERM"; done
ok "every PDS stopped cleanly on SIGTERM"
echo "PASS"
