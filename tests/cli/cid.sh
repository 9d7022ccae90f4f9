#!/usr/bin/env bash
# cid.sh: `cpc cid` options, exit codes and messages (the CIDs themselves are
# cross-checked against js multiformats in tests/interop/multiformats).
set -u
CPC=${CPC_BIN:?CPC_BIN is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME WANT_STATUS CMD...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; cat "$tmp/err"; fail=1
  fi
}

check help 0 "$CPC" cid --help
grep -q -- '--inspect' "$tmp/out" || { echo "FAIL help text"; fail=1; }

: >"$tmp/empty"
check empty 0 "$CPC" cid "$tmp/empty"
# BLAKE3 of no bytes is af1349b9...3262 (the BLAKE3 test vectors).
[ "$(cat "$tmp/out")" = bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi ] ||
  { echo "FAIL empty CID: $(cat "$tmp/out")"; fail=1; }

check stdin 0 "$CPC" cid - <"$tmp/empty"
[ "$(cat "$tmp/out")" = bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi ] ||
  { echo "FAIL stdin CID"; fail=1; }

check no-file 2 "$CPC" cid
check two-files 2 "$CPC" cid "$tmp/empty" "$tmp/empty"
check bad-option 2 "$CPC" cid --frobnicate "$tmp/empty"
check bad-codec 2 "$CPC" cid --codec dag-cbor "$tmp/empty"
check bad-hash 2 "$CPC" cid --hash md5 "$tmp/empty"
check bad-base 2 "$CPC" cid --base base64 "$tmp/empty"
check missing-value 2 "$CPC" cid --base
check missing-file 1 "$CPC" cid "$tmp/nope"
grep -q "cannot open" "$tmp/err" || { echo "FAIL missing-file message"; fail=1; }
check directory 1 "$CPC" cid "$tmp"
check inspect-bad 1 "$CPC" cid --inspect bafy
grep -q "not a valid CID" "$tmp/err" || { echo "FAIL inspect message"; fail=1; }
check inspect-and-file 2 "$CPC" cid --inspect bafy "$tmp/empty"
exit $fail
