// Bitswap between the C peer and Helia 7 (@helia/bitswap), both directions:
// (a) Helia fetches a 10 MiB set of blake3 raw blocks (40 x 256 KiB) from
// `cpc net listen --store DIR`; (b) `cpc block get ... --peer <helia>`
// fetches the same set from Helia; (c) both again with sha2-256 blocks.
// Bytes are compared on both sides. Everything on 127.0.0.1, every child
// process killed and every Helia node stopped at the end, every wait bounded.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createHeliaLight } from 'helia'
import { withLibp2pLight } from '@helia/libp2p'
import { withBitswap } from '@helia/bitswap'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { from } from 'multiformats/hashes/hasher'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'

const CPC = process.env.CPC_BIN
if (!CPC) throw new Error('CPC_BIN must name the cpc binary')
const dir = mkdtempSync(join(tmpdir(), 'cpc-interop-helia-'))
const children = new Set()
const helias = new Set()
const KiB = 1024

const blake3 = from({ name: 'blake3', code: 0x1e, encode: (b) => nobleBlake3(b) })

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  for (const h of helias) await h.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

function cpc (args, ms = 30000) {
  return withTimeout(new Promise((resolve, reject) => {
    const p = spawn(CPC, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(p)
    const out = []
    let stderr = ''
    p.stdout.on('data', (d) => { out.push(d) })
    p.stderr.on('data', (d) => { stderr += d })
    p.on('error', reject)
    p.on('close', (status) => {
      children.delete(p)
      resolve({ status, stdout: Buffer.concat(out), stderr })
    })
  }), ms, `cpc ${args.slice(0, 3).join(' ')}`)
}

async function cpcOk (args, ms) {
  const r = await cpc(args, ms)
  assert.equal(r.status, 0, `cpc ${args.slice(0, 3).join(' ')}: ${r.stderr}`)
  return r
}

// `cpc net listen --store DIR`: resolves with its first address.
async function startCpc (store) {
  const p = spawn(CPC, ['net', 'listen', '/ip4/127.0.0.1/tcp/0', '--store', store],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(p)
  let stderr = ''
  p.stderr.on('data', (d) => { stderr += d })
  const addr = await withTimeout(new Promise((resolve, reject) => {
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(out.slice(0, nl))
    })
    p.on('exit', (code) => reject(new Error(`cpc net listen exited ${code}: ${stderr}`)))
  }), 5000, 'cpc net listen')
  const stop = async () => {
    if (p.exitCode !== null) return p.exitCode
    const code = await withTimeout(new Promise((resolve) => {
      p.on('exit', (c) => resolve(c))
      p.kill('SIGTERM')
    }), 5000, 'cpc net listen exit')
    children.delete(p)
    return code
  }
  return { addr, stop, stderr: () => stderr }
}

async function startHelia () {
  const helia = withBitswap(withLibp2pLight(createHeliaLight({ hashers: [blake3] }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }))
  await helia.start()
  helias.add(helia)
  return helia
}

async function stopHelia (helia) {
  await helia.stop()
  helias.delete(helia)
}

// helia.blockstore.get yields the block's bytes in chunks (Helia 7).
async function getBytes (helia, cid, options) {
  const r = helia.blockstore.get(cid, options)
  if (r[Symbol.asyncIterator] == null) return await r
  const chunks = []
  for await (const c of r) chunks.push(c)
  return Buffer.concat(chunks)
}

// count random blocks of size bytes, as { cid, bytes }.
async function makeBlocks (count, size, hasher) {
  const out = []
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(randomBytes(size))
    const digest = await hasher.digest(bytes)
    out.push({ cid: CID.createV1(raw.code, digest), bytes })
  }
  return out
}

// Put the blocks into a C store with `cpc block put`; checks the CIDs agree.
async function putC (store, blocks, hashName) {
  for (let i = 0; i < blocks.length; i++) {
    const file = join(dir, `in-${hashName}-${i}`)
    writeFileSync(file, blocks[i].bytes)
    const r = await cpcOk(['block', 'put', file, '--store', store, '--hash', hashName])
    assert.equal(r.stdout.toString().trim(), blocks[i].cid.toString())
  }
}

