#!/usr/bin/env bash
# cpc id / cpc key on the command line: files, modes, exit codes, messages.
set -euo pipefail
cpc=${CPC_BIN:?CPC_BIN must name the cpc binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() { # want_status command...
  local want=$1; shift
  set +e; "$@" >"$dir/out" 2>"$dir/err"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "$* exited $got, wanted $want: $(cat "$dir/err")"
}

for c in "id --help" "id new --help" "id show --help" "key --help" "key new --help" \
         "key show --help" "key sign --help" "key verify --help"; do
  $cpc $c | grep -q usage || fail "$c prints no usage"
done
expect_status 2 $cpc id
expect_status 2 $cpc id frobnicate
expect_status 2 $cpc key new --type rsa --out "$dir/k"
expect_status 2 $cpc key new --out "$dir/k"

# id new: default path under CPC_HOME, 0600, no overwrite without --force.
export CPC_HOME="$dir/home"
expect_status 0 $cpc id new
grep -q '^peer_id: *16Uiu2' "$dir/out" || fail "id new prints no secp256k1 PeerId"
[ "$(stat -c %a "$CPC_HOME/identity")" = 600 ] || fail "identity file is not 0600"
[ "$(stat -c %a "$CPC_HOME")" = 700 ] || fail "CPC_HOME was not created 0700"
peer=$(sed -n 's/^peer_id: *//p' "$dir/out")
expect_status 1 $cpc id new
grep -q -- --force "$dir/err" || fail "refusal does not mention --force"
expect_status 0 $cpc id show
grep -q "peer_id: *$peer" "$dir/out" || fail "id show gives another PeerId"
grep -q '^binding_signature: *valid' "$dir/out" || fail "binding not valid"
grep -q '^following: *0' "$dir/out" || fail "following count missing"
expect_status 0 $cpc id new --force
grep -q "peer_id: *$peer" "$dir/out" && fail "--force kept the old identity"

# id show --json round trip through a JSON file, and a forged one.
expect_status 0 $cpc id show --json
cp "$dir/out" "$dir/pub.json"
expect_status 0 $cpc id show "$dir/pub.json"
grep -q '^binding_signature: *valid' "$dir/out" || fail "JSON identity binding"
ek=$(sed -n 's/.*"encryption_public_key": "\(.*\)".*/\1/p' "$dir/pub.json")
if [ "${ek:0:1}" = A ]; then forged="B${ek:1}"; else forged="A${ek:1}"; fi
sed "s|$ek|$forged|" "$dir/pub.json" >"$dir/forged.json"
expect_status 0 $cpc id show "$dir/forged.json"
grep -q '^binding_signature: *signature does not verify' "$dir/out" || fail "forged binding shown valid"
sed 's/"following"/"follows"/' "$dir/pub.json" >"$dir/bad.json"
expect_status 1 $cpc id show "$dir/bad.json"
grep -q follows "$dir/err" || fail "unknown field not named: $(cat "$dir/err")"

# A key file others can read is refused with advice.
chmod 644 "$CPC_HOME/identity"
expect_status 1 $cpc id show
grep -q 'chmod 600' "$dir/err" || fail "no chmod advice"
chmod 600 "$CPC_HOME/identity"
expect_status 1 $cpc id show "$dir/missing"
grep -q 'cpc id new' "$dir/err" || fail "missing file message"

# key new / show / sign / verify.
for t in ed25519 secp256k1; do
  expect_status 0 $cpc key new --type $t --out "$dir/$t.key"
  id=$(cat "$dir/out")
  [ "$(stat -c %a "$dir/$t.key")" = 600 ] || fail "$t key file is not 0600"
  expect_status 1 $cpc key new --type $t --out "$dir/$t.key"
  expect_status 0 $cpc key show "$dir/$t.key"
  grep -q "\"peer_id\": \"$id\"" "$dir/out" || fail "key show PeerId"
  grep -q "\"type\": \"$t\"" "$dir/out" || fail "key show type"
  printf 'message' >"$dir/msg"
  sig=$($cpc key sign "$dir/$t.key" "$dir/msg")
  expect_status 0 $cpc key verify "$id" "$sig" "$dir/msg"
  printf 'massage' >"$dir/msg2"
  expect_status 1 $cpc key verify "$id" "$sig" "$dir/msg2"
  grep -q 'does not verify' "$dir/err" || fail "invalid signature message"
done
expect_status 1 $cpc key verify not-a-peer AAAA "$dir/msg"
expect_status 1 $cpc key verify "$id" '%%%' "$dir/msg"
echo ok
