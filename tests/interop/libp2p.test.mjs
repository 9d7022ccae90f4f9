// The C host against js-libp2p 3 (tcp, noise, yamux, identify, ping), both
// directions: js dials `cpc net listen`, and `cpc net ping|identify|echo`
// dial a js node. Ed25519 and secp256k1 identities on both sides; ping;
// identify fields; identify push (js -> C); 100 concurrent streams echoing 1 MiB each; half-close;
// reset; a js peer killed mid-stream; garbage, truncated and oversized
// frames and a slow-loris socket. Everything on 127.0.0.1, every child
// process killed at the end, every wait bounded.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'

const CPC = process.env.CPC_BIN
if (!CPC) throw new Error('CPC_BIN must name the cpc binary')
const HERE = dirname(fileURLToPath(import.meta.url))
const ECHO = '/cpc/echo/1.0.0'
const MiB = 1 << 20
const dir = mkdtempSync(join(tmpdir(), 'cpc-interop-libp2p-'))
const children = new Set()
const nodes = new Set()

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  for (const n of nodes) await n.stop().catch(() => {})
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

// Run cpc to completion (async: the js nodes of this process keep running).
function cpc (args, ms = 30000) {
  return withTimeout(new Promise((resolve, reject) => {
    const p = spawn(CPC, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(p)
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => { stdout += d })
    p.stderr.on('data', (d) => { stderr += d })
    p.on('error', reject)
    p.on('close', (status) => { children.delete(p); resolve({ status, stdout, stderr }) })
  }), ms, `cpc ${args.join(' ')}`)
}

