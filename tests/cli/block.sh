#!/usr/bin/env bash
# block.sh: `cpc block` against the local store: round trips (CIDs agree
# with `cpc cid`), size and quota limits, listing, removal, scrub of a block
# corrupted in the data file, kill -9 at random moments during puts, and a
# full disk (a 4 MiB tmpfs in a private mount namespace; skipped where that
# is not permitted).
set -u
CPC=${CPC_BIN:?CPC_BIN is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
S=$tmp/store
fail=0
check() { # check NAME WANT_STATUS CMD...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; cat "$tmp/err"; fail=1
  fi
}
expect_err() { # expect_err NAME TEXT: stderr of the last check mentions TEXT
  grep -q -- "$2" "$tmp/err" || { echo "FAIL $1: stderr lacks '$2':"; cat "$tmp/err"; fail=1; }
}

# --- help ------------------------------------------------------------------
check help 0 "$CPC" block --help
grep -q -- 'scrub' "$tmp/out" || { echo "FAIL help text"; fail=1; }
for v in put get ls rm stat scrub quota; do
  check "help-$v" 0 "$CPC" block "$v" --help
done
check no-verb 2 "$CPC" block
check bad-verb 2 "$CPC" block frob
check bad-option 2 "$CPC" block ls --frob --store "$S"
check foreign-option 2 "$CPC" block get --hash blake3 x --store "$S"
check missing-value 2 "$CPC" block put x --store

# --- a store that does not exist is not created by reads -------------------
check ls-no-store 1 "$CPC" block ls --store "$S"
expect_err ls-no-store "no block store"
[ ! -e "$S" ] || { echo "FAIL ls created the store"; fail=1; }

# --- put / get round trips ---------------------------------------------------
head -c 300000 /dev/urandom >"$tmp/a"
head -c 1 /dev/urandom >"$tmp/one"
: >"$tmp/empty"
check put 0 "$CPC" block put "$tmp/a" --store "$S"
a=$(cat "$tmp/out")
[ "$a" = "$("$CPC" cid "$tmp/a")" ] || { echo "FAIL put CID differs from cpc cid"; fail=1; }
check put-again 0 "$CPC" block put "$tmp/a" --store "$S"
[ "$(cat "$tmp/out")" = "$a" ] || { echo "FAIL put-again CID"; fail=1; }
check put-stdin-sha 0 "$CPC" block put - --hash sha2-256 --store "$S" <"$tmp/a"
sha=$(cat "$tmp/out")
[ "$sha" = "$("$CPC" cid --hash sha2-256 "$tmp/a")" ] || { echo "FAIL sha2-256 CID"; fail=1; }
check put-empty 0 "$CPC" block put "$tmp/empty" --store "$S"
empty=$(cat "$tmp/out")
check put-one 0 "$CPC" block put "$tmp/one" --store "$S"
check put-bad-hash 2 "$CPC" block put "$tmp/a" --hash md5 --store "$S"
check put-missing-file 1 "$CPC" block put "$tmp/nope" --store "$S"
expect_err put-missing-file "cannot read"

check get 0 "$CPC" block get "$a" --store "$S" -o "$tmp/a.out"
cmp -s "$tmp/a" "$tmp/a.out" || { echo "FAIL get -o bytes"; fail=1; }
check get-stdout 0 "$CPC" block get "$sha" --store "$S"
cmp -s "$tmp/a" "$tmp/out" || { echo "FAIL get stdout bytes"; fail=1; }
check get-empty 0 "$CPC" block get "$empty" --store "$S"
[ ! -s "$tmp/out" ] || { echo "FAIL get-empty bytes"; fail=1; }
check get-bad-cid 1 "$CPC" block get bafy --store "$S"
expect_err get-bad-cid "not a valid CID"
absent=$("$CPC" cid "$tmp/one" --hash sha2-256)
check get-absent 1 "$CPC" block get "$absent" --store "$S"
expect_err get-absent "not in the store"

# --- the 2 MiB limit ---------------------------------------------------------
head -c 2097152 /dev/urandom >"$tmp/max"
head -c 2097153 /dev/urandom >"$tmp/over"
check put-2MiB 0 "$CPC" block put "$tmp/max" --store "$S"
max=$(cat "$tmp/out")
check put-2MiB+1 1 "$CPC" block put "$tmp/over" --store "$S"
expect_err put-2MiB+1 "larger than 2 MiB"

# --- ls / stat / rm ------------------------------------------------------------
check ls 0 "$CPC" block ls --store "$S"
[ "$(wc -l <"$tmp/out")" -eq 5 ] || { echo "FAIL ls count: $(cat "$tmp/out")"; fail=1; }
grep -qx "$a" "$tmp/out" || { echo "FAIL ls lacks $a"; fail=1; }
check ls-l 0 "$CPC" block ls -l --store "$S"
grep -qx "$max 2097152" "$tmp/out" || { echo "FAIL ls -l size"; fail=1; }
check stat 0 "$CPC" block stat --store "$S"
grep -qx "blocks: 5" "$tmp/out" && grep -qx "bytes: $((300000 * 2 + 1 + 2097152))" "$tmp/out" &&
  grep -qx "quota: none" "$tmp/out" || { echo "FAIL stat:"; cat "$tmp/out"; fail=1; }
check rm 0 "$CPC" block rm "$max" --store "$S"
check rm-again 1 "$CPC" block rm "$max" --store "$S"
expect_err rm-again "not in the store"
check stat-after-rm 0 "$CPC" block stat --store "$S"
grep -qx "blocks: 4" "$tmp/out" || { echo "FAIL stat after rm"; fail=1; }

# --- quota -------------------------------------------------------------------
check quota-bad 2 "$CPC" block quota lots --store "$S"
check quota 0 "$CPC" block quota 1M --store "$S"
check put-over-quota 1 "$CPC" block put "$tmp/max" --store "$S"
expect_err put-over-quota "store is full"
check stat-quota 0 "$CPC" block stat --store "$S"
grep -qx "quota: 1048576" "$tmp/out" || { echo "FAIL quota kept"; fail=1; }
check quota-none 0 "$CPC" block quota none --store "$S"
check put-after-quota 0 "$CPC" block put "$tmp/max" --store "$S"

# --- scrub finds a block corrupted in the data file -----------------------------
check scrub-clean 0 "$CPC" block scrub --store "$S"
if command -v python3 >/dev/null; then
  printf 'CPCBLOCKMARKER%.0s' $(seq 1 5000) >"$tmp/marked"
  check put-marked 0 "$CPC" block put "$tmp/marked" --store "$S"
  marked=$(cat "$tmp/out")
  python3 - "$S/data.mdb" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'CPCBLOCKMARKER' * 4)
