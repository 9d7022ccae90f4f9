// cpc-orchestrator's NodeService (proto/cpc/orchestrator/v1/node.proto)
// through @grpc/grpc-js, a standard gRPC client. A JS "fake node" with an
// Ed25519 key from @libp2p/crypto signs its resource commitment and every
// call as docs/node-rpc.md says: registration, heartbeats, vetting state,
// WorkStream (server-streaming), StreamMetrics (client-streaming), the
// unary reports, and refusals of unregistered, unsigned, stale and
// impostor callers; grpc.health.v1 says SERVING. Content-driven work
// (replicate, audit, delete) is covered by tests/unit/test_orchestrator_
// scheduler.c, which can register content in the database.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blake3 } from '@noble/hashes/blake3.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

const SRC = process.env.CPC_SOURCE_DIR ?? process.cwd()
const CPC = process.env.CPC_BIN
const ORCH = process.env.CPC_ORCHESTRATOR_BIN ??
  (CPC ? path.join(path.dirname(CPC), 'cpc-orchestrator') : undefined)
const S = grpc.status
const SVC = '/cpc.orchestrator.v1.NodeService/'

const def = protoLoader.loadSync(
  ['cpc/orchestrator/v1/node.proto', 'grpc/health/v1/health.proto'],
  { includeDirs: [path.join(SRC, 'proto')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true })
const pkg = grpc.loadPackageDefinition(def)
const NodeService = pkg.cpc.orchestrator.v1.NodeService

let proc, dir, addr, client, health

// ---- protobuf encoding of ResourceCommitment (hand-rolled: the bytes a
// node signs must be exactly the bytes it sends) ----------------------------
function varint (n) {
  let v = BigInt(n)
  const out = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return out
}
function field (no, wire, payload) {
  const key = varint((no << 3) | wire)
  if (wire === 0) return [...key, ...varint(payload)]
  const bytes = typeof payload === 'string' ? [...Buffer.from(payload)] : [...payload]
  return [...key, ...varint(bytes.length), ...bytes]
}
function commitmentBytes (pub, { capacity, bandwidth, region, addrs, ts }) {
  return Uint8Array.from([
    ...field(1, 2, publicKeyToProtobuf(pub)),
    ...field(2, 0, capacity),
    ...field(3, 0, bandwidth),
    ...field(4, 2, region),
    ...addrs.flatMap((a) => field(5, 2, a)),
    ...field(6, 0, ts)
  ])
}

// ---- a fake node ---------------------------------------------------------
async function makeNode () {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

async function signedCommitment (node, signer = node, opts = {}) {
  const body = commitmentBytes(node.key.publicKey, {
    capacity: 1 << 30, bandwidth: 1e6, region: 'test-region',
    addrs: ['/ip4/127.0.0.1/tcp/4001'], ts: Date.now(), ...opts
  })
  const ctx = Buffer.from('CPC-NODE-COMMITMENT-V1\n')
  const signature = await signer.key.sign(Buffer.concat([ctx, body]))
  return { commitment: Buffer.from(body), signature: Buffer.from(signature) }
}

const hex = (b) => Buffer.from(b).toString('hex')

// Metadata proving the node key over path, time and body (docs/node-rpc.md).
async function auth (node, method, body, { id = node.id, ts = Date.now() } = {}) {
  const text = `CPC-NODE-RPC-V1\n${SVC}${method}\n${ts}\n${hex(blake3(body))}`
  const sig = await node.key.sign(Buffer.from(text))
  const md = new grpc.Metadata()
  md.set('x-cpc-node-id', id)
  md.set('x-cpc-timestamp', String(ts))
  md.set('x-cpc-signature', hex(sig))
  return md
}

const serialize = (method, req) => NodeService.service[method].requestSerialize(req)

function unaryRaw (method, req, md) {
  return new Promise((resolve, reject) => {
    client[method](req, md, (err, res) => (err ? reject(err) : resolve(res)))
  })
}

// A signed unary call as a node makes it.
async function call (node, method, req, opts) {
  return unaryRaw(method, req, await auth(node, method, serialize(method, req), opts))
}

async function refused (promise, code, pattern) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `status ${err.code} (${err.details}), wanted ${code}`)
    if (pattern) assert.match(err.details, pattern)
    return true
  })
}

