// The Kademlia DHT against @libp2p/kad-dht 16 (js-libp2p 3): a mixed swarm
// of 10 C peers (`cpc net listen`, DHT servers, joined through the first)
// and 5 js peers (kadDHT in server mode, /ipfs/kad/1.0.0) that also join
// through the first C peer. Providers announced by C (`cpc dht provide`)
// are found by js (dht.findProviders); providers announced by js
// (dht.provide) are found by C (`cpc dht find-providers`); FIND_NODE works
// across (js findPeer of a C peer, `cpc dht find-peer` of a js peer).
// Provider keys are sha2-256 CIDs: kad-dht 16 decodes a provider key as a
// CIDv0 and rejects other multihashes. Everything on 127.0.0.1, every wait
// bounded, every child process killed at the end.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const CPC = process.env.CPC_BIN
if (!CPC) throw new Error('CPC_BIN must name the cpc binary')
const N_C = 10
const N_JS = 5
const children = new Set()
const nodes = new Set()

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  for (const n of nodes) await n.stop().catch(() => {})
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

// Run cpc to completion.
function cpc (args, ms = 20000) {
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

// `cpc net listen` with the DHT: resolves with its address once it has
// joined (or at once for the first peer).
async function startCpc (bootstrap) {
  const args = ['net', 'listen', '/ip4/127.0.0.1/tcp/0']
  if (bootstrap) args.push('--bootstrap', bootstrap)
  const p = spawn(CPC, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(p)
  let out = ''
  let err = ''
  const addr = await withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      const nl = out.indexOf('\n')
      if (nl >= 0 && err.includes('dht: joined')) resolve(out.slice(0, nl))
    }
    p.stdout.on('data', (d) => { out += d; check() })
    p.stderr.on('data', (d) => { err += d; check() })
    p.on('exit', (code) => reject(new Error(`cpc net listen exited ${code}: ${err}`)))
  }), 10000, 'cpc net listen')
  assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  return { proc: p, addr, peerId: addr.split('/p2p/')[1] }
}

async function startJs () {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      // server mode; keep loopback addresses (the default mapper drops
      // private ones, which is every address of this swarm)
      dht: kadDHT({
        protocol: '/ipfs/kad/1.0.0',
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: false
      })
    }
  })
  nodes.add(node)
  await node.start()
  return node
}

