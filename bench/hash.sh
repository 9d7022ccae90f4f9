#!/usr/bin/env bash
# bench/hash.sh: `cpc hash` against b3sum on a 1 GiB file (page cache warm).
#   one thread: cpc hash --threads 1  vs  b3sum --num-threads 1
#   all CPUs:   cpc hash --threads 0  vs  b3sum
# Best of $RUNS (default 3) each, cpc and b3sum runs interleaved so both
# see the same machine load; hyperfine is used when installed.
# Env: CPC_BIN (default build/cpc), BENCH_SIZE_MB (default 1024), RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
CPC_BIN=${CPC_BIN:-$PWD/build/cpc}
B3SUM=${B3SUM:-b3sum}
SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${RUNS:-3}

command -v "$B3SUM" >/dev/null || { echo "hash: b3sum not installed, skipped"; exit 0; }
[ -x "$CPC_BIN" ] || { echo "hash: $CPC_BIN not built" >&2; exit 1; }

dir=$(mktemp -d /tmp/cpc-bench-hash.XXXXXX)
trap 'rm -rf "$dir"' EXIT
file=$dir/data.bin
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$file"
cat "$file" >/dev/null # into the page cache
bytes=$(stat -c %s "$file")

# Both tools must agree before anything is timed.
want=$("$B3SUM" --no-names "$file")
got=$("$CPC_BIN" hash --no-names --threads 0 "$file")
[ "$want" = "$got" ] || { echo "hash: cpc and b3sum disagree: $got vs $want" >&2; exit 1; }

# best_seconds CMD...: best wall time of $RUNS runs (via hyperfine if present).
best_seconds() {
  if command -v hyperfine >/dev/null; then
    hyperfine -N --runs "$RUNS" --warmup 1 --export-json "$dir/h.json" \
      "$(printf '%q ' "$@")" >/dev/null 2>&1
    python3 -c 'import json,sys; print(min(json.load(open(sys.argv[1]))["results"][0]["times"]))' "$dir/h.json"
    return
  fi
  local best="" t0 t1 s
  for ((r = 0; r < RUNS; r++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    s=$(((t1 - t0)))
    if [ -z "$best" ] || [ "$s" -lt "$best" ]; then best=$s; fi
  done
  awk -v ns="$best" 'BEGIN { printf "%.4f\n", ns / 1e9 }'
}

# compare LABEL "CPC ARGS" "B3SUM ARGS": interleave to share the noise.
compare() {
  local label=$1 cpc_args=$2 b3_args=$3 c=1e9 b=1e9 t
  for ((round = 0; round < RUNS; round++)); do
    # shellcheck disable=SC2086
    t=$(RUNS=1 best_seconds "$CPC_BIN" hash $cpc_args "$file")
    c=$(awk -v a="$c" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
    # shellcheck disable=SC2086
    t=$(RUNS=1 best_seconds "$B3SUM" $b3_args "$file")
    b=$(awk -v a="$b" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
  done
  awk -v l="$label" -v n="$bytes" -v c="$c" -v b="$b" 'BEGIN {
    printf "hash %s: cpc %.2f GB/s, b3sum %.2f GB/s, ratio %.2f\n",
           l, n / c / 1e9, n / b / 1e9, b / c }'
}

echo "hash: ${SIZE_MB} MiB file, $(nproc) CPUs, best of $RUNS"
compare "1 thread" "--threads 1" "--num-threads 1"
compare "all threads" "--threads 0" ""
