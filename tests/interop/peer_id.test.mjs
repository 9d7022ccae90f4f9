// PeerIds, key files and signatures: cpc against @libp2p/crypto 5 and
// @libp2p/peer-id 6. Keys of both types are made on each side; the same
// private key must give the same PeerId string, signatures must verify in
// both directions, and each side must parse the other's PeerId strings.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import {
  generateKeyPair,
  privateKeyToProtobuf,
  privateKeyFromProtobuf,
  publicKeyFromProtobuf,
  publicKeyToProtobuf
} from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'

const CPC = process.env.CPC_BIN
if (!CPC) throw new Error('CPC_BIN must name the cpc binary')

const TYPES = ['Ed25519', 'secp256k1']
const KEYS_PER_TYPE = 3
const dir = mkdtempSync(join(tmpdir(), 'cpc-interop-peer-id-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

let counter = 0
const path = (name) => join(dir, `${counter++}-${name}`)

function cpc (args, input) {
  const r = spawnSync(CPC, args, { input, encoding: 'utf8' })
  if (r.error) throw r.error
  return r
}

function cpcOk (args, input) {
  const r = cpc(args, input)
  assert.equal(r.status, 0, `cpc ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

const b64 = (u8) => Buffer.from(u8).toString('base64')

test('keys made by cpc: same PeerId, signatures verify in JS', async () => {
  for (const type of TYPES) {
    for (let i = 0; i < KEYS_PER_TYPE; i++) {
      const file = path('key')
      const printed = cpcOk(['key', 'new', '--type', type.toLowerCase(), '--out', file]).trim()
      const bytes = readFileSync(file)
      const key = privateKeyFromProtobuf(bytes)
      assert.equal(key.type, type)
      // The file is exactly what js-libp2p would write for this key.
      assert.deepEqual(Buffer.from(privateKeyToProtobuf(key)), bytes)

      const peerId = peerIdFromPrivateKey(key)
      assert.equal(printed, peerId.toString())
      assert.ok(printed.startsWith(type === 'Ed25519' ? '12D3KooW' : '16Uiu2'))

      const shown = JSON.parse(cpcOk(['key', 'show', file]))
      assert.equal(shown.peer_id, peerId.toString())
      assert.equal(shown.type, type.toLowerCase())
      assert.ok(publicKeyFromProtobuf(Buffer.from(shown.public_key, 'base64')).equals(key.publicKey))
      // JS parses both text forms cpc writes.
      assert.ok(peerIdFromString(shown.peer_id).equals(peerId))
      assert.ok(peerIdFromString(shown.peer_id_cid).equals(peerId))
      assert.equal(shown.peer_id_cid, peerId.toCID().toString())

      for (const size of [0, 1, 1000]) {
        const msg = randomBytes(size)
        const msgFile = path('msg')
        writeFileSync(msgFile, msg)
        const sig = Buffer.from(cpcOk(['key', 'sign', file, msgFile]).trim(), 'base64')
        assert.equal(await key.publicKey.verify(msg, sig), true, `${type} signature from cpc`)
        const other = Buffer.concat([msg, Buffer.from([1])])
        assert.equal(await key.publicKey.verify(other, sig), false)
        // Message on stdin gives the same signature (both schemes are deterministic).
        const sig2 = cpcOk(['key', 'sign', file, '-'], msg).trim()
        assert.equal(sig2, b64(sig))
      }
    }
  }
})

test('keys made by JS: same PeerId, signatures verify in cpc', async () => {
  for (const type of TYPES) {
    for (let i = 0; i < KEYS_PER_TYPE; i++) {
      const key = await generateKeyPair(type)
      const peerId = peerIdFromPrivateKey(key)
      const file = path('jskey')
      writeFileSync(file, privateKeyToProtobuf(key), { mode: 0o600 })

      const shown = JSON.parse(cpcOk(['key', 'show', file]))
      assert.equal(shown.peer_id, peerId.toString())
      assert.equal(shown.peer_id_cid, peerId.toCID().toString())

      const msg = randomBytes(64 + i)
      const msgFile = path('msg')
      writeFileSync(msgFile, msg)
      const sig = b64(await key.sign(msg))
      // cpc parses JS PeerId strings in both forms, and the public key protobuf.
      for (const who of [peerId.toString(), peerId.toCID().toString(), b64(publicKeyToProtobuf(key.publicKey))]) {
        const r = cpc(['key', 'verify', who, sig, msgFile])
        assert.equal(r.status, 0, `${type}: cpc rejected a JS signature with ${who}: ${r.stderr}`)
      }
      // Tampered message and signature are refused with exit status 1.
      const bad = cpc(['key', 'verify', peerId.toString(), sig, '-'], Buffer.concat([msg, Buffer.from('x')]))
      assert.equal(bad.status, 1)
      assert.match(bad.stderr, /does not verify/)
      const sigBytes = Buffer.from(sig, 'base64')
      sigBytes[sigBytes.length - 5] ^= 1
      assert.equal(cpc(['key', 'verify', peerId.toString(), b64(sigBytes), msgFile]).status, 1)
      // cpc signing with the JS key gives signatures JS accepts, and for these
      // deterministic schemes the very same bytes.
      const cSig = cpcOk(['key', 'sign', file, msgFile]).trim()
      assert.equal(await key.publicKey.verify(msg, Buffer.from(cSig, 'base64')), true)
      assert.equal(cSig, sig)
    }
  }
})

test('cpc user identity: a secp256k1 PeerId JS parses; binding verifies in JS', async () => {
  const file = path('identity')
  cpcOk(['id', 'new', '--out', file])
  const pub = JSON.parse(cpcOk(['id', 'show', file, '--json']))
  const peerId = peerIdFromString(pub.peer_id)
  assert.equal(peerId.type, 'secp256k1')
  const signing = publicKeyFromProtobuf(Buffer.from(pub.signing_public_key, 'base64'))
  assert.ok(signing.equals(peerId.publicKey))
  const x25519 = Buffer.from(pub.encryption_public_key, 'base64')
  assert.equal(x25519.length, 32)
  const msg = Buffer.concat([Buffer.from('cpc-identity-x25519:'), x25519])
  assert.equal(await peerId.publicKey.verify(msg, Buffer.from(pub.binding_signature, 'base64')), true)
})

test('malformed PeerIds are refused by both sides', () => {
  for (const bad of ['', 'QmNotAPeerId', '12D3KooW', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy']) {
    const r = cpc(['key', 'verify', bad || '""', 'AAAA', '-'], '')
    assert.equal(r.status, 1, `cpc accepted ${bad}`)
    assert.throws(() => peerIdFromString(bad))
  }
})
