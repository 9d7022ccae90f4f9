#!/usr/bin/env bash
# ChaCha20-Poly1305 IETF speed: cpc's own implementation (each back end,
# then the automatic choice) against libsodium's, same run, same data.
# usage: bench/chachapoly.sh [BUILD_DIR]   (default build; needs libcpc.a)
# env: BENCH_MSG_KIB (message size, default 64), BENCH_MIB (default 512)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
cc -O2 -Iinclude bench/chachapoly_bench.c "$build/libcpc.a" \
  $(pkg-config --libs libsodium) -lpthread -lm -o "$tmp/chachapoly_bench"
"$tmp/chachapoly_bench" "${BENCH_MSG_KIB:-64}" "${BENCH_MIB:-512}"
