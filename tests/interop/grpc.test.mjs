// The libcpc gRPC server (lib/rpc) against @grpc/grpc-js, a standard
// client, over h2c (insecure credentials) on 127.0.0.1. The server is
// tests/interop/rpc_test_server.c (CPC_RPC_TEST_SERVER), serving
// proto/cpc/test/v1/echo.proto and grpc.health.v1.Health.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'

const SERVER = process.env.CPC_RPC_TEST_SERVER
const SRC = process.env.CPC_SOURCE_DIR ?? process.cwd()
const MiB = 1024 * 1024
const S = grpc.status

let server, port, addr, echo, health, Echo

const def = protoLoader.loadSync(
  ['cpc/test/v1/echo.proto', 'grpc/health/v1/health.proto'],
  { includeDirs: [path.join(SRC, 'proto')], keepCase: true, longs: String, enums: String, defaults: true })
const pkg = grpc.loadPackageDefinition(def)

function unary (client, method, req, opts = {}) {
  return new Promise((resolve, reject) => {
    const md = opts.metadata ?? new grpc.Metadata()
    const call = client[method](req, md, opts.deadline ? { deadline: opts.deadline } : {}, (err, res) => {
      if (err) reject(err)
      else resolve(res)
    })
    if (opts.onCall) opts.onCall(call)
  })
}

function collect (stream) {
  return new Promise((resolve, reject) => {
    const out = []
    stream.on('data', (m) => out.push(m))
    stream.on('error', reject)
    stream.on('end', () => resolve(out))
  })
}

async function stats () {
  return unary(echo, 'Stats', {})
}

// Poll until pred(stats) holds (the server notices cancellations
// asynchronously); fails after ~5 s.
async function waitStats (pred) {
  let s
  for (let i = 0; i < 100; i++) {
    s = await stats()
    if (pred(s)) return s
    await sleep(50)
  }
  assert.fail('server stats never matched: ' + JSON.stringify(s))
}