async function sha256Cid (text) {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

// Drain a DHT query; returns its events.
async function drain (iterable, ms, what) {
  const events = []
  await withTimeout((async () => {
    for await (const ev of iterable) events.push(ev)
  })(), ms, what)
  return events
}

test('mixed swarm: 10 C and 5 js DHT peers find each other\'s providers and peers', async () => {
  const t0 = Date.now()
  const cs = [await startCpc(null)]
  const boot = cs[0].addr
  for (let i = 1; i < N_C; i++) cs.push(await startCpc(boot))

  const js = []
  for (let i = 0; i < N_JS; i++) js.push(await startJs())
  for (const n of js) {
    await withTimeout(n.dial(multiaddr(boot)), 5000, 'js dials the bootstrap peer')
  }
  // identify tells each js peer that C speaks /ipfs/kad/1.0.0; then a
  // lookup of its own id fills its routing table (what js does at start
  // once its table is not empty)
  for (const n of js) {
    await withTimeout((async () => {
      while (n.services.dht.routingTable.size === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    })(), 5000, 'js routing table gets the bootstrap peer')
  }
  // FIND_NODE from js to C: js[0] knows only the bootstrap peer yet, so it
  // must ask it (a PEER_RESPONSE from C naming the target)
  const far = cs[N_C - 1]
  const events0 = await drain(js[0].services.dht.findPeer(peerIdFromString(far.peerId)), 15000,
    'js findPeer through the bootstrap peer')
  assert.ok(events0.some((e) => e.name === 'PEER_RESPONSE' && e.from.toString() === cs[0].peerId &&
    e.closer.some((p) => p.id.toString() === far.peerId)),
    `no FIND_NODE answer from C: ${events0.map((e) => e.name).join(' ')}`)
  assert.ok(events0.some((e) => e.name === 'FINAL_PEER' && e.peer.id.toString() === far.peerId &&
    e.peer.multiaddrs.some((ma) => ma.toString() === far.addr.split('/p2p/')[0])),
    `js did not find ${far.addr}`)
  for (const n of js) {
    await drain(n.services.dht.getClosestPeers(n.peerId.toMultihash().bytes), 15000, 'js self lookup')
  }
  for (const n of js) {
    assert.ok(n.services.dht.routingTable.size >= N_C / 2,
      `js routing table holds ${n.services.dht.routingTable.size} peers`)
  }

  // C provides, js finds
  const cCid = await sha256Cid(`provided by C ${process.pid}`)
  const prov = await cpc(['dht', 'provide', cCid.toString(), '--bootstrap', cs[3].addr,
    '--listen', '/ip4/127.0.0.1/tcp/0'])
  assert.equal(prov.status, 0, prov.stderr)
  const cProvider = prov.stdout.split('\n')[0].split('/p2p/')[1]
  assert.match(prov.stderr, /announced .* to \d+ peers/)
  for (const n of js) {
    const events = await drain(n.services.dht.findProviders(cCid), 15000, 'js findProviders')
    const found = events.filter((e) => e.name === 'PROVIDER')
      .flatMap((e) => e.providers)
      .find((p) => p.id.toString() === cProvider)
    assert.ok(found, `js ${n.peerId} did not find the C provider ${cProvider}`)
    assert.ok(found.multiaddrs.some((ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/')),
      `the C provider came without its address: ${found.multiaddrs}`)
  }

  // js provides, C finds
  const jsCid = await sha256Cid(`provided by js ${process.pid}`)
  await drain(js[2].services.dht.provide(jsCid), 20000, 'js provide')
  const jsProvider = js[2].peerId.toString()
  for (const c of cs.filter((_, i) => i % 3 === 1)) {
    const r = await cpc(['dht', 'find-providers', jsCid.toString(), '--bootstrap', c.addr])
    assert.equal(r.status, 0, r.stderr)
    const line = r.stdout.split('\n').find((l) => l.startsWith(jsProvider))
    assert.ok(line, `C did not find the js provider ${jsProvider}: ${r.stdout} ${r.stderr}`)
    assert.match(line, /\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    assert.match(r.stderr, /find-providers: \d+ hops/)
  }
  // a C peer's own lookup (fresh process, bootstrapped from a js peer)
  const viaJs = await cpc(['dht', 'find-providers', cCid.toString(), '--bootstrap',
    js[4].getMultiaddrs()[0].toString()])
  assert.equal(viaJs.status, 0, viaJs.stderr)
  assert.ok(viaJs.stdout.includes(cProvider), viaJs.stdout + viaJs.stderr)

  // findPeer of C peers from every js peer (local or through the DHT);
  // C looks for js peers through other C peers
  for (const [n, c] of [[js[0], cs[9]], [js[1], cs[5]], [js[3], cs[7]]]) {
    const events = await drain(n.services.dht.findPeer(peerIdFromString(c.peerId)), 15000, 'js findPeer')
    const final = events.find((e) => e.name === 'FINAL_PEER' && e.peer.id.toString() === c.peerId)
    assert.ok(final, `js did not find C peer ${c.peerId}`)
    const port = c.addr.split('/')[4]
    assert.ok(final.peer.multiaddrs.some((ma) => ma.toString().includes(`/tcp/${port}`)),
      `wrong addresses for ${c.peerId}: ${final.peer.multiaddrs}`)
  }
  for (const [c, n] of [[cs[2], js[1]], [cs[8], js[4]]]) {
    const r = await cpc(['dht', 'find-peer', n.peerId.toString(), '--bootstrap', c.addr])
    assert.equal(r.status, 0, r.stderr)
    const port = n.getMultiaddrs()[0].toString().split('/')[4]
    assert.ok(r.stdout.split('\n').some((l) => l === `/ip4/127.0.0.1/tcp/${port}/p2p/${n.peerId}`),
      `C find-peer of js ${n.peerId}: ${r.stdout} ${r.stderr}`)
  }
  assert.ok(Date.now() - t0 < 90000, `took ${Date.now() - t0} ms`)
})
