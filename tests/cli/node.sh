#!/usr/bin/env bash
# cpc-node's command line: --help, init (key mode 0600, config with human
# units, refusal to overwrite, bad values named), run without init, bad
# options; a node without an orchestrator serves its store over Bitswap
# and /metrics, and stops cleanly on SIGTERM; with a bootstrap peer it
# provides its blocks on the DHT (found with `cpc dht find-providers`).
set -euo pipefail
BIN=${CPC_BIN_DIR:?CPC_BIN_DIR must be the build directory}
NODE=$BIN/cpc-node
CPC=$BIN/cpc
W=$(mktemp -d /tmp/cpc-cli-node.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

help=$("$NODE" --help)
grep -q 'cpc-node init --data DIR --capacity SIZE' <<<"$help" || fail "--help"

# bad values are named
out=$("$NODE" init --data "$W/a" --capacity 5X 2>&1) && fail "bad capacity accepted"
grep -q "'5X' is not a size" <<<"$out" || fail "bad capacity message: $out"
out=$("$NODE" init --data "$W/a" --capacity 1G --bandwidth fast 2>&1) && fail "bad rate accepted"
grep -q "'fast' is not a rate" <<<"$out" || fail "bad rate message: $out"
out=$("$NODE" init --data "$W/a" 2>&1) && fail "init without capacity accepted"
grep -q -- "--capacity" <<<"$out" || fail "missing capacity message: $out"
out=$("$NODE" init --data "$W/a" --capacity 1G --metrics nowhere 2>&1) && fail "bad metrics address accepted"
grep -q "metrics: 'nowhere'" <<<"$out" || fail "bad metrics message: $out"
out=$("$NODE" --bogus 2>&1) && fail "unknown option accepted"
grep -q "unknown option '--bogus'" <<<"$out" || fail "unknown option message: $out"

# init
out=$("$NODE" init --data "$W/a" --capacity 1.5G --bandwidth 100Mbit --region eu/1 \
  --listen /ip4/127.0.0.1/tcp/0)
id=$(sed -n 's/^peer_id //p' <<<"$out")
[[ $id == 12D3KooW* ]] || fail "init printed no Ed25519 PeerId: $out"
[ "$(stat -c %a "$W/a/node.key")" = 600 ] || fail "node.key is not mode 600"
grep -q '"capacity": 1500000000' "$W/a/node.json" || fail "capacity not in node.json"
grep -q '"bandwidth": 12500000' "$W/a/node.json" || fail "bandwidth not in node.json"
out=$("$NODE" init --data "$W/a" --capacity 1G 2>&1) && fail "second init accepted"
grep -q "already holds a node" <<<"$out" || fail "second init message: $out"

# run without init; key readable by others
out=$("$NODE" --data "$W/none" 2>&1) && fail "run without init accepted"
grep -q "cpc-node init" <<<"$out" || fail "run without init message: $out"
chmod 644 "$W/a/node.key"
out=$("$NODE" --data "$W/a" 2>&1) && fail "a key readable by others was accepted"
grep -q "chmod 600" <<<"$out" || fail "key mode message: $out"
chmod 600 "$W/a/node.key"

# serve a block without an orchestrator
head -c 3000 /dev/urandom >"$W/blk"
cid=$("$CPC" block put "$W/blk" --store "$W/a/blocks")
"$NODE" --data "$W/a" --metrics 127.0.0.1:0 >"$W/out" 2>"$W/log" &
pid=$!
for _ in $(seq 1 50); do grep -q '^metrics listening' "$W/out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$W/out" | head -1)
met=$(sed -n 's/^metrics listening on //p' "$W/out")
[ -n "$addr" ] && [ -n "$met" ] || fail "node did not start: $(cat "$W/log")"
grep -q "$id" <<<"$addr" || fail "listen address without the PeerId"
"$CPC" block get "$cid" --peer "$addr" -o "$W/got" || fail "block not served"
cmp -s "$W/blk" "$W/got" || fail "served block differs"
m=$(curl -sf "http://$met/metrics")
grep -q '^cpc_node_blocks 1$' <<<"$m" || fail "/metrics: cpc_node_blocks"
grep -q '^cpc_node_disk_capacity_bytes 1500000000$' <<<"$m" || fail "/metrics: capacity"
grep -q 'no orchestrator given' "$W/log" || fail "log does not say it runs without an orchestrator"
kill -TERM "$pid"
wait "$pid" || fail "node did not stop cleanly on SIGTERM"
pid=

# with bootstrap peers the node joins the DHT and provides what it holds:
# a DHT server (its own bootstrap is a peer that is not there) as the seed
nobody=$("$CPC" key new --type ed25519 --out "$W/nobody.key")
"$CPC" net listen /ip4/127.0.0.1/tcp/0 --bootstrap "/ip4/127.0.0.1/tcp/9/p2p/$nobody" \
  >"$W/seed.out" 2>"$W/seed.log" &
seed=$!
for _ in $(seq 1 50); do grep -q /p2p/ "$W/seed.out" 2>/dev/null && break; sleep 0.1; done
seed_addr=$(head -1 "$W/seed.out")
"$NODE" --data "$W/a" --bootstrap "$seed_addr" >"$W/out" 2>"$W/log" &
pid=$!
found=
for _ in $(seq 1 30); do
  providers=$("$CPC" dht find-providers "$cid" --bootstrap "$seed_addr" --timeout 3000 2>/dev/null || true)
  if grep -q "^$id" <<<"$providers"; then
    found=1
    break
  fi
  sleep 0.3
done
kill -TERM "$pid" "$seed"
wait "$pid" || true
wait "$seed" || true
pid=
[ -n "$found" ] || fail "the node's block is not provided on the DHT: $(cat "$W/log")"
echo PASS
