// The libcpc gRPC client (lib/rpc/client*.c) against a @grpc/grpc-js
// server over h2c (insecure credentials) on 127.0.0.1. The client side is
// tests/interop/rpc_test_client.c (CPC_RPC_TEST_CLIENT): one call per run,
// request messages in hex on stdin, JSON lines out. The service is
// proto/cpc/test/v1/echo.proto (the one the C server's interop test uses),
// implemented here in grpc-js.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'

const CLIENT = process.env.CPC_RPC_TEST_CLIENT
const SRC = process.env.CPC_SOURCE_DIR ?? process.cwd()
const MiB = 1024 * 1024
const S = grpc.status

const def = protoLoader.loadSync('cpc/test/v1/echo.proto', {
  includeDirs: [path.join(SRC, 'proto')], keepCase: true, longs: String, enums: String, defaults: true
})
const svc = def['cpc.test.v1.Echo']
const pkg = grpc.loadPackageDefinition(def)

let server, port
const seen = { cancelled: 0, md: null }

function echoMetadata (call) {
  const out = new grpc.Metadata()
  for (const [k, v] of Object.entries(call.metadata.getMap())) {
    if (k.startsWith('x-')) out.set(k + '-echo', v)
  }
  return out
}

const impl = {
  Echo (call, cb) {
    seen.md = call.metadata
    call.sendMetadata(echoMetadata(call))
    const trailer = new grpc.Metadata()
    trailer.set('x-trailer', 'done')
    const req = call.request
    if (req.fail_code) {
      cb({ code: req.fail_code, details: req.text, metadata: trailer })
      return
    }
    const payload = req.response_size ? Buffer.alloc(req.response_size, 0x42) : req.payload
    cb(null, { text: req.text, payload }, trailer)
  },
  Count (call) {
    const { n, pad } = call.request
    const padding = Buffer.alloc(pad, 0x70)
    let i = 0
    call.on('cancelled', () => { seen.cancelled++; i = n })
    const pump = () => {
      while (i < n) {
        const ok = call.write({ i: i++, pad: padding })
        if (!ok) { call.once('drain', pump); return }
      }
      if (!call.cancelled) call.end()
    }
    pump()
  },
  Sum (call, cb) {
    let sum = 0n
    let count = 0
    call.on('data', (m) => { sum += BigInt(m.value); count++ })
    call.on('end', () => cb(null, { sum: String(sum), count }))
  },
  Chat (call) {
    call.on('data', (m) => call.write({ text: m.text, payload: m.payload }))
    call.on('end', () => call.end())
  },
  Hang (call) {
    call.on('cancelled', () => { seen.cancelled++ })
  },
  Stats (call, cb) { cb(null, {}) },
  SetHealth (call, cb) { cb(null, {}) }
}

// Run the C client for one call; resolve with its messages (raw Buffers),
// status, details and the metadata it was asked to show.
function run (method, kind, requests, opts = {}) {
  const m = svc[method]
  const args = ['127.0.0.1', String(port), m.path, kind]
  for (const [k, v] of opts.md ?? []) args.push('--md', `${k}=${v}`)
  for (const k of opts.show ?? []) args.push('--show', k)
  if (opts.timeout) args.push('--timeout', String(opts.timeout))
  if (opts.cancelAfter) args.push('--cancel-after', String(opts.cancelAfter))
  if (opts.maxRecv) args.push('--max-recv', String(opts.maxRecv))
  const child = spawn(CLIENT, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const input = requests.map((r) => (Buffer.isBuffer(r) ? r : m.requestSerialize(r)).toString('hex') + '\n').join('')
  child.stdin.end(input)
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d) => { out += d })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`rpc_test_client exited ${code ?? signal}: ${out}`))
      const lines = out.trim().split('\n').map((l) => JSON.parse(l))
      const end = lines.pop()
      const raw = lines.map((l) => Buffer.from(l.message, 'hex'))
      resolve({
        raw,
        messages: raw.map((b) => m.responseDeserialize(b)),
        status: end.status,
        details: end.details,
        md: end.md
      })
    })
  })
}

before(async () => {
  assert.ok(CLIENT, 'CPC_RPC_TEST_CLIENT must name the test client binary')
  server = new grpc.Server()
  server.addService(pkg.cpc.test.v1.Echo.service, impl)
  port = await new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(),
      (err, p) => err ? reject(err) : resolve(p))
  })
})

after(async () => {
  await new Promise((resolve) => server.tryShutdown(resolve))
})