before(async () => {
  assert.ok(ORCH, 'CPC_BIN (or CPC_ORCHESTRATOR_BIN) must locate cpc-orchestrator')
  dir = mkdtempSync(path.join(tmpdir(), 'cpc-node-rpc-'))
  writeFileSync(path.join(dir, 'orchestrator.json'), JSON.stringify({
    scheduler: { tick_ms: 100, vetting_audits: 2, vetting_replicas: 2, audit_interval_ms: 300 }
  }))
  proc = spawn(ORCH, ['--config', path.join(dir, 'orchestrator.json'),
    '--data', path.join(dir, 'data'), '--grpc', '127.0.0.1:0'],
  { stdio: ['ignore', 'pipe', 'inherit'] })
  let buf = ''
  for await (const chunk of proc.stdout) {
    buf += chunk
    if (buf.includes('\n')) break
  }
  const m = /grpc listening on (127\.0\.0\.1:\d+)/.exec(buf)
  assert.ok(m, `orchestrator printed its gRPC address (got ${JSON.stringify(buf)})`)
  addr = m[1]
  client = new NodeService(addr, grpc.credentials.createInsecure())
  health = new pkg.grpc.health.v1.Health(addr, grpc.credentials.createInsecure())
})

after(async () => {
  client?.close()
  health?.close()
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM')
    await once(proc, 'exit')
  }
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('grpc.health.v1: the server and NodeService are SERVING', async () => {
  for (const service of ['', 'cpc.orchestrator.v1.NodeService']) {
    const res = await new Promise((resolve, reject) =>
      health.Check({ service }, (e, r) => (e ? reject(e) : resolve(r))))
    assert.equal(res.status, 'SERVING')
  }
})

test('unsigned, stale, unregistered and impostor callers are refused', async () => {
  const a = await makeNode()
  const b = await makeNode()
  // no metadata at all
  await refused(unaryRaw('Heartbeat', {}, new grpc.Metadata()), S.UNAUTHENTICATED, /missing/)
  // stale timestamp
  await refused(call(a, 'Heartbeat', {}, { ts: Date.now() - 10 * 60 * 1000 }),
    S.UNAUTHENTICATED, /timestamp/)
  // valid signature, but never registered
  await refused(call(a, 'Heartbeat', { used_bytes: 1 }), S.PERMISSION_DENIED, /not registered/)
  await refused(call(a, 'ConfirmStorage', { work_id: '1', cid: 'x', ok: true }),
    S.PERMISSION_DENIED, /not registered/)
  // a commitment signed by another key
  await refused(call(a, 'RegisterNode', await signedCommitment(a, b)),
    S.UNAUTHENTICATED, /commitment signature/)
  // a registers; b claims to be a (signing with its own key)
  const reply = await call(a, 'RegisterNode', await signedCommitment(a))
  assert.equal(reply.peer_id, a.id)
  await refused(call(b, 'Heartbeat', {}, { id: a.id }), S.UNAUTHENTICATED, /does not verify/)
  // b replays a's signed commitment as its own registration
  const replay = await signedCommitment(a)
  await refused(call(b, 'RegisterNode', replay), S.PERMISSION_DENIED, /another node key/)
  // b signs a body and sends another (the body hash is signed)
  const md = await auth(b, 'Heartbeat', serialize('Heartbeat', { used_bytes: 1 }))
  await refused(unaryRaw('Heartbeat', { used_bytes: 2 }, md), S.UNAUTHENTICATED)
})

test('register, heartbeat, vetting state, commitments never go back in time', async () => {
  const n = await makeNode()
  const t0 = Date.now()
  const r = await call(n, 'RegisterNode', await signedCommitment(n, n, { ts: t0 }))
  assert.equal(r.state, 'NODE_STATE_VETTING')
  assert.equal(r.peer_id, n.id)
  assert.ok(r.heartbeat_interval_ms > 0)
  assert.match(r.reason, /0 of 2 audits/)
  const h = await call(n, 'Heartbeat', { used_bytes: '1000', free_bytes: '5000000', blocks_held: '3' })
  assert.equal(h.state, 'NODE_STATE_VETTING')
  // re-registering with a newer commitment is fine; an older one is not
  const r2 = await call(n, 'RegisterNode', await signedCommitment(n, n, { ts: t0 + 1, capacity: 2 << 30 }))
  assert.equal(r2.state, 'NODE_STATE_VETTING')
  await refused(call(n, 'RegisterNode', await signedCommitment(n, n, { ts: t0 - 1000 })),
    S.FAILED_PRECONDITION, /older/)
  // malformed commitments
  await refused(call(n, 'RegisterNode', { commitment: Buffer.from([0xff, 0xff]), signature: Buffer.alloc(64) }),
    S.INVALID_ARGUMENT)
  await refused(call(n, 'RegisterNode', await signedCommitment(n, n, { addrs: ['not a multiaddr'] })),
    S.INVALID_ARGUMENT, /multiaddr/)
})

test('WorkStream: server-streaming, one stream per node', async () => {
  const n = await makeNode()
  await call(n, 'RegisterNode', await signedCommitment(n))
  const open = async () => {
    const md = await auth(n, 'WorkStream', serialize('WorkStream', {}))
    const stream = client.WorkStream({}, md)
    const headers = once(stream, 'metadata')
    const [hello] = await once(stream, 'data')
    const work = []
    stream.on('data', (w) => work.push(w))
    return { stream, work, headers: (await headers)[0], hello }
  }
  const first = await open()
  assert.deepEqual(first.headers.get('x-cpc-peer-id'), [n.id])
  // the stream opens with an empty Work: no kind, work_id 0
  assert.equal(first.hello.work_id, '0')
  assert.equal(first.hello.kind, undefined)
  const ended = new Promise((resolve) => first.stream.on('error', resolve))
  // a second stream replaces the first, which ends with ABORTED
  const second = await open()
  const err = await ended
  assert.equal(err.code, S.ABORTED)
  // a vetting node with no test data yet has no work
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.deepEqual(second.work, [])
  const cancelled = once(second.stream, 'error')
  second.stream.cancel()
  assert.equal((await cancelled)[0].code, S.CANCELLED)
  // a stream from an unregistered node is refused
  const stranger = await makeNode()
  const md = await auth(stranger, 'WorkStream', serialize('WorkStream', {}))
  const s = client.WorkStream({}, md)
  s.on('data', () => {})
  const [e] = await once(s, 'error')
  assert.equal(e.code, S.PERMISSION_DENIED)
})

test('ConfirmStorage, AnswerAudit, ReportCorrupt: unknown ids and bad input', async () => {
  const n = await makeNode()
  await call(n, 'RegisterNode', await signedCommitment(n))
  const cid = 'bafkr4ie5fremqor3iqsberfzcwz4aacexstvhhg4lkad7jf2xyllijihmm'
  await refused(call(n, 'ConfirmStorage', { work_id: '12345', cid, ok: true }), S.NOT_FOUND)
  await refused(call(n, 'ConfirmStorage', { work_id: '12345', cid: 'not-a-cid', ok: true }),
    S.INVALID_ARGUMENT)
  await refused(call(n, 'AnswerAudit', { audit_id: '777', proof: Buffer.alloc(32) }), S.NOT_FOUND)
  await refused(call(n, 'ReportCorrupt', { cid }), S.NOT_FOUND)
  await refused(call(n, 'ReportCorrupt', { cid: '' }), S.INVALID_ARGUMENT)
})

test('StreamMetrics: client-streaming summary; unsigned streams refused', async () => {
  const n = await makeNode()
  await call(n, 'RegisterNode', await signedCommitment(n))
  const md = await auth(n, 'StreamMetrics', new Uint8Array(0))
  const summary = await new Promise((resolve, reject) => {
    const s = client.StreamMetrics(md, (e, r) => (e ? reject(e) : resolve(r)))
    for (let i = 1; i <= 5; i++) {
      s.write({ timestamp_ms: String(Date.now()), bytes_sent: String(i * 100), bytes_received: String(i), peers: i })
    }
    s.end()
  })
  assert.equal(summary.samples, 5)
  assert.equal(summary.bytes_sent, '1500')
  assert.equal(summary.bytes_received, '15')
  await assert.rejects(new Promise((resolve, reject) => {
    const s = client.StreamMetrics(new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r)))
    s.write({ bytes_sent: '1' })
    s.end()
  }), (e) => e.code === S.UNAUTHENTICATED)
})

