#!/usr/bin/env bash
# blake3_b3sum.sh: `cpc hash` against Debian's b3sum on inputs around every
# chunk and tree boundary and at random sizes up to ~8 MiB, with every back
# end this CPU has, serial and with 2 and 3 threads, from files, from a
# pipe and from redirected stdin; keyed (key on stdin and in a file),
# derive-key and extended output; b3sum's output format and escaping.
set -euo pipefail
: "${CPC_BIN:?CPC_BIN must point at the cpc binary}"
B3SUM=${B3SUM:-b3sum}
if ! command -v "$B3SUM" >/dev/null; then
  echo "b3sum not installed: skipping the cross-check" >&2
  exit 77
fi

dir=$(mktemp -d /tmp/cpc-test-b3sum.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail=0
checks=0

expect_same() { # label, expected, got
  checks=$((checks + 1))
  if [ "$2" != "$3" ]; then
    echo "FAIL $1" >&2
    echo "  b3sum: $2" >&2
    echo "  cpc:   $3" >&2
    fail=1
  fi
}

# Inputs: a byte pattern file big enough for every size, cut with head.
head -c $((9 * 1024 * 1024)) /dev/urandom >"$dir/pool"
sizes="0 1 63 64 65 1023 1024 1025 2047 2048 2049 3072 3073
       $((1048576 - 1)) 1048576 $((1048576 + 1))"
RANDOM=4242 # reproducible random sizes
for _ in 1 2 3 4 5 6; do
  sizes="$sizes $(((RANDOM * 32768 + RANDOM) % (8 * 1024 * 1024)))"
done
files=()
for n in $sizes; do
  head -c "$n" "$dir/pool" >"$dir/in_$n"
  files+=("$dir/in_$n")
done

backends=""
for b in portable sse4.1 avx2 avx512; do
  if "$CPC_BIN" hash --backend "$b" "$dir/in_0" >/dev/null 2>&1; then
    backends="$backends $b"
  else
    echo "back end $b not supported here, skipped" >&2
  fi
done
[ -n "$backends" ] || { echo "FAIL no back end works" >&2; exit 1; }

want=$("$B3SUM" "${files[@]}")
for b in $backends; do
  for t in 1 2 3; do
    got=$("$CPC_BIN" hash --backend "$b" --threads "$t" "${files[@]}")
    expect_same "files backend=$b threads=$t" "$want" "$got"
  done
  # through a memory map
  got=$("$CPC_BIN" hash --backend "$b" --mmap --threads 2 "${files[@]}")
  expect_same "mmap backend=$b" "$want" "$got"
  # the environment variable picks the back end too
  got=$(CPC_BLAKE3_BACKEND=$b "$CPC_BIN" hash "${files[@]}")
  expect_same "CPC_BLAKE3_BACKEND=$b" "$want" "$got"
done

# Standard input: pipe, redirect, and `-`; all CPUs (--threads 0).
for n in 0 1025 $((1048576 + 1)); do
  f=$dir/in_$n
  want=$("$B3SUM" <"$f")
  expect_same "pipe $n" "$want" "$(cat "$f" | "$CPC_BIN" hash --threads 2)"
  expect_same "redirect $n" "$want" "$("$CPC_BIN" hash --threads 0 - <"$f")"
done

# Keyed, derive-key, extended output, no names, raw.
key=$dir/key
head -c 32 /dev/urandom >"$key"
some=("$dir/in_1" "$dir/in_3073" "$dir/in_1048576")
want=$("$B3SUM" --keyed "${some[@]}" <"$key")
expect_same "keyed stdin" "$want" "$("$CPC_BIN" hash --keyed "${some[@]}" <"$key")"
expect_same "keyed file" "$want" "$("$CPC_BIN" hash --key-file "$key" --threads 3 "${some[@]}")"
want=$("$B3SUM" --derive-key "cpc test 2024 context" "${some[@]}")
expect_same "derive-key" "$want" "$("$CPC_BIN" hash --derive-key "cpc test 2024 context" "${some[@]}")"
for len in 0 1 31 33 64 65 131 1000; do
  want=$("$B3SUM" --length "$len" "${some[@]}")
  expect_same "length $len" "$want" "$("$CPC_BIN" hash --length "$len" "${some[@]}")"
done
want=$("$B3SUM" --keyed --length 100 "$dir/in_2049" <"$key")
expect_same "keyed length" "$want" "$("$CPC_BIN" hash --keyed -l 100 "$dir/in_2049" <"$key")"
want=$("$B3SUM" --no-names "${some[@]}")
expect_same "no-names" "$want" "$("$CPC_BIN" hash --no-names "${some[@]}")"
want=$("$B3SUM" --raw "$dir/in_65" | od -An -tx1)
expect_same "raw" "$want" "$("$CPC_BIN" hash --raw "$dir/in_65" | od -An -tx1)"

# Names with a backslash or newline are escaped as b3sum does.
odd="$dir/we\\ird
name"
printf 'abc' >"$odd"
expect_same "escaped name" "$("$B3SUM" "$odd")" "$("$CPC_BIN" hash "$odd")"

# Errors: a missing file is reported, the others still hashed, exit 1.
set +e
out=$("$CPC_BIN" hash "$dir/in_1" "$dir/missing" 2>"$dir/err")
rc=$?
set -e
expect_same "missing file exit" 1 "$rc"
expect_same "missing file other output" "$("$B3SUM" "$dir/in_1")" "$out"
grep -q "missing" "$dir/err" || { echo "FAIL no error message for a missing file" >&2; fail=1; }
set +e
head -c 31 "$key" | "$CPC_BIN" hash --keyed "$dir/in_1" >/dev/null 2>&1
rc=$?
"$CPC_BIN" hash --backend nosuch "$dir/in_1" >/dev/null 2>&1
rc2=$?
"$CPC_BIN" hash --threads x "$dir/in_1" >/dev/null 2>&1
rc3=$?
set -e
expect_same "short key exit" 1 "$rc"
expect_same "bad backend exit" 2 "$rc2"
expect_same "bad threads exit" 2 "$rc3"
"$CPC_BIN" hash --help | grep -q -- "--threads" || { echo "FAIL --help" >&2; fail=1; }

echo "$checks checks, back ends:$backends"
exit "$fail"
