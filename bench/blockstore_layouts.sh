#!/usr/bin/env bash
# blockstore_layouts.sh: the block store layout experiment of
# docs/adr/0002-block-store-layout.md (files / SQLite / LMDB / libcpc's
# store, durable and unsynced, 256 KiB and 1 KiB blocks), then a kill -9
# test of each layout. BLOCKSTORE_BIG / BLOCKSTORE_SMALL set the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -f "$BUILD/libcpc.a" ] || { echo "build first (make build)"; exit 1; }
cc -O2 -Wall -Wextra -Iinclude -o "$BUILD/blockstore_layouts" \
  bench/blockstore_layouts.c "$BUILD/libcpc.a" \
  $(pkg-config --libs sqlite3 lmdb libsodium libsecp256k1 libprotobuf-c jansson \
    libzstd libpq libmicrohttpd libnghttp2 libuv) -lpthread -lm
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/cpc-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$BUILD/blockstore_layouts" "$dir" "${BLOCKSTORE_BIG:-256}" "${BLOCKSTORE_SMALL:-2000}"
for l in files sqlite lmdb libcpc; do
  "$BUILD/blockstore_layouts" --crash "$dir/crash-$l" "$l" 10
done