// Content is registered through REST (another part of the orchestrator);
// here it goes straight into the SQLite database with the sqlite3 shell,
// as does the operator's promotion of the node to active.
const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0
function sql (text) {
  const r = spawnSync('sqlite3', [path.join(dir, 'data', 'orchestrator.db')],
    { input: '.timeout 5000\n' + text, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.trim()
}

test('work over WorkStream: replicate, confirm, audit, answer', { skip: !HAVE_SQLITE3 && 'no sqlite3 shell' }, async () => {
  const n = await makeNode()
  await call(n, 'RegisterNode', await signedCommitment(n))
  const block = randomBytes(8192)
  const cid = CID.create(1, 0x55, Digest.create(0x1e, blake3(block))).toString()
  const nonce = randomBytes(32)
  const off = 1000
  const len = 333
  const expected = blake3(block.subarray(off, off + len), { key: nonce })
  sql(`UPDATE nodes SET state = 1 WHERE peer_id = '${n.id}';
    INSERT INTO users VALUES ('owner', X'00', X'00', X'00', 0);
    INSERT INTO content (content_id, owner, size, created_at, registered_at,
      access_control, replicas_desired, clear_key, origin)
      VALUES ('c1', 'owner', 8192, 0, 0, 0, 1, X'00', '["/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWorigin"]');
    INSERT INTO chunks VALUES ('c1', 0, '${cid}', 8192);
    INSERT INTO audit_tokens (token_id, content_id, cid, offset_, length, nonce, expected)
      VALUES (42, 'c1', '${cid}', ${off}, ${len}, X'${hex(nonce)}', X'${hex(expected)}');`)
  const md = await auth(n, 'WorkStream', serialize('WorkStream', {}))
  const stream = client.WorkStream({}, md)
  const queue = []
  let wake
  stream.on('data', (w) => { queue.push(w); wake?.() })
  stream.on('error', () => {})
  const next = async () => {
    while (queue.length === 0) await new Promise((resolve) => { wake = resolve })
    return queue.shift()
  }
  assert.equal((await next()).work_id, '0')
  const rep = await next()
  assert.equal(rep.kind, 'replicate')
  assert.equal(rep.replicate.cid, cid)
  assert.equal(rep.replicate.size, '8192')
  assert.deepEqual(rep.replicate.sources[0].addrs, ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWorigin'])
  assert.ok(Number(rep.deadline_ms) > Date.now())
  await call(n, 'ConfirmStorage', { work_id: rep.work_id, cid, ok: true })
  assert.equal(sql(`SELECT state FROM replicas WHERE node = '${n.id}'`), '1')
  // the audit: BLAKE3 keyed by the nonce over the range
  const au = await next()
  assert.equal(au.kind, 'audit')
  assert.equal(au.audit.cid, cid)
  assert.equal(au.audit.offset, String(off))
  assert.equal(au.audit.length, String(len))
  const proof = blake3(block.subarray(Number(au.audit.offset), Number(au.audit.offset) + Number(au.audit.length)),
    { key: au.audit.nonce })
  const res = await call(n, 'AnswerAudit', { audit_id: au.audit.audit_id, proof: Buffer.from(proof) })
  assert.equal(res.result, 'AUDIT_RESULT_PASSED')
  assert.equal(res.state, 'NODE_STATE_ACTIVE')
  // answering twice: the audit is closed
  await refused(call(n, 'AnswerAudit', { audit_id: au.audit.audit_id, proof: Buffer.from(proof) }), S.NOT_FOUND)
  stream.cancel()
})

test('SIGTERM: clean shutdown, exit 0', async () => {
  client.close()
  health.close()
  client = health = undefined
  proc.kill('SIGTERM')
  const [code, signal] = await once(proc, 'exit')
  assert.equal(signal, null)
  assert.equal(code, 0)
})
