#!/usr/bin/env bash
# cpc net on the command line: usage, exit codes and messages; a listener
# that prints its address, answers ping/identify/echo/sink (cpc net send) and
# exits 0 on SIGTERM
# and SIGINT; raw garbage and a slow-loris socket (bash /dev/tcp) leave it
# healthy.
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

for c in "net --help" "net listen --help" "net ping --help"; do
  $cpc $c | grep -q usage || fail "$c prints no usage"
done
expect_status 2 $cpc net
expect_status 2 $cpc net frobnicate
expect_status 2 $cpc net ping
expect_status 2 $cpc net ping not-an-address
expect_status 2 $cpc net ping /ip4/127.0.0.1/tcp/1 -n 0
expect_status 2 $cpc net ping /ip4/127.0.0.1/udp/1/quic-v1
grep -q "only /ip4|ip6|dns4" "$dir/err" || fail "no hint for an unsupported address"
expect_status 1 $cpc net ping /dns4/nonexistent.invalid/tcp/1 --timeout 5000
grep -Eq "does not resolve|unreachable|timed out" "$dir/err" || fail "no clear message for a name that does not resolve: $(cat "$dir/err")"

# a port nobody listens on
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_status 1 $cpc net ping /ip4/127.0.0.1/tcp/$port
grep -q "refused" "$dir/err" || fail "no clear message for a refused connection: $(cat "$dir/err")"

# a key file with the wrong mode is refused with the fix
$cpc key new --type secp256k1 --out "$dir/k" >/dev/null
chmod 644 "$dir/k"
expect_status 1 $cpc net listen /ip4/127.0.0.1/tcp/0 --key "$dir/k"
grep -q "chmod 600" "$dir/err" || fail "no chmod hint"
chmod 600 "$dir/k"

start_listener() { # out-file [args...]
  local out=$1; shift
  $cpc net listen /ip4/127.0.0.1/tcp/0 "$@" >"$out" 2>"$out.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  [ -s "$out" ] || fail "listener printed no address: $(cat "$out.err")"
}

start_listener "$dir/l1" --key "$dir/k" --timeout 1000
pid=${pids[-1]}
addr=$(head -1 "$dir/l1")
[[ $addr == /ip4/127.0.0.1/tcp/*/p2p/16Uiu2* ]] || fail "bad address line: $addr"
port=$(echo "$addr" | cut -d/ -f5)

expect_status 0 $cpc net ping "$addr" -n 2
[ "$(grep -cE '^[0-9]+\.[0-9]{3} ms$' "$dir/out")" = 2 ] || fail "ping output: $(cat "$dir/out")"
expect_status 0 $cpc net ping "/dns4/localhost/tcp/$port/p2p/${addr##*/}"
expect_status 0 $cpc net identify "$addr"
grep -q '"agent_version": "cpc/0.1.0"' "$dir/out" || fail "identify output: $(cat "$dir/out")"
expect_status 0 $cpc net echo "$addr" --streams 8 --bytes 100000
grep -q '"failed": 0' "$dir/out" || fail "echo output: $(cat "$dir/out")"
# the /cpc/sink/1.0.0 benchmark pair (bench/net.sh), zero bytes included
expect_status 0 $cpc net send "$addr" --bytes 3000001
grep -q '"bytes": 3000001,' "$dir/out" || fail "send output: $(cat "$dir/out")"
expect_status 0 $cpc net send "$addr" --bytes 0
grep -q '"bytes": 0,' "$dir/out" || fail "send output: $(cat "$dir/out")"
expect_status 2 $cpc net send "$addr" --bytes -1
# bandwidth caps: the sender's upload (its bucket starts empty: the whole
# transfer stays under cap + 10%), then a listener's download (an idle
# listener's bucket holds a burst of 1/10 s: 3 MB take at least 1.4 s)
expect_status 2 $cpc net send "$addr" --upload-bps 5X
expect_status 0 $cpc net send "$addr" --bytes 3000000 --upload-bps 2M
rate=$(sed -n 's/.*"mb_per_s": \([0-9.]*\).*/\1/p' "$dir/out")
awk -v r="$rate" 'BEGIN { exit !(r > 0 && r <= 2.2) }' || fail "--upload-bps 2M sent at $rate MB/s"
start_listener "$dir/l3" --download-bps 2M
expect_status 0 $cpc net send "$(head -1 "$dir/l3")" --bytes 3000000
rate=$(sed -n 's/.*"mb_per_s": \([0-9.]*\).*/\1/p' "$dir/out")
awk -v r="$rate" 'BEGIN { exit !(r > 0 && r <= 2.4) }' || fail "a listener with --download-bps 2M took $rate MB/s"

# the wrong PeerId in the address
other=$($cpc key new --type ed25519 --out "$dir/k2")
expect_status 1 $cpc net ping "/ip4/127.0.0.1/tcp/$port/p2p/$other"
grep -q "not the PeerId" "$dir/err" || fail "no clear mismatch message: $(cat "$dir/err")"

# garbage, an oversized length, and a slow-loris from plain sockets
head -c 5000 /dev/urandom >"$dir/junk"
(exec 3<>/dev/tcp/127.0.0.1/$port; cat "$dir/junk" >&3; timeout 5 cat <&3 >/dev/null || true) || true
(exec 3<>/dev/tcp/127.0.0.1/$port; printf '\xff\xff\xff\x0f' >&3; timeout 5 cat <&3 >/dev/null || true) || true
start=$(date +%s%N)
(exec 3<>/dev/tcp/127.0.0.1/$port
 for c in / m u l t i s t r e a m; do printf '%s' "$c" >&3 2>/dev/null || break; sleep 0.2; done
 timeout 5 cat <&3 >/dev/null || true) || true
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 4000 ] || fail "slow-loris socket kept for ${elapsed} ms"
kill -0 "$pid" || fail "listener died"
expect_status 0 $cpc net ping "$addr"

kill -TERM "$pid"
set +e; wait "$pid"; st=$?; set -e
[ "$st" = 0 ] || fail "listener exited $st on SIGTERM"

start_listener "$dir/l2"
pid=${pids[-1]}
grep -q '/p2p/12D3KooW' "$dir/l2" || fail "default key is not Ed25519"
kill -INT "$pid"
set +e; wait "$pid"; st=$?; set -e
[ "$st" = 0 ] || fail "listener exited $st on SIGINT"
echo ok