assert i >= 0
b[i + 5] ^= 1
open(p, 'r+b').write(b)
EOF
  check scrub-bad 1 "$CPC" block scrub --store "$S"
  grep -q "^bad $marked 70000 bytes do not match" "$tmp/out" || { echo "FAIL scrub report:"; cat "$tmp/out"; fail=1; }
  check get-corrupt 1 "$CPC" block get "$marked" --store "$S"
  expect_err get-corrupt "corrupt"
  check scrub-remove 1 "$CPC" block scrub --remove --store "$S"
  check scrub-after-remove 0 "$CPC" block scrub --store "$S"
  check ls-after-remove 0 "$CPC" block ls --store "$S"
  ! grep -qx "$marked" "$tmp/out" || { echo "FAIL corrupt block still listed"; fail=1; }
else
  echo "SKIP corrupt-block scrub (no python3)"
fi

# --- kill -9 at random moments during puts ----------------------------------------
K=$tmp/crash
for i in 0 1 2 3 4 5 6 7; do
  head -c $(( (i + 1) * 250000 )) /dev/urandom >"$tmp/r$i"
done
# How long one put into an existing store takes here (ASan builds are much
# slower): the kills land at random moments within that span.
"$CPC" block put "$tmp/r6" --store "$tmp/timing" >/dev/null 2>&1
t0=${EPOCHREALTIME/./}
"$CPC" block put "$tmp/r7" --store "$tmp/timing" >/dev/null 2>&1
span=$(( ${EPOCHREALTIME/./} - t0 + 1 ))
for round in $(seq 1 40); do
  f=$tmp/r$((round % 8))
  head -c 16 /dev/urandom | dd of="$f" conv=notrunc status=none # a new block each round
  "$CPC" block put "$f" --store "$K" >"$tmp/crash.out.$round" 2>/dev/null &
  pid=$!
  sleep "$(printf '%d.%06d' $((d = (RANDOM * 32768 + RANDOM) % span, d / 1000000)) $((d % 1000000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