async function cpcOk (args, ms) {
  const r = await cpc(args, ms)
  assert.equal(r.status, 0, `cpc ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

// A js key written as a cpc key file (libp2p PrivateKey protobuf, 0600).
async function keyFile (type) {
  const key = await generateKeyPair(type)
  const path = join(dir, `${type}-${Math.random().toString(16).slice(2)}.key`)
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return { path, peerId: peerIdFromPrivateKey(key).toString() }
}

// `cpc net listen`: resolves with its first address once it prints it.
async function startCpc (type, extra = []) {
  const key = await keyFile(type)
  const p = spawn(CPC, ['net', 'listen', '/ip4/127.0.0.1/tcp/0', '--key', key.path, ...extra],
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
  assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  assert.ok(addr.endsWith(`/p2p/${key.peerId}`), `${addr} is not ${key.peerId}`)
  const stop = async () => {
    if (p.exitCode !== null) return p.exitCode
    const code = await withTimeout(new Promise((resolve) => {
      p.on('exit', (c) => resolve(c))
      p.kill('SIGTERM')
    }), 5000, 'cpc net listen exit')
    children.delete(p)
    return code
  }
  return { proc: p, addr, peerId: key.peerId, stop, stderr: () => stderr }
}

// A js echo handler that records resets.
function echoHandler (stats) {
  return async (stream) => {
    stats.streams++
    try {
      for await (const buf of stream) {
        if (!stream.send(buf)) {
          await new Promise((resolve, reject) => {
            stream.addEventListener('drain', resolve, { once: true })
            stream.addEventListener('close', () => reject(new Error('closed')), { once: true })
          })
        }
      }
      await stream.close()
    } catch (err) {
      stats.errors++
    }
    if (stream.status === 'reset' || stream.status === 'aborted') stats.resets++
  }
}

async function startJs (type, listen = true, { push = false } = {}) {
  const privateKey = await generateKeyPair(type)
  const services = { identify: identify(), ping: ping() }
  if (push) services.identifyPush = identifyPush()
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
  nodes.add(node)
  const stats = { streams: 0, errors: 0, resets: 0 }
  await node.handle(ECHO, echoHandler(stats), { maxInboundStreams: 512, maxOutboundStreams: 512 })
  return { node, stats, addr: () => node.getMultiaddrs()[0].toString() }
}

async function stopJs (js) {
  nodes.delete(js.node)
  await js.node.stop()
}

// Send data on a js stream and collect the echo until the remote closes.
async function jsEcho (conn, data, { reset = false } = {}) {
  const stream = await conn.newStream(ECHO, { maxOutboundStreams: 512 })
  const chunks = []
  let got = 0
  const reading = (async () => {
    for await (const c of stream) {
      const b = c.subarray()
      chunks.push(b)
      got += b.length
    }
  })()
  const half = reset ? data.length >> 1 : data.length
  for (let off = 0; off < half; off += 65536) {
    if (!stream.send(data.subarray(off, Math.min(off + 65536, half)))) {
      await new Promise((resolve) => stream.addEventListener('drain', resolve, { once: true }))
    }
  }
  if (reset) {
    stream.abort(new Error('test reset'))
    await reading.catch(() => {})
    return null
  }
  await stream.close()
  await reading
  return Buffer.concat(chunks, got)
}

const PAIRS = [['Ed25519', 'Ed25519'], ['Ed25519', 'secp256k1'], ['secp256k1', 'Ed25519'], ['secp256k1', 'secp256k1']]

for (const [cType, jsType] of PAIRS) {
  test(`js (${jsType}) dials C (${cType}): ping, identify, echo, half-close`, async () => {
    const c = await startCpc(cType)
    const js = await startJs(jsType, false)
    try {
      const rtt = await withTimeout(js.node.services.ping.ping(multiaddr(c.addr)), 10000, 'js ping')
      assert.ok(rtt >= 0)
      const conn = js.node.getConnections()[0]
      assert.equal(conn.remotePeer.toString(), c.peerId)
      // identify ran on connection open; wait for the peer store to fill
      let peer
      for (let i = 0; i < 100; i++) {
        peer = await js.node.peerStore.get(conn.remotePeer)
        if (peer.protocols.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      for (const p of ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0', ECHO]) {
        assert.ok(peer.protocols.includes(p), `C does not announce ${p}: ${peer.protocols}`)
      }
      assert.equal(new TextDecoder().decode(peer.metadata.get('AgentVersion')), 'cpc/0.1.0')
      assert.equal(new TextDecoder().decode(peer.metadata.get('ProtocolVersion')), 'ipfs/0.1.0')
      assert.deepEqual(peer.addresses.map((a) => a.multiaddr.toString()),
        [c.addr.replace(/\/p2p\/.*$/, '')])
      assert.equal(peer.id.publicKey.type, cType)
      // half-close: the echo arrives, then the end
      const small = new TextEncoder().encode('hello')
      assert.deepEqual(new Uint8Array(await withTimeout(jsEcho(conn, small), 5000, 'echo')), small)
      // and C still pings afterwards
      await js.node.services.ping.ping(multiaddr(c.addr))
    } finally {
      await stopJs(js)
      assert.equal(await c.stop(), 0, c.stderr())
    }
  })

  test(`C (${cType}) dials js (${jsType}): ping, identify`, async () => {
    const js = await startJs(jsType)
    const key = await keyFile(cType)
    try {
      const out = await cpcOk(['net', 'ping', js.addr(), '-n', '3', '--key', key.path])
      const lines = out.trim().split('\n')
      assert.equal(lines.length, 3)
      for (const l of lines) assert.match(l, /^\d+\.\d{3} ms$/)
      const id = JSON.parse(await cpcOk(['net', 'identify', js.addr(), '--key', key.path]))
      assert.equal(id.peer_id, js.node.peerId.toString())
      assert.match(id.agent_version, /^js-libp2p\//)
      assert.equal(id.protocol_version, 'ipfs/0.1.0')
      for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', ECHO]) {
        assert.ok(id.protocols.includes(p), `js does not announce ${p}: ${id.protocols}`)
      }
      assert.ok(id.listen_addrs.includes(js.addr().replace(/\/p2p\/.*$/, '')), id.listen_addrs)
      // js appends our PeerId to the address it observed
      assert.match(id.observed_addr, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+(/p2p/${key.peerId})?$`))
      assert.equal(id.public_key_type, jsType.toLowerCase())
      // js saw our identify too
      const peer = await js.node.peerStore.get(peerIdFromString(key.peerId))
      assert.equal(peer.id.toString(), key.peerId)
    } finally {
      await stopJs(js)
    }
  })
}

