#!/usr/bin/env bash
# cpc block get --peer (Bitswap) against cpc net listen --store: one block to
# stdout and -o, several into a store, blocks already stored, DONT_HAVE,
# an unreachable peer, a wrong PeerId, usage errors; `net listen` without
# --store does not speak Bitswap.
set -euo pipefail
cpc=${CPC_BIN:?CPC_BIN must name the cpc binary}
dir=$(mktemp -d)
# listen runs in $(...), a subshell: the peers' pids go to a file.
cleanup() {
  if [ -f "$dir/pids" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$dir/pids"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { # want_status command...
  local want=$1; shift
  set +e; timeout 30 "$@" >"$dir/out" 2>"$dir/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "$* exited $got, wanted $want: $(cat "$dir/err")"
}
listen() { # store-or-empty -> prints the address
  local out="$dir/listen.$RANDOM"
  if [ -n "$1" ]; then
    $cpc net listen /ip4/127.0.0.1/tcp/0 --store "$1" >"$out" 2>&1 &
  else
    $cpc net listen /ip4/127.0.0.1/tcp/0 >"$out" 2>&1 &
  fi
  echo $! >>"$dir/pids"
  for _ in $(seq 1 50); do [ -s "$out" ] && { head -1 "$out"; return; }; sleep 0.1; done
  fail "net listen printed no address: $(cat "$out")"
}

$cpc block --help | grep -q -- "--peer" || fail "block --help does not mention --peer"
$cpc net --help | grep -q -- "--store" || fail "net --help does not mention --store"

head -c 700000 /dev/urandom >"$dir/big"
head -c 1000 /dev/urandom >"$dir/small"
c1=$($cpc block put "$dir/big" --store "$dir/a")
c2=$($cpc block put "$dir/small" --store "$dir/a" --hash sha2-256)
c3=$($cpc block put "$dir/small" --store "$dir/other")
missing=$($cpc block put "$dir/big" --store "$dir/other" --hash sha2-256)
addr=$(listen "$dir/a")

# one block to stdout, and to -o
expect_status 0 $cpc block get "$c1" --peer "$addr"
cmp -s "$dir/out" "$dir/big" || fail "stdout differs"
expect_status 0 $cpc block get "$c2" --peer "$addr" -o "$dir/got"
cmp -s "$dir/got" "$dir/small" || fail "-o differs"
# several into a store; then again: all from the store
expect_status 0 $cpc block get "$c1" "$c2" --peer "$addr" --store "$dir/b"
grep -q "2 blocks" "$dir/err" || fail "no summary: $(cat "$dir/err")"
expect_status 0 $cpc block get "$c1" --store "$dir/b"
cmp -s "$dir/out" "$dir/big" || fail "stored block differs"
expect_status 0 $cpc block get "$c1" "$c2" --peer "$addr" --store "$dir/b"
grep -q "2 from the store" "$dir/err" || fail "not served from the store: $(cat "$dir/err")"

# the peer does not have it: DONT_HAVE, exit 1, says so
expect_status 1 $cpc block get "$missing" --peer "$addr"
grep -q "not found (the peer answered DONT_HAVE)" "$dir/err" || fail "DONT_HAVE: $(cat "$dir/err")"
[ -s "$dir/out" ] && fail "bytes written for a missing block"

# nobody listening
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_status 1 $cpc block get "$c1" --peer /ip4/127.0.0.1/tcp/$port
grep -q "cannot reach the peer.*refused" "$dir/err" || fail "unreachable: $(cat "$dir/err")"
# another PeerId answers
bad=${addr%/p2p/*}/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA
expect_status 1 $cpc block get "$c1" --peer "$bad"
grep -q "not the PeerId" "$dir/err" || fail "wrong PeerId: $(cat "$dir/err")"
# a host without --store does not speak Bitswap
plain=$(listen "")
expect_status 1 $cpc block get "$c3" --peer "$plain"
grep -q "does not speak Bitswap" "$dir/err" || fail "no Bitswap: $(cat "$dir/err")"

# usage errors
expect_status 2 $cpc block get "$c1" "$c2" --peer "$addr"
grep -q "need --store" "$dir/err" || fail "several CIDs without --store: $(cat "$dir/err")"
expect_status 2 $cpc block get not-a-cid --peer "$addr"
expect_status 2 $cpc block get "$c1" --peer not-an-address
expect_status 2 $cpc block get "$c1" --peer "$addr" --timeout 0
expect_status 2 $cpc block put "$dir/small" --peer "$addr" --store "$dir/a"
echo ok
