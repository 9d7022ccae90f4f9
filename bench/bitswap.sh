#!/usr/bin/env bash
# Bitswap fetch benchmark (issue 4): a set of BENCH_BLOCKS blocks of
# BENCH_BLOCK_KIB KiB (default 1,024 x 256 KiB = 256 MiB, blake3 raw) fetched
# from BENCH_PROVIDERS providers (default 3), every process on 127.0.0.1:
#   C:     `cpc block get CID... --peer P1 --peer P2 --peer P3 --store DIR`
#          against 3 `cpc net listen --store DIR` (LMDB stores)
#   Helia: a Helia 7 client (helia.blockstore.get of every CID at once)
#          against 3 Helia providers (memory blockstores), one process each
# Times run from the first dial to the last block (the C client's own
# report; the Helia client's performance.now()), process start excluded.
# Prints both and the ratio Helia time / C time (target >= 3).
# usage: bench/bitswap.sh [BUILD_DIR]   (default build; needs cpc, libcpc.a)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x $build/cpc && -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
n=${BENCH_BLOCKS:-1024}
kib=${BENCH_BLOCK_KIB:-256}
np=${BENCH_PROVIDERS:-3}
size=$((kib * 1024))
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# the first line of file $1 once it has one (at most $2 seconds)
first_line() {
  for _ in $(seq 1 $(($2 * 10))); do
    [[ -s $1 ]] && { head -1 "$1"; return 0; }
    sleep 0.1
  done
  echo "no address in $1: $(cat "$1")" >&2
  return 1
}

# shellcheck disable=SC2046
cc -O2 -Iinclude bench/bitswap_fill.c "$build/libcpc.a" \
  $(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 lmdb libuv) \
  -lpthread -lm -o "$tmp/fill"
head -c $((n * size)) /dev/urandom >"$tmp/blocks.bin"
stores=()
for i in $(seq 1 "$np"); do stores+=("$tmp/c$i"); done
"$tmp/fill" "$tmp/blocks.bin" "$size" "${stores[@]}" >"$tmp/cids"
mib=$((n * size >> 20))
echo "set: $n blocks x $kib KiB = $mib MiB (blake3 raw), $np providers"

# --- C providers, C client
peers=()
for s in "${stores[@]}"; do
  "$build/cpc" net listen /ip4/127.0.0.1/tcp/0 --store "$s" >"$s.addr" 2>"$s.err" &
  pids+=($!)
done
for s in "${stores[@]}"; do peers+=(--peer "$(first_line "$s.addr" 10)"); done
# shellcheck disable=SC2046
out=$("$build/cpc" block get $(cat "$tmp/cids") "${peers[@]}" --store "$tmp/client" \
  --timeout 600000 2>&1)
c_s=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$out")
[[ -n $c_s ]] || { echo "C fetch failed: $out" >&2; exit 1; }
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
echo "C client, C providers:         $c_s s ($(awk -v m="$mib" -v s="$c_s" 'BEGIN {printf "%.0f", m / s}') MiB/s)"

# --- Helia providers, Helia client
node=(node --import ./tests/interop/polyfill.mjs bench/bitswap_helia.mjs)
addrs=()
for i in $(seq 1 "$np"); do
  "${node[@]}" provide "$tmp/blocks.bin" "$size" "$tmp/cids" >"$tmp/h$i.addr" 2>"$tmp/h$i.err" &
  pids+=($!)
done
for i in $(seq 1 "$np"); do addrs+=("$(first_line "$tmp/h$i.addr" 120)"); done
js=$("${node[@]}" fetch "$tmp/cids" "${addrs[@]}")
js_s=$(node -e 'const r = JSON.parse(process.argv[1]); if (r.bytes !== Number(process.argv[2])) process.exit(1); console.log((r.ms / 1000).toFixed(3))' "$js" $((n * size))) \
  || { echo "Helia fetch incomplete: $js" >&2; exit 1; }
echo "Helia client, Helia providers: $js_s s ($(awk -v m="$mib" -v s="$js_s" 'BEGIN {printf "%.0f", m / s}') MiB/s)"
echo "ratio (Helia time / C time): $(awk -v a="$js_s" -v b="$c_s" 'BEGIN {printf "%.1f", a / b}') (target >= 3)"