test('unary with request metadata, response headers and trailers', async () => {
  const r = await run('Echo', 'unary', [{ text: 'hello', payload: Buffer.from([0, 1, 2, 255]) }], {
    md: [['x-node', 'node-42'], ['authorization', 'Signature keyId=abc']],
    show: ['x-node-echo', 'x-trailer', 'content-type']
  })
  assert.equal(r.status, S.OK)
  assert.equal(r.messages.length, 1)
  assert.equal(r.messages[0].text, 'hello')
  assert.deepEqual([...r.messages[0].payload], [0, 1, 2, 255])
  assert.equal(r.md['x-node-echo'], 'node-42')
  assert.equal(r.md['x-trailer'], 'done')
  assert.match(r.md['content-type'], /^application\/grpc/)
  assert.deepEqual(seen.md.get('authorization'), ['Signature keyId=abc'])
  assert.match(String(seen.md.get('user-agent')), /cpc-rpc-client/)
  // An empty request message.
  const e = await run('Echo', 'unary', [Buffer.alloc(0)])
  assert.equal(e.status, S.OK)
  assert.equal(e.messages[0].text, '')
})

test('an error status with a percent-encoded message and trailers', async () => {
  const text = 'bad: 100% sure, ünïcödé ✓ "quoted"'
  const r = await run('Echo', 'unary', [{ fail_code: S.FAILED_PRECONDITION, text }], { show: ['x-trailer'] })
  assert.equal(r.status, S.FAILED_PRECONDITION)
  assert.equal(r.details, text)
  assert.equal(r.messages.length, 0)
  assert.equal(r.md['x-trailer'], 'done')
})

test('server streaming: 1000 messages in order', async () => {
  const r = await run('Count', 'server-stream', [{ n: 1000, pad: 500 }])
  assert.equal(r.status, S.OK)
  assert.equal(r.messages.length, 1000)
  r.messages.forEach((m, i) => {
    assert.equal(m.i, i)
    assert.equal(m.pad.length, 500)
  })
})

test('client streaming: sum of 1..1000', async () => {
  const reqs = []
  for (let i = 1; i <= 1000; i++) reqs.push({ value: String(i) })
  const r = await run('Sum', 'client-stream', reqs)
  assert.equal(r.status, S.OK)
  assert.equal(r.messages.length, 1)
  assert.equal(r.messages[0].sum, '500500')
  assert.equal(r.messages[0].count, 1000)
})

test('bidi streaming echo', async () => {
  const r = await run('Chat', 'bidi', [{ text: 'a' }, { text: 'bb' }, { text: 'ccc' }])
  assert.equal(r.status, S.OK)
  assert.deepEqual(r.messages.map((m) => m.text), ['a', 'bb', 'ccc'])
})

test('3 MiB each way', async () => {
  const payload = Buffer.alloc(3 * MiB)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 12)) & 0xff
  const r = await run('Echo', 'unary', [{ payload }])
  assert.equal(r.status, S.OK)
  assert.ok(r.messages[0].payload.equals(payload))
})

test('a response over the client cap is RESOURCE_EXHAUSTED', async () => {
  const r = await run('Echo', 'unary', [{ response_size: 100000 }], { maxRecv: 65536 })
  assert.equal(r.status, S.RESOURCE_EXHAUSTED)
  assert.equal(r.messages.length, 0)
})

test('unknown method is UNIMPLEMENTED', async () => {
  const child = await new Promise((resolve) => {
    const c = spawn(CLIENT, ['127.0.0.1', String(port), '/cpc.test.v1.Echo/Nope', 'unary'],
      { stdio: ['pipe', 'pipe', 'inherit'] })
    c.stdin.end('\n')
    let out = ''
    c.stdout.on('data', (d) => { out += d })
    c.on('exit', (code) => resolve({ code, out }))
  })
  assert.equal(child.code, 0)
  assert.equal(JSON.parse(child.out.trim()).status, S.UNIMPLEMENTED)
})

test('deadline: DEADLINE_EXCEEDED, and the server sees the cancellation', async () => {
  const before = seen.cancelled
  const t0 = Date.now()
  const r = await run('Hang', 'unary', [{}], { timeout: 200 })
  assert.equal(r.status, S.DEADLINE_EXCEEDED)
  assert.ok(Date.now() - t0 >= 150)
  for (let i = 0; i < 100 && seen.cancelled === before; i++) await sleep(20)
  assert.equal(seen.cancelled, before + 1)
})

test('cancel in the middle of a long server stream', async () => {
  const before = seen.cancelled
  const r = await run('Count', 'server-stream', [{ n: 1000000, pad: 100 }], { cancelAfter: 5 })
  assert.equal(r.status, S.CANCELLED)
  assert.equal(r.messages.length, 5)
  for (let i = 0; i < 100 && seen.cancelled === before; i++) await sleep(20)
  assert.equal(seen.cancelled, before + 1)
})