before(async () => {
  assert.ok(SERVER, 'CPC_RPC_TEST_SERVER must name the test server binary')
  server = spawn(SERVER, ['127.0.0.1', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let buf = ''
  for await (const chunk of server.stdout) {
    buf += chunk
    if (buf.includes('\n')) break
  }
  port = Number(buf.trim())
  assert.ok(port > 0, 'server printed its port')
  addr = `127.0.0.1:${port}`
  Echo = pkg.cpc.test.v1.Echo
  echo = new Echo(addr, grpc.credentials.createInsecure())
  health = new pkg.grpc.health.v1.Health(addr, grpc.credentials.createInsecure())
})

after(async () => {
  echo?.close()
  health?.close()
  if (server && server.exitCode === null) {
    const exited = once(server, 'exit')
    server.kill('SIGTERM')
    const [code, signal] = await exited
    // A clean exit: under AddressSanitizer a leak makes this non-zero.
    assert.equal(signal, null)
    assert.equal(code, 0)
  }
})

test('unary echo', async () => {
  const res = await unary(echo, 'Echo', { text: 'hello', payload: Buffer.from([0, 1, 2, 255]) })
  assert.equal(res.text, 'hello')
  assert.deepEqual([...res.payload], [0, 1, 2, 255])
  const empty = await unary(echo, 'Echo', {}) // zero-length request message
  assert.equal(empty.text, '')
})

test('error status with a percent-encoded message (Trailers-Only)', async () => {
  const text = 'bad: 100% sure, ünïcödé ✓\nsecond line'
  await assert.rejects(unary(echo, 'Echo', { fail_code: S.FAILED_PRECONDITION, text }),
    (err) => err.code === S.FAILED_PRECONDITION && err.details === text)
})

test('server streaming: 10,000 messages in order, with the client pausing', async () => {
  const before = await stats()
  const call = echo.Count({ n: 10000, pad: 1000 })
  let next = 0
  let paused = false
  await new Promise((resolve, reject) => {
    call.on('data', (m) => {
      assert.equal(m.i, next++)
      if (next === 100 && !paused) {
        // Stop reading for a while: the server must wait on flow control.
        paused = true
        call.pause()
        setTimeout(() => call.resume(), 300)
      }
    })
    call.on('error', reject)
    call.on('end', resolve)
  })
  assert.equal(next, 10000)
  // 10 MB against grpc-js's 64 KiB stream window: the server's sends were
  // refused and resumed by on_writable rather than buffered.
  assert.ok((await stats()).send_waits > before.send_waits)
})

test('client streaming: sum of 1..1000', async () => {
  const res = await new Promise((resolve, reject) => {
    const call = echo.Sum((err, r) => err ? reject(err) : resolve(r))
    for (let i = 1; i <= 1000; i++) call.write({ value: String(i) })
    call.end()
  })
  assert.equal(res.sum, String(500500))
  assert.equal(res.count, 1000)
})

test('bidi streaming echo', async () => {
  const call = echo.Chat()
  const got = collect(call)
  for (const t of ['a', 'bb', 'ccc']) call.write({ text: t })
  call.end()
  assert.deepEqual((await got).map((m) => m.text), ['a', 'bb', 'ccc'])
})

test('a message just under the 4 MiB cap passes, one over it is RESOURCE_EXHAUSTED', async () => {
  // EchoRequest{payload}: 1 tag byte + 4 length bytes + payload.
  const under = Buffer.alloc(4 * MiB - 5, 0x61)
  const res = await unary(echo, 'Echo', { payload: under })
  assert.equal(res.payload.length, under.length)
  assert.ok(res.payload.equals(under))
  const over = Buffer.alloc(4 * MiB, 0x62)
  await assert.rejects(unary(echo, 'Echo', { payload: over }),
    (err) => err.code === S.RESOURCE_EXHAUSTED)
  // The server still serves on the same connection.
  assert.equal((await unary(echo, 'Echo', { text: 'after' })).text, 'after')
})

test('unknown method and unknown service are UNIMPLEMENTED', async () => {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure())
  const call = (p) => new Promise((resolve) => {
    client.makeUnaryRequest(p, (x) => x, (x) => x, Buffer.alloc(0), (err) => resolve(err))
  })
  for (const p of ['/cpc.test.v1.Echo/Nope', '/no.such.Service/Echo']) {
    const err = await call(p)
    assert.equal(err?.code, S.UNIMPLEMENTED, p)
    assert.match(err.details, /unknown method/)
  }
  client.close()
})

test('metadata round trip: request headers, response headers and trailers', async () => {
  const md = new grpc.Metadata()
  md.add('x-cpc-node-id', 'node-42')
  md.add('authorization', 'Signature keyId=abc')
  let headers, trailers
  const res = await unary(echo, 'Echo', { text: 'md' }, {
    metadata: md,
    onCall: (call) => {
      call.on('metadata', (m) => { headers = m })
      call.on('status', (s) => { trailers = s.metadata })
    }
  })
  assert.equal(res.text, 'md')
  await sleep(10)
  assert.deepEqual(headers.get('x-cpc-node-id'), ['node-42'])
  assert.deepEqual(trailers.get('x-cpc-trailer'), ['done'])
  assert.deepEqual(trailers.get('x-cpc-authorization'), ['Signature keyId=abc'])
})

test('deadline exceeded, and the server notices', async () => {
  const before = await stats()
  const t0 = Date.now()
  await assert.rejects(unary(echo, 'Hang', {}, { deadline: Date.now() + 200 }),
    (err) => err.code === S.DEADLINE_EXCEEDED)
  assert.ok(Date.now() - t0 >= 150)
  await waitStats((s) => s.cancelled >= before.cancelled + 1 && s.active === before.active)
})

test('client cancellation of a server stream: the server notices', async () => {
  const before = await stats()
  const call = echo.Count({ n: 1000000, pad: 100 })
  let got = 0
  const err = await new Promise((resolve) => {
    call.on('data', () => { if (++got === 10) call.cancel() })
    call.on('error', resolve)
    call.on('end', () => resolve(null))
  })
  assert.equal(err?.code, S.CANCELLED)
  const s = await waitStats((x) => x.cancelled >= before.cancelled + 1 && x.active === before.active)
  assert.ok(s.cancelled > before.cancelled)
})

test('health: Check SERVING / NOT_FOUND, Watch follows changes', async () => {
  assert.equal((await unary(health, 'Check', { service: '' })).status, 'SERVING')
  assert.equal((await unary(health, 'Check', { service: 'cpc.test.v1.Echo' })).status, 'SERVING')
  await assert.rejects(unary(health, 'Check', { service: 'nope' }), (err) => err.code === S.NOT_FOUND)

  const watch = health.Watch({ service: 'svc.x' })
  const seen = []
  const waitFor = (n) => new Promise((resolve, reject) => {
    const check = () => { if (seen.length >= n) resolve() }
    watch.on('data', (m) => { seen.push(m.status); check() })
    watch.on('error', (e) => { if (e.code !== S.CANCELLED) reject(e) })
    check()
  })
  await waitFor(1)
  assert.deepEqual(seen, ['SERVICE_UNKNOWN'])
  await unary(echo, 'SetHealth', { service: 'svc.x', status: 1 })
  while (seen.length < 2) await sleep(10)
  await unary(echo, 'SetHealth', { service: 'svc.x', status: 2 })
  while (seen.length < 3) await sleep(10)
  assert.deepEqual(seen, ['SERVICE_UNKNOWN', 'SERVING', 'NOT_SERVING'])
  assert.equal((await unary(health, 'Check', { service: 'svc.x' })).status, 'NOT_SERVING')
  watch.cancel()
})

test('50 concurrent calls on one channel and on separate channels', async () => {
  const clients = Array.from({ length: 5 }, () => new Echo(addr, grpc.credentials.createInsecure()))
  const calls = []
  for (let i = 0; i < 50; i++) {
    const c = i % 2 ? echo : clients[i % 5]
    if (i % 5 === 0) calls.push(collect(c.Count({ n: 200, pad: 10 })).then((m) => m.length))
    else calls.push(unary(c, 'Echo', { text: `call-${i}` }).then((r) => r.text))
  }
  const res = await Promise.all(calls)
  res.forEach((r, i) => assert.equal(r, i % 5 === 0 ? 200 : `call-${i}`))
  clients.forEach((c) => c.close())
})

test('garbage on a raw TCP connection does not hurt the server', async () => {
  for (const junk of [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + '\xff'.repeat(64), 'latin1'),
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 255))
  ]) {
    const sock = net.connect(port, '127.0.0.1')
    await once(sock, 'connect')
    sock.on('error', () => {})
    sock.resume() // read (and drop) what the server sends, so 'close' can fire
    sock.write(junk)
    // The server closes the connection (after a GOAWAY where it can).
    await Promise.race([once(sock, 'close'), sleep(3000).then(() => assert.fail('not closed'))])
  }
  assert.equal((await unary(echo, 'Echo', { text: 'still here' })).text, 'still here')
})

test('IPv6: a server on [::1] serves grpc-js', async (t) => {
  const v6 = spawn(SERVER, ['::1', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  v6.stderr.on('data', (d) => { err += d })
  const exited = once(v6, 'exit')
  for await (const chunk of v6.stdout) {
    out += chunk
    if (out.includes('\n')) break
  }
  if (!out.includes('\n')) {
    await exited
    t.skip('no IPv6 loopback here: ' + err.trim())
    return
  }
  const client = new Echo(`[::1]:${Number(out.trim())}`, grpc.credentials.createInsecure())
  try {
    assert.equal((await unary(client, 'Echo', { text: 'six' })).text, 'six')
  } finally {
    client.close()
    v6.kill('SIGTERM')
    const [code] = await exited
    assert.equal(code, 0)
  }
})
