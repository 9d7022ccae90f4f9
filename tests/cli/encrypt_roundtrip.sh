#!/usr/bin/env bash
# cpc encrypt / decrypt: byte-identical round trips (fixed and CDC, empty,
# stdin/stdout, sealed keys), clear errors for tampered and missing blocks
# and wrong keys, and bounded memory on a 256 MiB stream.
set -euo pipefail
CPC=${CPC_BIN:?CPC_BIN must point at the cpc binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CPC" encrypt --help | grep -q "usage: cpc encrypt" || fail "encrypt --help"
"$CPC" decrypt --help | grep -q "usage: cpc decrypt" || fail "decrypt --help"

head -c 3000001 /dev/urandom >"$tmp/rand"
head -c 2000000 < <(yes "cooperative peer cloud") >"$tmp/text"
: >"$tmp/empty"

n=0
for f in rand text empty; do
  for opts in "" "--chunker cdc --chunk-size 64K" "--no-compress --chunk-size 4K"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    uri=$("$CPC" encrypt "$tmp/$f" --out "$tmp/e$n" $opts)
    [[ $uri == cpc://bafkr4i* ]] || fail "URI '$uri'"
    [[ $(cat "$tmp/e$n/content_id") == "$uri" ]] || fail "content_id file"
    [[ $(stat -c %a "$tmp/e$n/key") == 600 ]] || fail "key mode"
    "$CPC" decrypt "$tmp/e$n" --out "$tmp/d$n"
    cmp "$tmp/$f" "$tmp/d$n" || fail "round trip $f $opts"
  done
done
# Compressible data is stored smaller than it is.
stored=$(cat "$tmp/e4/blocks/"* | wc -c)
(( stored < 1000000 )) || fail "text not compressed ($stored bytes)"

# stdin to stdout.
"$CPC" encrypt - --out "$tmp/s" <"$tmp/rand" >/dev/null
"$CPC" decrypt "$tmp/s" --out - | cmp - "$tmp/rand" || fail "stdin/stdout"

# Sealed to an X25519 key: no clear key; the secret opens it; another fails.
python3 - "$tmp" <<'PY'
import base64, os, sys
# X25519 secret keys are any 32 bytes; the public key comes from cpc below.
for name in ("alice", "bob"):
    open(os.path.join(sys.argv[1], name + ".sk"), "w").write(
        base64.b64encode(os.urandom(32)).decode() + "\n")
PY
pub_of() { # derive the public key with libsodium through python's ctypes
  python3 - "$1" <<'PY'
import base64, ctypes, ctypes.util, sys
lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
sk = base64.b64decode(open(sys.argv[1]).read())
pk = ctypes.create_string_buffer(32)
assert lib.crypto_scalarmult_base(pk, sk) == 0
print(base64.b64encode(pk.raw).decode())
PY
}
"$CPC" encrypt "$tmp/text" --out "$tmp/sealed" --to "$(pub_of "$tmp/alice.sk")" >/dev/null
[[ ! -e $tmp/sealed/key ]] || fail "clear key written with --to"
"$CPC" decrypt "$tmp/sealed" --out "$tmp/sealed.out" --x25519-secret "$tmp/alice.sk"
cmp "$tmp/text" "$tmp/sealed.out" || fail "sealed round trip"
if "$CPC" decrypt "$tmp/sealed" --out "$tmp/x" --x25519-secret "$tmp/bob.sk" 2>"$tmp/err"; then
  fail "bob opened alice's key"
fi
grep -q "not sealed for this key" "$tmp/err" || fail "message for another recipient: $(cat "$tmp/err")"
if "$CPC" decrypt "$tmp/sealed" --out "$tmp/x" 2>"$tmp/err"; then fail "no key"; fi
grep -q -- "--x25519-secret" "$tmp/err" || fail "hint for sealed content"

# Tampered block: non-zero exit, names the block, output not created.
cp -r "$tmp/e1" "$tmp/t"
blk=$(ls "$tmp/t/blocks" | head -1)
printf '\x01' | dd of="$tmp/t/blocks/$blk" bs=1 seek=100 conv=notrunc status=none
if "$CPC" decrypt "$tmp/t" --out "$tmp/t.out" 2>"$tmp/err"; then fail "tampered block accepted"; fi
grep -q "corrupt or tampered" "$tmp/err" || fail "tamper message: $(cat "$tmp/err")"
grep -q "$blk" "$tmp/err" || fail "tamper message names no block"
[[ ! -e $tmp/t.out ]] || fail "output written despite failure"
ls "$tmp" | grep -q partial && fail "partial file left behind"

# Missing block.
rm -r "$tmp/t" && cp -r "$tmp/e1" "$tmp/t"
rm "$tmp/t/blocks/$blk"
if "$CPC" decrypt "$tmp/t" --out "$tmp/t.out" 2>"$tmp/err"; then fail "missing block"; fi
grep -q "missing" "$tmp/err" || fail "missing message: $(cat "$tmp/err")"

# Wrong key.
head -c 32 /dev/urandom | base64 >"$tmp/wrong.key"
if "$CPC" decrypt "$tmp/e1" --out "$tmp/t.out" --key "$tmp/wrong.key" 2>"$tmp/err"; then
  fail "wrong key accepted"
fi
grep -q "wrong key" "$tmp/err" || fail "wrong key message: $(cat "$tmp/err")"

# Usage errors.
set +e
"$CPC" encrypt "$tmp/rand" 2>/dev/null; [[ $? == 2 ]] || fail "missing --out"
"$CPC" encrypt "$tmp/rand" --out "$tmp/e1" 2>"$tmp/err"; [[ $? == 1 ]] || fail "reuse of --out"
"$CPC" encrypt "$tmp/rand" --out "$tmp/z" --chunk-size 3K --chunker cdc 2>/dev/null
[[ $? == 2 ]] || fail "cdc size not a power of two"
"$CPC" encrypt "$tmp/nope" --out "$tmp/z2" 2>/dev/null; [[ $? == 1 ]] || fail "missing input"
set -e

# Memory: a 256 MiB stream from a pipe stays under 32 MiB resident.
if [[ -x /usr/bin/time ]]; then
  for gen in "head -c 268435456 /dev/urandom" "yes cpc | head -c 268435456"; do
    rm -rf "$tmp/big"
    bash -c "$gen" | /usr/bin/time -v "$CPC" encrypt - --out "$tmp/big" \
      >/dev/null 2>"$tmp/time"
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time")
    echo "max RSS encrypting 256 MiB ($gen): ${rss} KiB"
    (( rss < 32768 )) || fail "max RSS ${rss} KiB >= 32 MiB"
  done
  rm -rf "$tmp/big"
else
  echo "skip: /usr/bin/time missing, memory not checked"
fi
echo "ok"
