// Signed REST requests from a JS client: tests/interop/lib/cpc_auth.mjs signs
// with @libp2p/crypto secp256k1 keys and fetch(); the server is libcpc's
// (tests/interop/http_test_server.c, CPC_HTTP_TEST_SERVER), whose echo routes
// report the PeerId, target and body hash they verified.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blake3 } from '@noble/hashes/blake3.js'
import {
  bodyBytes, newNonce, requestTarget, signRequest, signedFetch, signedMessage
} from './lib/cpc_auth.mjs'

const SERVER = process.env.CPC_HTTP_TEST_SERVER
let server, base, key

const hex = (u8) => Buffer.from(u8).toString('hex')
const now = () => Math.floor(Date.now() / 1000)

before(async () => {
  assert.ok(SERVER, 'CPC_HTTP_TEST_SERVER must name the test server binary')
  server = spawn(SERVER, ['127.0.0.1:0'], { stdio: ['pipe', 'pipe', 'inherit'] })
  let buf = ''
  for await (const chunk of server.stdout) {
    buf += chunk
    if (buf.includes('\n')) break
  }
  const port = Number(buf.trim())
  assert.ok(port > 0, 'server printed its port')
  base = `http://127.0.0.1:${port}`
  key = await generateKeyPair('secp256k1')
})

after(async () => {
  if (!server) return
  server.kill('SIGTERM')
  const [code] = await once(server, 'exit')
  assert.equal(code, 0, 'server exits cleanly on SIGTERM')
})

// Send with explicit headers (no re-signing), to replay or tamper.
async function send (path, { method = 'GET', body, headers = {} } = {}) {
  const res = await fetch(base + path, { method, body, headers })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.status, json, headers: res.headers }
}

async function signed (k, path, { method = 'GET', body, timestamp, nonce, target } = {}) {
  return signRequest(k, { method, target: target ?? requestTarget(base + path), body, timestamp, nonce })
}

test('message layout', () => {
  const m = new TextDecoder().decode(signedMessage({
    method: 'POST', target: '/v1/x?a=%20b', body: '', timestamp: '1750000000', nonce: 'abcdefghijklmnop'
  }))
  assert.equal(m, 'CPC-REQUEST-V1\nPOST\n/v1/x?a=%20b\n' +
    'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\n1750000000\nabcdefghijklmnop')
  assert.match(newNonce(), /^[A-Za-z0-9_-]{32}$/)
})

test('a signed POST is accepted and the server saw what was signed', async () => {
  const body = JSON.stringify({ hello: 'wörld', n: [1, 2, 3] })
  const res = await signedFetch(key, `${base}/v1/echo?x=1&y=a%20b`, { method: 'POST', body })
  assert.equal(res.status, 200)
  const j = await res.json()
  assert.equal(j.peer_id, peerIdFromPrivateKey(key).toString())
  assert.equal(j.method, 'POST')
  assert.equal(j.target, '/v1/echo?x=1&y=a%20b')
  assert.equal(j.body_blake3, hex(blake3(bodyBytes(body))))
  assert.equal(j.body_len, bodyBytes(body).length)
})

test('GET, PUT, DELETE, binary bodies, URLs fetch() normalises', async () => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const res = await signedFetch(key, `${base}/v1/echo`, { method, body: method === 'PUT' ? new Uint8Array([0, 1, 255]) : undefined })
    assert.equal(res.status, 200, method)
    assert.equal((await res.json()).method, method)
  }
  // spaces and non-ASCII are percent-encoded by URL(); the signer signs that
  const res = await signedFetch(key, `${base}/v1/echo/a b/é?q=héllo wörld&z=+`)
  assert.equal(res.status, 200)
  const j = await res.json()
  assert.deepEqual(j.params, { a: 'a b', b: 'é' })
  assert.equal(j.target, '/v1/echo/a%20b/%C3%A9?q=h%C3%A9llo%20w%C3%B6rld&z=+')
})

test('replayed requests are refused', async () => {
  const body = '{"once":true}'
  const headers = await signed(key, '/v1/echo', { method: 'POST', body })
  assert.equal((await send('/v1/echo', { method: 'POST', body, headers })).status, 200)
  const again = await send('/v1/echo', { method: 'POST', body, headers })
  assert.equal(again.status, 401)
  assert.equal(again.json.error.code, 'replayed')
  // the same nonce from another key is that key's own first use
  const other = await generateKeyPair('secp256k1')
  const h2 = await signed(other, '/v1/echo', { method: 'POST', body, nonce: headers['X-CPC-Nonce'] })
  assert.equal((await send('/v1/echo', { method: 'POST', body, headers: h2 })).status, 200)
})