check crash-scrub 0 "$CPC" block scrub --store "$K"
grep -q "0 bad" "$tmp/err" || { echo "FAIL crash scrub:"; cat "$tmp/err"; fail=1; }
check crash-ls 0 "$CPC" block ls --store "$K"
listed=$(wc -l <"$tmp/out")
# every put that printed its CID (returned 0) before the kill is stored
for o in "$tmp"/crash.out.*; do
  [ -s "$o" ] || continue
  grep -qx "$(cat "$o")" "$tmp/out" || { echo "FAIL acknowledged block $(cat "$o") lost"; fail=1; }
done
check crash-stat 0 "$CPC" block stat --store "$K"
grep -qx "blocks: $listed" "$tmp/out" || { echo "FAIL crash count differs from listing"; fail=1; }
check crash-put-after 0 "$CPC" block put "$tmp/a" --store "$K"
acked=$(cat "$tmp"/crash.out.* | wc -l)
echo "crash test: 40 kill -9 rounds, $acked puts acknowledged, $listed blocks stored, scrub clean"

# --- a full disk -----------------------------------------------------------------------
full_disk() {
  set -u
  local d=$1
  mount -t tmpfs -o size=4m cpc-test "$d" || exit 77
  local n=0 st=0
  for i in 1 2 3 4 5 6 7 8; do
    head -c 1048576 /dev/urandom >"$tmp/f$i"
  done
  for i in 1 2 3 4 5 6 7 8; do
    "$CPC" block put "$tmp/f$i" --store "$d/s" >"$tmp/full.out" 2>"$tmp/full.err"
    st=$?
    [ $st -eq 0 ] || break
    n=$((n + 1))
  done
  [ $st -eq 1 ] || { echo "FAIL full disk: put exit $st after $n blocks"; exit 1; }
  grep -q "no space left on the disk" "$tmp/full.err" || { echo "FAIL full disk message:"; cat "$tmp/full.err"; exit 1; }
  "$CPC" block scrub --store "$d/s" 2>"$tmp/full.err" || { echo "FAIL scrub after disk full"; cat "$tmp/full.err"; exit 1; }
  [ "$("$CPC" block ls --store "$d/s" | wc -l)" -eq "$n" ] || { echo "FAIL count after disk full"; exit 1; }
  "$CPC" block stat --store "$d/s" | grep -qx "blocks: $n" || { echo "FAIL stat after disk full"; exit 1; }
  # freeing a block makes room again
  # (LMDB reuses pages freed by a transaction only after a later one
  # commits, as the previous meta page still points at them; so remove two)
  "$CPC" block rm "$("$CPC" cid "$tmp/f1")" "$("$CPC" cid "$tmp/f2")" --store "$d/s" ||
    { echo "FAIL rm on a full disk"; exit 1; }
  "$CPC" block put "$tmp/f$((n + 1))" --store "$d/s" >/dev/null || { echo "FAIL put after rm"; exit 1; }
  echo "full disk: $n blocks of 1 MiB fitted in 4 MiB, then a clean ENOSPC"
  exit 0
}
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
  mkdir -p "$tmp/mnt"
  export -f full_disk
  export CPC tmp
  unshare -m bash -c 'full_disk "$1"' _ "$tmp/mnt"
  st=$?
  if [ $st -eq 77 ]; then
    echo "SKIP full disk (tmpfs mount not permitted)"
  elif [ $st -ne 0 ]; then
    fail=1
  fi
else
  echo "SKIP full disk (no private mount namespace)"
fi
exit $fail
