#!/usr/bin/env bash
# cpc dht on the command line: usage and exit codes; five `cpc net listen`
# DHT servers joined through the first; `cpc dht provide` (exits after
# announcing) and `provide --stay` (serves until SIGINT); find-providers
# from another entry point finds both with their addresses; find-peer
# prints a listener's address; unknown content and peers exit 1; an
# unreachable bootstrap peer fails with a hint. Every process is killed at
# the end and every wait is bounded.
set -euo pipefail
cpc=${CPC_BIN:?CPC_BIN must name the cpc binary}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { # want_status command...
  local want=$1; shift
  set +e; timeout 30 "$@" >"$dir/out" 2>"$dir/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "$* exited $got, wanted $want: $(cat "$dir/err")"
}

for c in "dht --help" "dht provide --help" "dht find-providers --help" "dht find-peer --help"; do
  $cpc $c | grep -q usage || fail "$c prints no usage"
done
cid=$(echo "cpc dht test $$" | $cpc cid --hash sha2-256 -)
expect_status 2 $cpc dht
expect_status 2 $cpc dht frobnicate
expect_status 2 $cpc dht find-providers "$cid"
grep -q -- "--bootstrap" "$dir/err" || fail "no hint to give --bootstrap"
expect_status 2 $cpc dht find-providers not-a-cid --bootstrap /ip4/127.0.0.1/tcp/1/p2p/12D3KooWNaZ5YHejQPhfksqxZSxVWM2mUtuaNcEMAuVQsQthUhnZ
expect_status 2 $cpc dht find-peer not-a-peer --bootstrap /ip4/127.0.0.1/tcp/1/p2p/12D3KooWNaZ5YHejQPhfksqxZSxVWM2mUtuaNcEMAuVQsQthUhnZ
expect_status 2 $cpc dht find-providers "$cid" --bootstrap /ip4/127.0.0.1/tcp/1
grep -q "/p2p/" "$dir/err" || fail "no hint that the bootstrap address needs /p2p/"
expect_status 2 $cpc net listen --bootstrap /ip4/127.0.0.1/tcp/1

# nobody at the bootstrap address
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_status 1 $cpc dht find-providers "$cid" --timeout 10000 \
  --bootstrap /ip4/127.0.0.1/tcp/$port/p2p/12D3KooWNaZ5YHejQPhfksqxZSxVWM2mUtuaNcEMAuVQsQthUhnZ
grep -q "no --bootstrap peer answered" "$dir/err" || fail "unreachable bootstrap: $(cat "$dir/err")"

start_listener() { # out-file [args...]
  local out=$1; shift
  $cpc net listen /ip4/127.0.0.1/tcp/0 "$@" >"$out" 2>"$out.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  [ -s "$out" ] || fail "listener printed no address: $(cat "$out.err")"
}
start_listener "$dir/l0"
boot=$(head -1 "$dir/l0")
for i in 1 2 3 4; do start_listener "$dir/l$i" --bootstrap "$boot"; done
for i in 1 2 3 4; do
  for _ in $(seq 100); do grep -q "dht: joined" "$dir/l$i.err" && break; sleep 0.05; done
  grep -q "dht: joined" "$dir/l$i.err" || fail "listener $i did not join: $(cat "$dir/l$i.err")"
done

# provide and exit; provide and stay
$cpc key new --type ed25519 --out "$dir/k1" >/dev/null
expect_status 0 $cpc dht provide "$cid" --bootstrap "$boot" --key "$dir/k1" --listen /ip4/127.0.0.1/tcp/0
p1=$(head -1 "$dir/out")
grep -q "announced $cid to [1-9]" "$dir/err" || fail "provide: $(cat "$dir/err")"
$cpc dht provide "$cid" --bootstrap "$(head -1 "$dir/l2")" --listen /ip4/127.0.0.1/tcp/0 --stay \
  >"$dir/stay" 2>"$dir/stay.err" &
stay=$!
pids+=($stay)
for _ in $(seq 100); do grep -q "announced" "$dir/stay.err" && break; sleep 0.05; done
grep -q "announced" "$dir/stay.err" || fail "provide --stay: $(cat "$dir/stay.err")"
p2=$(head -1 "$dir/stay")

expect_status 0 $cpc dht find-providers "$cid" --bootstrap "$(head -1 "$dir/l3")"
grep -qF "${p1##*/} $p1" "$dir/out" || fail "provider 1 ($p1) not found: $(cat "$dir/out")"
grep -qF "${p2##*/} $p2" "$dir/out" || fail "provider 2 ($p2) not found: $(cat "$dir/out")"
grep -qE "find-providers: [0-9]+ hops" "$dir/err" || fail "no hop stats: $(cat "$dir/err")"
# the provider that stayed is there to be reached
expect_status 0 $cpc net ping "$p2"
kill -INT $stay
set +e; timeout 10 tail --pid=$stay -f /dev/null; set -e
wait $stay || fail "provide --stay did not exit 0 on SIGINT"

expect_status 0 $cpc dht find-peer "${boot##*/}" --bootstrap "$(head -1 "$dir/l4")"
grep -qxF "$boot" "$dir/out" || fail "find-peer: $(cat "$dir/out")"
l3=$(head -1 "$dir/l3")
expect_status 0 $cpc dht find-peer "${l3##*/}" --bootstrap "$boot"
grep -qxF "$l3" "$dir/out" || fail "find-peer: $(cat "$dir/out")"

other=$(echo "nobody has this $$" | $cpc cid --hash sha2-256 -)
expect_status 1 $cpc dht find-providers "$other" --bootstrap "$boot"
grep -q "no provider" "$dir/err" || fail "no message for a missing provider"
ghost=$($cpc key new --type ed25519 --out "$dir/k2" | head -1)
expect_status 1 $cpc dht find-peer "$ghost" --bootstrap "$boot"
grep -q "not found" "$dir/err" || fail "no message for a missing peer: $(cat "$dir/err")"
echo "dht cli: ok"