test('tampered body, path, query, method or timestamp is refused', async () => {
  const body = '{"amount":1}'
  const headers = await signed(key, '/v1/echo?a=1', { method: 'POST', body })
  const cases = [
    ['/v1/echo?a=1', 'POST', '{"amount":2}'],
    ['/v1/echo?a=2', 'POST', body],
    ['/v1/echo', 'POST', body],
    ['/v1/echo?a=1', 'PUT', body]
  ]
  for (const [path, method, b] of cases) {
    const r = await send(path, { method, body: b, headers })
    assert.equal(r.status, 401, `${method} ${path} ${b}`)
    assert.equal(r.json.error.code, 'unauthorized')
  }
  const r = await send('/v1/echo?a=1', { method: 'POST', body, headers: { ...headers, 'X-CPC-Timestamp': String(Number(headers['X-CPC-Timestamp']) + 1) } })
  assert.equal(r.status, 401)
  // failed attempts used no nonce: the genuine request still goes through
  assert.equal((await send('/v1/echo?a=1', { method: 'POST', body, headers })).status, 200)
})

test('stale and future timestamps are refused', async () => {
  for (const ts of [now() - 3600, now() + 3600]) {
    const headers = await signed(key, '/v1/echo', { timestamp: ts })
    const r = await send('/v1/echo', { headers })
    assert.equal(r.status, 401)
    assert.equal(r.json.error.code, 'stale')
  }
  const headers = await signed(key, '/v1/echo', { timestamp: now() - 60 })
  assert.equal((await send('/v1/echo', { headers })).status, 200)
})

test('missing, malformed and foreign credentials are refused', async () => {
  const good = await signed(key, '/v1/echo')
  const other = await generateKeyPair('secp256k1')
  const ed = await generateKeyPair('Ed25519')
  const variants = [
    {},
    { ...good, 'X-CPC-Signature': undefined },
    { ...good, 'X-CPC-Peer-Id': peerIdFromPrivateKey(other).toString() },
    { ...good, 'X-CPC-Peer-Id': peerIdFromPrivateKey(ed).toString() },
    { ...good, 'X-CPC-Peer-Id': 'not-a-peer-id' },
    { ...good, 'X-CPC-Nonce': 'short' },
    { ...good, 'X-CPC-Timestamp': 'yesterday' },
    { ...good, 'X-CPC-Signature': 'bm90IGEgc2lnbmF0dXJl' }
  ]
  for (const v of variants) {
    const headers = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined))
    const r = await send('/v1/echo', { headers })
    assert.equal(r.status, 401, JSON.stringify(headers))
    assert.equal(r.json.error.code, 'unauthorized')
    assert.equal(r.headers.get('www-authenticate'), 'CPC-REQUEST-V1')
  }
  // an Ed25519 key cannot sign at all with the helper
  await assert.rejects(signRequest(ed, { method: 'GET', target: '/v1/echo' }))
  // optional route: anonymous without a signature
  const anon = await send('/v1/maybe', { method: 'POST', body: '{}' })
  assert.equal(anon.status, 200)
  assert.equal(anon.json.peer_id, null)
  assert.equal((await send('/healthz')).status, 200)
})

test('errors are JSON with the documented codes', async () => {
  let r = await send('/v1/nothing')
  assert.equal(r.status, 404)
  assert.equal(r.json.error.code, 'not_found')
  r = await send('/healthz', { method: 'POST', body: '{}' })
  assert.equal(r.status, 405)
  assert.equal(r.json.error.code, 'method_not_allowed')
  assert.equal(r.headers.get('allow'), 'GET, HEAD')
  const big = 'x'.repeat(1024 * 1024 + 1)
  r = await send('/v1/echo', { method: 'POST', body: big, headers: await signed(key, '/v1/echo', { method: 'POST', body: big }) })
  assert.equal(r.status, 413)
  assert.equal(r.json.error.code, 'too_large')
})

test('200 parallel signed requests from 10 keys', async () => {
  const keys = await Promise.all(Array.from({ length: 10 }, () => generateKeyPair('secp256k1')))
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const k = keys[i % keys.length]
    const body = JSON.stringify({ i })
    const res = await signedFetch(k, `${base}/v1/echo?i=${i}`, { method: 'POST', body })
    const j = await res.json()
    return { status: res.status, ok: j.peer_id === peerIdFromPrivateKey(k).toString() && j.target === `/v1/echo?i=${i}` && j.body_blake3 === hex(blake3(bodyBytes(body))) }
  }))
  assert.equal(results.filter((r) => r.status === 200).length, 200)
  assert.ok(results.every((r) => r.ok))
})
