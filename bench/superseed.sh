#!/usr/bin/env bash
# Super-seeding benchmark (issue 6): one seeder and BENCH_FETCHERS fetchers
# (default 10) of one content of BENCH_MIB MiB (default 64, in 256 KiB
# blake3 raw blocks), every process on 127.0.0.1, each a
# bench/superseed_peer.c (a host with the DHT and a Bitswap exchange over
# an LMDB store). Every fetcher is given the seeder's address only. Run
# twice in a row:
#   super-seeding on (the exchange's default): fetchers find each other
#     (DHT providers of the first CID, and the wants they then send each
#     other) and the seeder holds blocks it sent to one fetcher lately;
#   plain (--plain: superseed 0): plain Bitswap, every fetcher takes every
#     block from the seeder.
# BENCH_STAGGER_MS (default 0) starts the fetchers that far apart.
# Prints the seeder's Bitswap egress / content size for both (target
# <= 2.0 with super-seeding; plain serving is BENCH_FETCHERS) and the time
# until the last fetcher was done.
# usage: bench/superseed.sh [BUILD_DIR]   (default build; needs libcpc.a)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
nf=${BENCH_FETCHERS:-10}
stagger=${BENCH_STAGGER_MS:-0}
mib=${BENCH_MIB:-64}
kib=256
size=$((kib * 1024))
nblocks=$((mib * 1024 / kib))
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${BENCH_KEEP:-} ]] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck disable=SC2046
libs=$(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 lmdb libuv)
# shellcheck disable=SC2086
cc -O2 -Iinclude bench/superseed_peer.c "$build/libcpc.a" $libs -lpthread -lm -o "$tmp/peer"
# shellcheck disable=SC2086
cc -O2 -Iinclude bench/bitswap_fill.c "$build/libcpc.a" $libs -lpthread -lm -o "$tmp/fill"
head -c $((nblocks * size)) /dev/urandom >"$tmp/content.bin"
"$tmp/fill" "$tmp/content.bin" "$size" "$tmp/seed" >"$tmp/cids"
rm "$tmp/content.bin"
echo "content: $nblocks blocks x $kib KiB = $mib MiB (blake3 raw); 1 seeder, $nf fetchers on 127.0.0.1"

# wait until file $1 has $2 lines (at most $3 seconds)
wait_lines() {
  for _ in $(seq 1 $(($3 * 10))); do
    [[ -f $1 && $(wc -l <"$1") -ge $2 ]] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1: $(cat "$1" 2>/dev/null)" >&2
  return 1
}

# run MODE_FLAG: prints "egress_ratio seconds holds released"
run() {
  local flag=$1 seed_pid addr t_last=0 r
  rm -rf "$tmp"/f* "$tmp/seed.out"
  "$tmp/peer" seed "$tmp/seed" $flag >"$tmp/seed.out" 2>"$tmp/seed.err" &
  seed_pid=$!
  pids+=("$seed_pid")
  wait_lines "$tmp/seed.out" 1 10
  addr=$(head -1 "$tmp/seed.out")
  local fpids=()
  for i in $(seq 1 "$nf"); do
    "$tmp/peer" fetch "$tmp/f$i" "$addr" "$tmp/cids" $flag >"$tmp/f$i.out" 2>"$tmp/f$i.err" &
    fpids+=($!)
    pids+=($!)
    ((stagger > 0)) && sleep "$(awk -v m="$stagger" 'BEGIN {print m / 1000}')"
  done
  for i in $(seq 1 "$nf"); do
    wait_lines "$tmp/f$i.out" 1 300
    r=$(head -1 "$tmp/f$i.out")
    # "done": every block arrived, verified by its hash, and is in the store
    [[ $r == done* ]] || { echo "fetcher $i: $r $(cat "$tmp/f$i.err")" >&2; exit 1; }
    t=$(awk '{print $2}' <<<"$r")
    t=$((t + (i - 1) * stagger)) # from the first fetcher's start
    ((t > t_last)) && t_last=$t
  done
  kill -TERM "$seed_pid"
  wait_lines "$tmp/seed.out" 2 10
  for p in "${fpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "$seed_pid" "${fpids[@]}" 2>/dev/null || true
  pids=()
  sed -n 2p "$tmp/seed.out" | awk -v sz=$((nblocks * size)) -v t="$t_last" \
    '{printf "%.2f %.1f %d %d\n", $2 / sz, t / 1000, $3, $4}'
}

read -r on_ratio on_s on_holds on_rel < <(run "")
echo "super-seeding: seeder egress / size = $on_ratio (target <= 2.0), last fetcher done in $on_s s (holds $on_holds, $on_rel sent after their hold ran out)"
read -r off_ratio off_s _ _ < <(run --plain)
echo "plain Bitswap: seeder egress / size = $off_ratio (expected $nf), last fetcher done in $off_s s"
echo "ratio (plain egress / super-seeding egress): $(awk -v a="$off_ratio" -v b="$on_ratio" 'BEGIN {printf "%.1f", a / b}')"
