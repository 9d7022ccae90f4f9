#!/usr/bin/env bash
# libp2p transport benchmark (issue 3; DESIGN.md section 9: ratios against
# references measured in the same run), all on 127.0.0.1:
#  1. One stream, /cpc/sink/1.0.0 (the dialer sends, the listener counts):
#     C -> C (`cpc net send` to `cpc net listen`), js-libp2p -> js-libp2p
#     (bench/net_js.mjs, same protocol), iperf3 (plain TCP, the ceiling),
#     and ChaCha20-Poly1305 on one core, libcpc's and libsodium's
#     (bench/net_chacha.c).
#     Targets: C->C >= 3x js, and >= 0.5x one core's ChaCha20-Poly1305.
#  2. Memory: RSS of `cpc net listen` before and with N idle connections
#     from one C host (bench/net_conns.c), per connection (target <= 64
#     KiB); all N stay up and a ping goes through the last one.
# usage: bench/net.sh [BUILD_DIR]   (default build; needs cpc, libcpc.a, node)
# env: BENCH_NET_MIB (C->C and iperf3, default 1024), BENCH_NET_JS_MIB
#      (default 1024), BENCH_NET_RUNS (best of, default 3),
#      BENCH_NET_CONNS (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x $build/cpc && -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
command -v node >/dev/null || { echo "bench/net.sh needs node" >&2; exit 1; }
mib=${BENCH_NET_MIB:-1024}
js_mib=${BENCH_NET_JS_MIB:-1024}
runs=${BENCH_NET_RUNS:-3}
conns=${BENCH_NET_CONNS:-1000}
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# exec: in the background the pid of the subshell is then the pid of node
node_run() { exec node --import ./tests/interop/polyfill.mjs "$@"; }

libs=$(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 libuv)
# shellcheck disable=SC2086
cc -O2 -Iinclude -I"$build/proto" bench/net_conns.c "$build/libcpc.a" $libs \
  -lpthread -lm -o "$tmp/net_conns"
# shellcheck disable=SC2086
cc -O2 -Iinclude bench/net_chacha.c "$build/libcpc.a" $libs -lpthread -lm \
  -o "$tmp/net_chacha"

# Start "$@" in the background with stdout to $tmp/$name; wait for its first
# line (an address) and put it in $addr, the pid in $pid.
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name" 2>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    [[ -s $tmp/$name ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.err" >&2; exit 1; }
    sleep 0.1
  done
  addr=$(head -1 "$tmp/$name")
  [[ -n $addr ]] || { echo "$name printed no address" >&2; exit 1; }
}

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

start cpc_listen "$build/cpc" net listen /ip4/127.0.0.1/tcp/0 --idle-timeout 0
c_addr=$addr c_pid=$pid
start js_serve node_run bench/net_js.mjs serve
js_addr=$addr js_pid=$pid

# C and js runs alternate, so that both see the same load on the machine;
# the best of $runs counts. CPU time of the C sender and listener too.
c=0 js=0 c_send_cpu=0
c_recv0=$(cpu_s "$c_pid")
for _ in $(seq "$runs"); do
  out=$( { TIMEFORMAT='%U %S'; time "$build/cpc" net send "$c_addr" --bytes $((mib << 20)); } 2>&1 )
  c=$(max "$c" "$(echo "$out" | head -1 | jq -r .mb_per_s)")
  c_send_cpu=$(echo "$out" | tail -1 | awk -v t="$c_send_cpu" '{ print t + $1 + $2 }')
  v=$(node_run bench/net_js.mjs send "$js_addr" $((js_mib << 20)) | jq -r .mb_per_s)
  js=$(max "$js" "$v")
done
c_recv_cpu=$(awk -v a="$c_recv0" -v b="$(cpu_s "$c_pid")" 'BEGIN { print b - a }')
kill -TERM "$c_pid" "$js_pid"

port=$((20000 + RANDOM % 20000))
iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
ip=$(iperf3 -c 127.0.0.1 -p "$port" -n $((mib << 20)) -J |
  jq '.end.sum_received.bits_per_second / 8 / 1e6 | floor')

read -r _ chacha sodium < <("$tmp/net_chacha")

js_note=""
[[ $js_mib != "$mib" ]] && js_note=" (js: ${js_mib} MiB)"
awk -v c="$c" -v js="$js" -v ip="$ip" -v ch="$chacha" -v so="$sodium" -v mib="$mib" -v runs="$runs" -v note="$js_note" \
  -v scpu="$c_send_cpu" -v rcpu="$c_recv_cpu" 'BEGIN {
  printf "net 1 stream: C->C %.0f MB/s, js->js %.0f MB/s (ratio %.2f, target >= 3), iperf3 %.0f MB/s, chacha20poly1305 one core %.0f MB/s (C->C / that = %.2f, target >= 0.5)\n",
    c, js, c / js, ip, ch, c / ch
  printf "  (chacha20poly1305 one core: libcpc %.0f MB/s, the transport'"'"'s cipher; libsodium %.0f MB/s: C->C / libsodium = %.2f)\n",
    ch, so, c / so
  printf "  (%d MiB one stream, best of %d%s; C->C / iperf3 = %.2f)\n", mib, runs, note, c / ip
  gib = mib * runs / 1024
  printf "  C->C CPU per GiB: sender %.2f s, listener %.2f s (ChaCha20-Poly1305 alone: %.2f s)\n",
    scpu / gib, rcpu / gib, 1073.741824 / ch
}'

# --- memory per idle connection --------------------------------------------
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
start cpc_listen2 "$build/cpc" net listen /ip4/127.0.0.1/tcp/0 --idle-timeout 0
l_addr=$addr l_pid=$pid
"$build/cpc" net ping "$l_addr" -n 3 >/dev/null # warm up: first-use allocations
sleep 0.5
before=$(rss_kib "$l_pid")
"$tmp/net_conns" "${l_addr%/p2p/*}" "$conns" >"$tmp/conns" 2>"$tmp/conns.err" &
n_pid=$!
pids+=("$n_pid")
for _ in $(seq 600); do
  grep -q '^open' "$tmp/conns" && break
  kill -0 "$n_pid" 2>/dev/null || { cat "$tmp/conns.err" >&2; exit 1; }
  sleep 0.1
done
grep -q '^open' "$tmp/conns" || { echo "connections did not open in 60 s" >&2; exit 1; }
sleep 1 # identify and the yamux pings settle
after=$(rss_kib "$l_pid")
port=${l_addr#*/tcp/}
port=${port%%/*}
est=$(ss -Htn state established "( sport = :$port )" | wc -l)
kill -USR1 "$n_pid"
wait "$n_pid" || { cat "$tmp/conns.err" >&2; exit 1; }
awk -v b="$before" -v a="$after" -v n="$conns" -v est="$est" 'BEGIN {
  printf "net memory: %d idle connections to cpc net listen: RSS %d KiB -> %d KiB, %.1f KiB per connection (target <= 64); listener sockets established: %d\n",
    n, b, a, (a - b) / n, est
}'
echo "  $(grep '^ping' "$tmp/conns")"
kill -TERM "$l_pid"