test('identify push: a protocol js adds reaches C (`cpc net identify --watch`) without a new identify', async () => {
  const PUSHED = '/cpc/test-push/1.0.0'
  const js = await startJs('Ed25519', true, { push: true })
  const p = spawn(CPC, ['net', 'identify', js.addr(), '--watch', '20000'], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(p)
  let stderr = ''
  p.stderr.on('data', (d) => { stderr += d })
  try {
    const seen = []
    let wake = () => {}
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
      let nl
      while ((nl = out.indexOf('\n')) >= 0) {
        seen.push(JSON.parse(out.slice(0, nl)))
        out = out.slice(nl + 1)
        wake()
      }
    })
    const line = (n) => withTimeout(new Promise((resolve) => {
      wake = () => { if (seen.length >= n) resolve(seen[n - 1]) }
      wake()
    }), 10000, `identify line ${n}: ${stderr}`)
    const first = await line(1)
    assert.equal(first.peer_id, js.node.peerId.toString())
    assert.ok(!first.protocols.includes(PUSHED), first.protocols)
    assert.ok(first.protocols.includes('/ipfs/id/push/1.0.0'), first.protocols)
    await js.node.handle(PUSHED, (stream) => stream.abort(new Error('test')))
    let last = await line(2)
    for (let n = 3; !last.protocols.includes(PUSHED) && n < 6; n++) last = await line(n)
    assert.ok(last.protocols.includes(PUSHED), `C never saw ${PUSHED}: ${last.protocols}`)
    assert.equal(last.peer_id, js.node.peerId.toString())
    // and js's unhandle is pushed too
    await js.node.unhandle(PUSHED)
    const n = seen.length + 1
    for (let i = n; i < n + 4; i++) {
      last = await line(i)
      if (!last.protocols.includes(PUSHED)) break
    }
    assert.ok(!last.protocols.includes(PUSHED), last.protocols)
    assert.equal(js.node.getConnections().length, 1, 'the one connection stayed up')
  } finally {
    p.kill('SIGTERM')
    children.delete(p)
    await stopJs(js)
  }
})