// Helia dials the C peer and gets every block over Bitswap.
async function heliaFetchesFromC (blocks, hashName) {
  const store = join(dir, `c-serves-${hashName}`)
  await putC(store, blocks, hashName)
  const c = await startCpc(store)
  const helia = await startHelia()
  try {
    await withTimeout(helia.libp2p.dial(multiaddr(c.addr)), 5000, 'helia dial')
    const t0 = Date.now()
    const got = await withTimeout(Promise.all(blocks.map((b) =>
      getBytes(helia, b.cid, { signal: AbortSignal.timeout(20000) }))), 25000, 'helia get')
    const ms = Date.now() - t0
    for (let i = 0; i < blocks.length; i++) {
      assert.ok(Buffer.from(got[i]).equals(Buffer.from(blocks[i].bytes)),
        `block ${i} differs`)
    }
    return ms
  } finally {
    await stopHelia(helia)
    assert.equal(await c.stop(), 0, c.stderr())
  }
}

// The C peer fetches every block from Helia with `cpc block get --peer`.
async function cFetchesFromHelia (blocks, hashName) {
  const helia = await startHelia()
  const store = join(dir, `c-fetches-${hashName}`)
  try {
    for (const b of blocks) await helia.blockstore.put(b.cid, b.bytes)
    const addr = helia.libp2p.getMultiaddrs()
      .map((m) => m.toString()).find((s) => s.startsWith('/ip4/127.0.0.1/tcp/'))
    assert.ok(addr, 'helia has a loopback address')
    const t0 = Date.now()
    const r = await cpc(['block', 'get', ...blocks.map((b) => b.cid.toString()),
      '--peer', addr, '--store', store, '--timeout', '20000'], 25000)
    const ms = Date.now() - t0
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`${blocks.length} blocks`))
    // every block is in the C store with the right bytes
    for (let i = 0; i < blocks.length; i++) {
      const out = join(dir, `out-${hashName}-${i}`)
      await cpcOk(['block', 'get', blocks[i].cid.toString(), '--store', store, '-o', out])
      assert.ok(readFileSync(out).equals(Buffer.from(blocks[i].bytes)), `block ${i} differs`)
    }
    // a single CID to standard output
    const one = await cpcOk(['block', 'get', blocks[0].cid.toString(), '--peer', addr])
    assert.ok(one.stdout.equals(Buffer.from(blocks[0].bytes)))
    return ms
  } finally {
    await stopHelia(helia)
  }
}

const blake3Blocks = await makeBlocks(40, 256 * KiB, blake3)
const shaBlocks = await makeBlocks(8, 256 * KiB, sha256)

test('(a) Helia fetches 10 MiB of blake3 blocks from the C peer', async () => {
  const ms = await heliaFetchesFromC(blake3Blocks, 'blake3')
  console.log(`# helia <- cpc: 40 x 256 KiB in ${ms} ms`)
})

test('(b) the C peer fetches 10 MiB of blake3 blocks from Helia', async () => {
  const ms = await cFetchesFromHelia(blake3Blocks, 'blake3')
  console.log(`# cpc <- helia: 40 x 256 KiB in ${ms} ms (process start included)`)
})

test('(c) sha2-256 blocks, both ways', async () => {
  await heliaFetchesFromC(shaBlocks, 'sha2-256')
  await cFetchesFromHelia(shaBlocks, 'sha2-256')
})

test('a block Helia does not have: DONT_HAVE, a clear error', async () => {
  const helia = await startHelia()
  try {
    const [missing] = await makeBlocks(1, 100, blake3)
    const addr = helia.libp2p.getMultiaddrs()
      .map((m) => m.toString()).find((s) => s.startsWith('/ip4/127.0.0.1/tcp/'))
    const r = await cpc(['block', 'get', missing.cid.toString(), '--peer', addr, '--timeout', '15000'], 20000)
    assert.equal(r.status, 1)
    assert.match(r.stderr, /not found \(the peer answered DONT_HAVE\)/)
  } finally {
    await stopHelia(helia)
  }
})
