#!/usr/bin/env bash
# Encrypt pipeline benchmark (DESIGN.md section 9: ratios against a
# reference measured in the same run).
#  1. Throughput: chunk + compression probe + ChaCha20-Poly1305 + BLAKE3 +
#     manifest, on incompressible data from memory, against libsodium's
#     ChaCha20-Poly1305 alone on the same data and chunk size (target >= 0.8).
#  2. Memory: max RSS of `cpc encrypt` on a 4 GiB stream from a pipe
#     (target < 32 MiB).
# usage: bench/encrypt.sh [BUILD_DIR]   (default build; needs cpc and libcpc.a)
# env: BENCH_MIB (throughput data, default 2048), BENCH_STREAM_GIB (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x $build/cpc && -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2046
cc -O2 -Iinclude -I"$build/proto" bench/encrypt_bench.c "$build/libcpc.a" \
  $(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1) \
  -lpthread -lm -o "$tmp/encrypt_bench"
"$tmp/encrypt_bench" "${BENCH_MIB:-2048}" 256

gib=${BENCH_STREAM_GIB:-4}
if [[ -x /usr/bin/time ]]; then
  # A fast incompressible generator: AES-CTR keystream (openssl), else urandom.
  if command -v openssl >/dev/null; then
    gen() { openssl enc -aes-128-ctr -nosalt -pass pass:cpc-bench -pbkdf2 </dev/zero 2>/dev/null | head -c "$1" || true; }
  else
    gen() { head -c "$1" /dev/urandom || true; }
  fi
  start=$(date +%s.%N)
  gen $((gib << 30)) | /usr/bin/time -v "$build/cpc" encrypt - --out "$tmp/out" \
    >/dev/null 2>"$tmp/time"
  end=$(date +%s.%N)
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time")
  echo "cpc encrypt of a ${gib} GiB stream (pipe, blocks to disk): max RSS $((rss / 1024)) MiB" \
       "(target < 32 MiB), $(echo "$gib $start $end" | awk '{printf "%.2f", $1 * 1.073741824 / ($3 - $2)}') GB/s end to end"
else
  echo "skip: /usr/bin/time missing, RSS not measured"
fi