test('names: C dials js and js dials C at /dns4/localhost', async () => {
  const c = await startCpc('Ed25519')
  const js = await startJs('Ed25519')
  try {
    const byName = (a) => a.replace(/^\/ip4\/127\.0\.0\.1\//, '/dns4/localhost/')
    assert.match(byName(js.addr()), /^\/dns4\/localhost\/tcp\/\d+\/p2p\//)
    const out = await cpcOk(['net', 'ping', byName(js.addr()), '-n', '2'])
    assert.equal(out.trim().split('\n').length, 2)
    const rtt = await withTimeout(js.node.services.ping.ping(multiaddr(byName(c.addr))), 10000, 'js ping by name')
    assert.ok(rtt >= 0)
  } finally {
    await stopJs(js)
    assert.equal(await c.stop(), 0, c.stderr())
  }
})

test('js dials C: 100 concurrent streams over one connection, 1 MiB each way', async () => {
  const c = await startCpc('Ed25519')
  const js = await startJs('Ed25519', false)
  try {
    const conn = await js.node.dial(multiaddr(c.addr))
    const data = randomBytes(MiB)
    const results = await withTimeout(
      Promise.all(Array.from({ length: 100 }, () => jsEcho(conn, data))), 60000, '100 echo streams')
    assert.equal(js.node.getConnections().length, 1)
    for (const r of results) assert.ok(Buffer.compare(r, data) === 0, 'echo differs')
  } finally {
    await stopJs(js)
    assert.equal(await c.stop(), 0, c.stderr())
  }
})

test('C dials js: 100 concurrent streams over one connection, 1 MiB each way', async () => {
  const js = await startJs('secp256k1')
  try {
    const out = JSON.parse(await cpcOk(['net', 'echo', js.addr(), '--streams', '100', '--bytes', String(MiB)], 60000))
    assert.equal(out.streams, 100)
    assert.equal(out.failed, 0)
    assert.equal(js.stats.streams, 100)
    assert.equal(js.stats.errors, 0)
  } finally {
    await stopJs(js)
  }
})

test('reset both ways leaves both peers healthy', async () => {
  const c = await startCpc('Ed25519')
  const js = await startJs('Ed25519')
  try {
    // js resets streams it opened to C
    const conn = await js.node.dial(multiaddr(c.addr))
    const data = randomBytes(200000)
    await withTimeout(Promise.all(Array.from({ length: 5 }, () => jsEcho(conn, data, { reset: true }))), 10000, 'js resets')
    await js.node.services.ping.ping(multiaddr(c.addr))
    assert.deepEqual(await withTimeout(jsEcho(conn, data), 10000, 'echo after resets'), data)
    // C resets streams it opened to js: js's handler sees them end abnormally
    const out = JSON.parse(await cpcOk(['net', 'echo', js.addr(), '--streams', '5', '--bytes', '200000', '--reset']))
    assert.equal(out.failed, 0)
    for (let i = 0; i < 100 && js.stats.resets < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(js.stats.resets, 5, JSON.stringify(js.stats))
    await cpcOk(['net', 'ping', js.addr()])
  } finally {
    await stopJs(js)
    assert.equal(await c.stop(), 0, c.stderr())
  }
})

test('a js peer killed mid-stream leaves the C peer healthy', async () => {
  const c = await startCpc('secp256k1')
  const child = spawn(process.execPath, ['--import', join(HERE, 'polyfill.mjs'), join(HERE, 'libp2p_peer.mjs'), c.addr],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  try {
    await withTimeout(new Promise((resolve, reject) => {
      let err = ''
      child.stderr.on('data', (d) => { err += d })
      child.stdout.on('data', (d) => { if (String(d).includes('streaming')) resolve() })
      child.on('exit', (code) => reject(new Error(`js peer exited ${code}: ${err}`)))
    }), 15000, 'js peer streaming')
    child.kill('SIGKILL')
    children.delete(child)
    const js = await startJs('Ed25519', false)
    try {
      await withTimeout(js.node.services.ping.ping(multiaddr(c.addr)), 10000, 'ping after kill')
      const data = randomBytes(100000)
      const conn = js.node.getConnections()[0]
      assert.deepEqual(await withTimeout(jsEcho(conn, data), 10000, 'echo after kill'), data)
    } finally {
      await stopJs(js)
    }
    await cpcOk(['net', 'ping', c.addr])
  } finally {
    child.kill('SIGKILL')
    assert.equal(await c.stop(), 0, c.stderr())
  }
})

// --- bad input from a plain TCP socket ---------------------------------------

// Connect, send each chunk (with a pause between), resolve with how the
// socket ended: 'closed' if C closed it, 'open' if still open after ms.
function rawSession (addr, chunks, ms, gap = 0) {
  const [, host, port] = addr.match(/^\/ip4\/([^/]+)\/tcp\/(\d+)/)
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host)
    let done = false
    const end = (how) => { if (!done) { done = true; clearTimeout(t); s.destroy(); resolve(how) } }
    const t = setTimeout(() => end('open'), ms)
    s.on('error', () => end('closed'))
    s.on('close', () => end('closed'))
    s.on('data', () => {})
    s.on('connect', async () => {
      for (const c of chunks) {
        if (done) return
        s.write(c)
        if (gap) await new Promise((resolve) => setTimeout(resolve, gap))
      }
    })
  })
}

test('garbage, truncated frames, oversized lengths and slow-loris never hurt C', async () => {
  const c = await startCpc('Ed25519', ['--timeout', '1000'])
  const header = Buffer.from('\x13/multistream/1.0.0\n\x07/noise\n', 'latin1')
  try {
    const cases = {
      garbage: [randomBytes(4096)],
      'oversized multistream length': [Buffer.from([0xff, 0xff, 0xff, 0x0f])],
      'unknown security protocol': [Buffer.from('\x13/multistream/1.0.0\n\x05/tls\n', 'latin1'), randomBytes(100)],
      'truncated noise frame': [header, Buffer.from([0xff, 0xff, 1, 2, 3])],
      'noise frame of garbage': [header, Buffer.from([0x00, 0x40]), randomBytes(64)],
      'endless noise frames': [header, ...Array.from({ length: 8 }, () => Buffer.concat([Buffer.from([0xff, 0xff]), randomBytes(65535)]))]
    }
    const results = await Promise.all(Object.entries(cases).map(async ([name, chunks]) =>
      [name, await rawSession(c.addr, chunks, 4000)]))
    for (const [name, how] of results) assert.equal(how, 'closed', `${name}: C did not disconnect`)
    // slow-loris: a byte every 100 ms, never finishing; C cuts it at 1 s
    const t0 = Date.now()
    const slow = await rawSession(c.addr, Array.from({ length: 60 }, (_, i) => header.subarray(i % header.length, i % header.length + 1)), 5000, 100)
    assert.equal(slow, 'closed')
    assert.ok(Date.now() - t0 < 4000, 'slow-loris lasted too long')
    // C is still healthy
    const out = await cpcOk(['net', 'ping', c.addr])
    assert.match(out, /ms\n$/)
    assert.equal(c.proc.exitCode, null)
  } finally {
    assert.equal(await c.stop(), 0, c.stderr())
  }
})
