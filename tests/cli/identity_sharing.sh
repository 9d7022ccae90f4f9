#!/usr/bin/env bash
# A user identity end to end on the command line: content encrypted with
# --to a user's X25519 key opens with that user's identity file and with no
# other identity.
set -euo pipefail
cpc=${CPC_BIN:?}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

"$cpc" id new --out "$t/alice" >/dev/null
"$cpc" id new --out "$t/bob" >/dev/null
x25519_of() { "$cpc" id show "$1" --json | sed -n 's/.*"encryption_public_key": "\([^"]*\)".*/\1/p'; }
alice_x=$(x25519_of "$t/alice")
[ -n "$alice_x" ] || { echo "no encryption_public_key in id show --json"; exit 1; }

head -c 700000 /dev/urandom > "$t/plain"
"$cpc" encrypt "$t/plain" --out "$t/enc" --to "$alice_x" >/dev/null
[ ! -e "$t/enc/key" ] || { echo "a clear key was written for sealed content"; exit 1; }

"$cpc" decrypt "$t/enc" --identity "$t/alice" --out "$t/back"
cmp "$t/plain" "$t/back"

if "$cpc" decrypt "$t/enc" --identity "$t/bob" --out "$t/bad" 2>"$t/err"; then
  echo "bob opened alice's content"; exit 1
fi
grep -q "not sealed for this key" "$t/err" || { cat "$t/err"; exit 1; }
[ ! -e "$t/bad" ] || { echo "a refused decrypt left a file"; exit 1; }

if "$cpc" decrypt "$t/enc" --identity "$t/missing" --out "$t/bad" 2>"$t/err"; then
  echo "a missing identity file was accepted"; exit 1
fi
grep -q "cannot load the identity" "$t/err" || { cat "$t/err"; exit 1; }
echo "identity_sharing: ok"
