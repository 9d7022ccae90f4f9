// Cross-checks `cpc cid` against the npm multiformats package and
// @noble/hashes' BLAKE3 on random inputs: file CIDs, and parsing of CIDs
// that js made in several bases, codecs and hashes (`cpc cid --inspect`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes, randomInt } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { base32, base32upper } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { base16, base16upper } from 'multiformats/bases/base16'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as Digest from 'multiformats/hashes/digest'
import { blake3 } from '@noble/hashes/blake3.js'

const CPC = process.env.CPC_BIN
if (!CPC) throw new Error('CPC_BIN is not set (run through ctest)')

const RAW = 0x55
const DAG_PB = 0x70
const LIBP2P_KEY = 0x72
const BLAKE3 = 0x1e
const CODEC_NAMES = { [RAW]: 'raw', [DAG_PB]: 'dag-pb', [LIBP2P_KEY]: 'libp2p-key' }

const hex = (b) => Buffer.from(b).toString('hex')

function cpc (args, input) {
  const r = spawnSync(CPC, args, { input, encoding: 'utf8' })
  if (r.error) throw r.error
  return r
}

function ok (args, input) {
  const r = cpc(args, input)
  assert.equal(r.status, 0, `cpc ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout.trim()
}

const blake3Digest = (bytes) => Digest.create(BLAKE3, blake3(bytes))

// Sizes: the edges (empty, one byte, the 64 KiB read size of cpc cid and
// BLAKE3 chunk boundaries), then random ones up to 100 KiB.
function sizes () {
  const edges = [0, 1, 1023, 1024, 1025, 65535, 65536, 65537, 100 * 1024]
  const out = [...edges]
  while (out.length < 50) out.push(randomInt(0, 100 * 1024 + 1))
  return out
}

test('cpc cid FILE equals the js CID (raw, blake3, base32) on random data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpc-cid-'))
  try {
    for (const [i, size] of sizes().entries()) {
      const data = randomBytes(size)
      const file = join(dir, `f${i}`)
      writeFileSync(file, data)
      const want = CID.createV1(RAW, blake3Digest(data)).toString(base32)
      assert.equal(ok(['cid', file]), want, `size ${size}`)
      // Every fifth input also with the other hash, codecs and bases.
      if (i % 5 === 0) {
        const mh = await sha256.digest(data)
        assert.equal(ok(['cid', '--hash', 'sha2-256', '--codec', 'dag-pb', '--base', 'base58btc', file]),
          CID.createV1(DAG_PB, mh).toString(base58btc), `size ${size}`)
        assert.equal(ok(['cid', '--codec=libp2p-key', '--base=base16', file]),
          CID.createV1(LIBP2P_KEY, blake3Digest(data)).toString(base16), `size ${size}`)
        // Standard input gives the same as the file.
        assert.equal(ok(['cid', '-'], data), want, `stdin, size ${size}`)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

async function randomDigest (hash) {
  const data = randomBytes(randomInt(0, 200))
  if (hash === 'sha2-256') return sha256.digest(data)
  if (hash === 'blake3') return blake3Digest(data)
  return identity.digest(randomBytes(randomInt(0, 65)))
}

function checkInspect (text, cid) {
  const out = JSON.parse(ok(['cid', '--inspect', text]))
  assert.equal(out.version, cid.version, text)
  assert.equal(out.codec, cid.code, text)
  assert.equal(out.codec_name, CODEC_NAMES[cid.code] ?? null, text)
  assert.equal(out.hash_code, cid.multihash.code, text)
  assert.equal(out.digest_hex, hex(cid.multihash.digest), text)
  assert.equal(out.base32, cid.toV1().toString(base32), text)
  assert.equal(out.base58btc, cid.toString(base58btc), text)
}

test('cpc cid --inspect parses js CIDs in every base, codec and hash', async () => {
  const bases = [base32, base58btc, base16, base32upper, base16upper]
  for (const codec of [RAW, DAG_PB, LIBP2P_KEY]) {
    for (const hash of ['sha2-256', 'blake3', 'identity']) {
      for (const base of bases) {
        const cid = CID.createV1(codec, await randomDigest(hash))
        checkInspect(cid.toString(base), cid)
      }
    }
  }
  // Codecs cpc has no name for still parse.
  const dagCbor = CID.createV1(0x71, await randomDigest('sha2-256'))
  checkInspect(dagCbor.toString(), dagCbor)
  // CIDv0: a bare base58btc sha2-256 multihash.
  for (let i = 0; i < 5; i++) {
    const cid = CID.createV0(await sha256.digest(randomBytes(randomInt(0, 100))))
    checkInspect(cid.toString(), cid)
  }
})

test('cpc cid --inspect refuses malformed CIDs with a message', async () => {
  const good = CID.createV1(RAW, blake3Digest(randomBytes(10)))
  const v0 = CID.createV0(await sha256.digest(randomBytes(10)))
  const b32 = good.toString(base32)
  const b58 = good.toString(base58btc)
  const b16 = good.toString(base16)
  const withBytes = (f) => { const b = Uint8Array.from(good.bytes); f(b); return base32.encode(b) }
  const shortSha = base32.encode(Uint8Array.from([1, RAW, 0x12, 31, ...randomBytes(31)]))
  const bad = [
    '', 'b', 'z', 'f', 'Qm', 'bafy',
    'm' + b32.slice(1), // unknown multibase prefix
    b32.slice(0, -4), // truncated
    b32.slice(0, 10) + '1' + b32.slice(11), // '1' is not base32
    b32 + '=', // padding
    b32 + ' ', // whitespace
    b58.slice(0, 10) + 'l' + b58.slice(11), // 'l' is not base58btc
    b58.slice(0, 10) + '0' + b58.slice(11),
    b16.slice(0, 10) + 'g' + b16.slice(11),
    b16 + '0', // odd base16 length
    b16 + '00', // a trailing byte
    base32.encode(Uint8Array.from([...good.bytes, 0])), // trailing byte
    withBytes((b) => { b[0] = 2 }), // version 2
    withBytes((b) => { b[0] = 3 }),
    withBytes((b) => { b[0] = 0 }), // version 0 in v1 form
    shortSha, // sha2-256 with a 31-byte digest
    'z' + v0.toString(), // a CIDv0 inside multibase
    v0.toString().slice(0, -1) + 'l',
    v0.toString().slice(0, -1), // 45 characters
    'b' + 'a'.repeat(5000) // over the length cap
  ]
  for (const text of bad) {
    const r = cpc(['cid', '--inspect', text])
    assert.notEqual(r.status, 0, `accepted '${text}'`)
    assert.match(r.stderr, /^cpc cid: .*not a valid CID: \S/, `message for '${text}'`)
    assert.equal(r.stdout, '', `output for '${text}'`)
  }
})
