// cpc-orchestrator's REST API over real HTTP (docs/openapi.json): users A, B
// and C with @libp2p/crypto secp256k1 keys sign their requests
// (docs/api-auth.md); identities, profiles, the follow graph, the access
// control matrix of content (get, locate, search), pagination, delete by the
// owner only, the bad-input matrix, /healthz, /metrics through
// `promtool check metrics`, and /v1/openapi.json against the server's routes.
// With CPC_TEST_PG_URL set the server runs on that PostgreSQL database.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blake3 } from '@noble/hashes/blake3.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { signRequest } from './lib/cpc_auth.mjs'

const CPC = process.env.CPC_BIN
const ORCH = process.env.CPC_ORCHESTRATOR_BIN ??
  (CPC ? path.join(path.dirname(CPC), 'cpc-orchestrator') : undefined)
const PG = process.env.CPC_TEST_PG_URL

let proc, dir, base
const b64 = (u8) => Buffer.from(u8).toString('base64')
const cidOf = (bytes) => CID.createV1(0x55, Digest.create(0x1e, blake3(bytes))).toString()

async function user () {
  const key = await generateKeyPair('secp256k1')
  const id = peerIdFromPrivateKey(key).toString()
  const x = randomBytes(32)
  const msg = Buffer.concat([Buffer.from('cpc-identity-x25519:'), x])
  const sig = await key.sign(msg)
  return {
    key,
    id,
    identity: {
      peer_id: id,
      signing_public_key: b64(publicKeyToProtobuf(key.publicKey)),
      encryption_public_key: b64(x),
      binding_signature: b64(sig)
    }
  }
}

// A request, signed by u when given. Returns {status, body (parsed or text)}.
async function call (u, method, p, body, extra = {}) {
  const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body))
  const headers = { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...(extra.headers ?? {}) }
  if (u) Object.assign(headers, await signRequest(u.key, { method, target: p, body: data, ...(extra.sign ?? {}) }))
  if (extra.override) Object.assign(headers, extra.override)
  const res = await fetch(base + p, { method, headers, body: data })
  const text = await res.text()
  let parsed = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed, headers: res.headers }
}

before(async () => {
  assert.ok(ORCH && existsSync(ORCH), 'cpc-orchestrator binary (next to CPC_BIN)')
  dir = mkdtempSync(path.join(tmpdir(), 'cpc-rest-'))
  const args = ['--rest', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--data', dir]
  if (PG) args.push('--db', PG)
  proc = spawn(ORCH, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  base = await new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (d) => {
      out += d
      const m = /rest listening on (\S+)/.exec(out)
      if (m) resolve('http://' + m[1])
    })
    proc.on('exit', (c) => reject(new Error('orchestrator exited ' + c)))
  })
})

after(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM')
    await new Promise((resolve) => proc.on('exit', resolve))
  }
  if (dir) rmSync(dir, { recursive: true, force: true })
})

let A, B, C
const content = {}

// Direct SQL on the server's database (to stand in for nodes and their
// confirmations): psql on PostgreSQL, the sqlite3 shell on SQLite.
const HAVE_SQL = PG ? spawnSync('psql', ['--version']).status === 0
  : spawnSync('sqlite3', ['-version']).status === 0
function sql (text) {
  const r = PG
    ? spawnSync('psql', [PG, '-qAt', '-v', 'ON_ERROR_STOP=1'], { input: text, encoding: 'utf8' })
    : spawnSync('sqlite3', [path.join(dir, 'orchestrator.db')], { input: '.timeout 5000\n' + text, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.trim()
}

function reg (owner, access, name, tags, extra = {}) {
  const chunks = [0, 1, 2].map((i) => ({ cid: cidOf(randomBytes(16)), size: 1000 + i }))
  return {
    content_id: cidOf(randomBytes(32)),
    size: 3003,
    created_at: Date.now(),
    access_control: access,
    name,
    description: `${access} file of ${owner.id.slice(-6)}`,
    tags,
    chunks,
    replicas: 2,
    ...(access === 'public' ? { clear_key: b64(randomBytes(32)) } : {}),
    wrapped_keys: access === 'public' ? [] : [{ reader: owner.id, sealed_key: b64(randomBytes(80)) }],
    ...extra
  }
}

test('register users, identities, duplicates, impostors', async () => {
  A = await user(); B = await user(); C = await user()
  for (const u of [A, B, C]) {
    const r = await call(u, 'POST', '/v1/users', u.identity)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.body.peer_id, u.id)
  }
  assert.equal((await call(A, 'POST', '/v1/users', A.identity)).status, 409)
  const D = await user()
  const r = await call(A, 'POST', '/v1/users', D.identity) // A registers D: refused
  assert.equal(r.status, 403)
  const bad = { ...D.identity, binding_signature: A.identity.binding_signature }
  assert.equal((await call(D, 'POST', '/v1/users', bad)).status, 400)
  assert.equal((await call(null, 'POST', '/v1/users', D.identity)).status, 401)
  const g = await call(null, 'GET', '/v1/users/' + A.id)
  assert.equal(g.status, 200)
  assert.equal(g.body.encryption_public_key, A.identity.encryption_public_key)
  assert.equal(g.body.binding_signature, A.identity.binding_signature)
  assert.equal((await call(null, 'GET', '/v1/users/' + D.id)).status, 404)
  assert.equal((await call(null, 'GET', '/v1/users/notapeerid')).status, 404)
})

test('profiles: owner only, caps, avatar CID', async () => {
  const p = { display_name: 'Alice', bio: 'hello', avatar_cid: cidOf(Buffer.from('x')) }
  let r = await call(A, 'PUT', `/v1/users/${A.id}/profile`, p)
  assert.equal(r.status, 200)
  r = await call(null, 'GET', `/v1/users/${A.id}/profile`)
  assert.equal(r.body.display_name, 'Alice')
  assert.equal(r.body.avatar_cid, p.avatar_cid)
  assert.equal((await call(B, 'PUT', `/v1/users/${A.id}/profile`, p)).status, 403)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/profile`, { display_name: 'x'.repeat(101) })).status, 400)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/profile`, { bio: 'x'.repeat(2001) })).status, 400)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/profile`, { avatar_cid: 'nope' })).status, 400)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/profile`, { display_name: 5 })).status, 400)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/profile`, { extra: 1 })).status, 400)
  r = await call(null, 'GET', `/v1/users/${A.id}/profile`)
  assert.equal(r.body.display_name, 'Alice', 'refused writes change nothing')
  r = await call(A, 'PUT', `/v1/users/${A.id}/profile`, { display_name: 'Ålice', avatar_cid: null })
  assert.equal(r.status, 200)
  assert.equal((await call(null, 'GET', `/v1/users/${A.id}/profile`)).body.avatar_cid, null)
})

test('access control matrix', async () => {
  for (const a of ['public', 'followers', 'private']) {
    const body = reg(A, a, `report ${a} 100%_done`, ['t-' + a, 'common'])
    const r = await call(A, 'POST', '/v1/content', body)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    content[a] = body
  }
  assert.equal((await call(A, 'POST', '/v1/content', content.public)).status, 409)
  const see = async (u, a) => (await call(u, 'GET', '/v1/content/' + content[a].content_id)).status
  const loc = async (u, a) => call(u, 'GET', `/v1/content/${content[a].content_id}/locate`)
  // Owner sees everything.
  for (const a of ['public', 'followers', 'private']) assert.equal(await see(A, a), 200)
  // B and C not following, anonymous: public only.
  for (const u of [B, C, null]) {
    assert.equal(await see(u, 'public'), 200)
    assert.equal(await see(u, 'followers'), 404)
    assert.equal(await see(u, 'private'), 404)
    assert.equal((await loc(u, 'followers')).status, 404)
  }
  const lp = await loc(C, 'public')
  assert.equal(lp.status, 200)
  assert.equal(lp.body.clear_key, content.public.clear_key)
  assert.equal(lp.body.chunks.length, 3)
  assert.deepEqual(lp.body.chunks[0].providers, [])
  // B follows A and gets its key added by A (a new registration of A's).
  assert.equal((await call(B, 'PUT', `/v1/users/${B.id}/following/${A.id}`)).status, 204)
  assert.equal((await call(B, 'PUT', `/v1/users/${B.id}/following/${A.id}`)).status, 204, 'idempotent')
  assert.equal(await see(B, 'followers'), 200)
  assert.equal(await see(B, 'private'), 404)
  const withKey = reg(A, 'followers', 'for B', [], {
    wrapped_keys: [{ reader: A.id, sealed_key: b64(randomBytes(80)) }, { reader: B.id, sealed_key: b64(randomBytes(80)) }]
  })
  assert.equal((await call(A, 'POST', '/v1/content', withKey)).status, 201)
  let l = await loc(B, 'followers')
  assert.equal(l.status, 200)
  assert.equal(l.body.wrapped_key, null)
  l = await call(B, 'GET', `/v1/content/${withKey.content_id}/locate`)
  assert.equal(l.body.wrapped_key, withKey.wrapped_keys[1].sealed_key)
  l = await call(A, 'GET', `/v1/content/${withKey.content_id}/locate`)
  assert.equal(l.body.wrapped_key, withKey.wrapped_keys[0].sealed_key)
  assert.equal(await see(C, 'followers'), 404)
  // Search: what each may see.
  const names = async (u, q) => (await call(u, 'GET', '/v1/search?' + q)).body.items.map((i) => i.access_control).sort()
  assert.deepEqual(await names(A, 'tag=common'), ['followers', 'private', 'public'])
  assert.deepEqual(await names(B, 'tag=common'), ['followers', 'public'])
  assert.deepEqual(await names(C, 'tag=common'), ['public'])
  assert.deepEqual(await names(null, 'q=REPORT'), ['public'])
  assert.deepEqual(await names(A, 'q=' + encodeURIComponent('100%_d')), ['followers', 'private', 'public'])
  assert.deepEqual(await names(A, 'q=' + encodeURIComponent('1%0')), [], '% is literal')
  assert.deepEqual(await names(A, `owner=${B.id}`), [])
  // B unfollows: followers-only is gone again.
  assert.equal((await call(B, 'DELETE', `/v1/users/${B.id}/following/${A.id}`)).status, 204)
  assert.equal((await call(B, 'DELETE', `/v1/users/${B.id}/following/${A.id}`)).status, 204)
  assert.equal(await see(B, 'followers'), 404)
  assert.equal((await call(B, 'GET', `/v1/content/${withKey.content_id}/locate`)).status, 404)
})

test('follow graph and pagination', async () => {
  const others = []
  for (let i = 0; i < 5; i++) {
    const u = await user()
    assert.equal((await call(u, 'POST', '/v1/users', u.identity)).status, 201)
    assert.equal((await call(u, 'PUT', `/v1/users/${u.id}/following/${C.id}`)).status, 204)
    others.push(u.id)
  }
  assert.equal((await call(A, 'PUT', `/v1/users/${B.id}/following/${C.id}`)).status, 403)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/following/${(await user()).id}`)).status, 404)
  assert.equal((await call(A, 'PUT', `/v1/users/${A.id}/following/${A.id}`)).status, 400)
  const seen = []
  let cursor = null
  let pages = 0
  do {
    const r = await call(null, 'GET', `/v1/users/${C.id}/followers?limit=2` + (cursor ? '&cursor=' + cursor : ''))
    assert.equal(r.status, 200)
    assert.ok(r.body.items.length <= 2)
    seen.push(...r.body.items.map((i) => i.peer_id))
    cursor = r.body.next_cursor
    pages++
  } while (cursor)
  assert.equal(pages, 3)
  assert.deepEqual(seen, [...others].sort())
  const f = await call(null, 'GET', `/v1/users/${others[0]}/following`)
  assert.deepEqual(f.body.items.map((i) => i.peer_id), [C.id])
  assert.equal((await call(null, 'GET', `/v1/users/${C.id}/followers?limit=0`)).status, 400)
  assert.equal((await call(null, 'GET', `/v1/users/${C.id}/followers?limit=201`)).status, 400)
  assert.equal((await call(null, 'GET', `/v1/users/${C.id}/followers?cursor=%%%`)).status, 400)
})

test('delete: owner only, then gone', async () => {
  const body = reg(A, 'public', 'to delete', [])
  assert.equal((await call(A, 'POST', '/v1/content', body)).status, 201)
  assert.equal((await call(B, 'DELETE', '/v1/content/' + body.content_id)).status, 403)
  assert.equal((await call(B, 'DELETE', '/v1/content/' + content.private.content_id)).status, 404)
  assert.equal((await call(A, 'DELETE', '/v1/content/' + body.content_id)).status, 204)
  assert.equal((await call(A, 'GET', '/v1/content/' + body.content_id)).status, 404)
  assert.equal((await call(null, 'GET', '/v1/content/' + cidOf(randomBytes(8)))).status, 404)
})

test('owner: more readers, replication status, listing, audit top-up, locate with providers', async () => {
  const D = await user()
  assert.equal((await call(D, 'POST', '/v1/users', D.identity)).status, 201)
  const fo = reg(A, 'followers', 'for later followers', ['late'])
  assert.equal((await call(A, 'POST', '/v1/content', { ...fo, origin: ['/ip4/127.0.0.1/tcp/4002/p2p/' + A.id] })).status, 201)
  const keysPath = `/v1/content/${fo.content_id}/keys`
  // D follows A afterwards; A's PDS seals the key for D.
  assert.equal((await call(D, 'PUT', `/v1/users/${D.id}/following/${A.id}`)).status, 204)
  let l = await call(D, 'GET', `/v1/content/${fo.content_id}/locate`)
  assert.equal(l.status, 200)
  assert.equal(l.body.wrapped_key, null)
  const sk = b64(randomBytes(80))
  assert.equal((await call(A, 'PUT', keysPath, { wrapped_keys: [{ reader: D.id, sealed_key: sk }] })).status, 204)
  l = await call(D, 'GET', `/v1/content/${fo.content_id}/locate`)
  assert.equal(l.body.wrapped_key, sk)
  assert.deepEqual(l.body.origin, ['/ip4/127.0.0.1/tcp/4002/p2p/' + A.id])
  // Replace (idempotent PUT) and the owner's own key stays.
  const sk2 = b64(randomBytes(80))
  assert.equal((await call(A, 'PUT', keysPath, { wrapped_keys: [{ reader: D.id, sealed_key: sk2 }] })).status, 204)
  assert.equal((await call(D, 'GET', `/v1/content/${fo.content_id}/locate`)).body.wrapped_key, sk2)
  assert.equal((await call(A, 'GET', `/v1/content/${fo.content_id}/locate`)).body.wrapped_key, fo.wrapped_keys[0].sealed_key)
  // Refusals: not the owner (a follower sees it: 403; a stranger: 404), no
  // signature, public content, bad bodies; none changes anything.
  const one = { wrapped_keys: [{ reader: C.id, sealed_key: b64(randomBytes(80)) }] }
  assert.equal((await call(D, 'PUT', keysPath, one)).status, 403)
  assert.equal((await call(C, 'PUT', keysPath, one)).status, 404)
  assert.equal((await call(null, 'PUT', keysPath, one)).status, 401)
  assert.equal((await call(A, 'PUT', `/v1/content/${content.public.content_id}/keys`, one)).status, 400)
  assert.equal((await call(A, 'PUT', `/v1/content/${cidOf(randomBytes(9))}/keys`, one)).status, 404)
  for (const body of [{}, { wrapped_keys: [] }, { wrapped_keys: 'x' }, { ...one, extra: 1 },
    { wrapped_keys: [{ reader: C.id, sealed_key: '!!' }] }, { wrapped_keys: [{ reader: 'nope', sealed_key: 'AA==' }] },
    { wrapped_keys: [one.wrapped_keys[0], one.wrapped_keys[0]] }, '{"wrapped_keys":']) {
    const r = await call(A, 'PUT', keysPath, body)
    assert.equal(r.status, 400, JSON.stringify(body))
  }
  assert.equal((await call(C, 'GET', `/v1/content/${fo.content_id}/locate`)).status, 404, 'C still sees nothing')
  // D unfollows: refused although a key was sealed for D.
  assert.equal((await call(D, 'DELETE', `/v1/users/${D.id}/following/${A.id}`)).status, 204)
  assert.equal((await call(D, 'GET', `/v1/content/${fo.content_id}/locate`)).status, 404)
  assert.equal((await call(D, 'GET', `/v1/content/${fo.content_id}`)).status, 404)

  // Replication status: nothing confirmed yet.
  let g = await call(A, 'GET', '/v1/content/' + fo.content_id)
  assert.equal(g.status, 200)
  assert.deepEqual(g.body.replication, { target: 2, chunks: 3, chunks_at_target: 0, min_confirmed: 0, complete: false })
  assert.deepEqual(g.body.chunks.map((c) => [c.index, c.cid, c.confirmed, c.pending, c.audit_tokens]),
    fo.chunks.map((c, i) => [i, c.cid, 0, 0, 0]))
  // Audit token top-up by the owner.
  const tok = (cid) => ({ cid, offset: 0, length: 100, nonce: b64(randomBytes(32)), expected: b64(randomBytes(32)) })
  const tp = `/v1/content/${fo.content_id}/audit_tokens`
  let t = await call(A, 'POST', tp, { audit_tokens: [tok(fo.chunks[0].cid), tok(fo.chunks[0].cid), tok(fo.chunks[2].cid)] })
  assert.equal(t.status, 200, JSON.stringify(t.body))
  assert.deepEqual(t.body, { added: 3, audit_tokens_unused: 3 })
  assert.equal((await call(A, 'POST', tp, { audit_tokens: [tok(content.public.chunks[0].cid)] })).status, 400, 'not a chunk of it')
  assert.equal((await call(A, 'POST', tp, { audit_tokens: [{ ...tok(fo.chunks[0].cid), nonce: b64(randomBytes(31)) }] })).status, 400)
  assert.equal((await call(A, 'POST', tp, { audit_tokens: [] })).status, 400)
  assert.equal((await call(B, 'POST', tp, { audit_tokens: [tok(fo.chunks[0].cid)] })).status, 404)
  g = await call(A, 'GET', '/v1/content/' + fo.content_id)
  assert.deepEqual(g.body.chunks.map((c) => c.audit_tokens), [2, 0, 1])
  const gp = await call(C, 'GET', '/v1/content/' + content.public.content_id)
  assert.equal(gp.body.chunks[0].audit_tokens, undefined, 'only the owner sees token counts')

  // The owner's listing (all of it) and what others see of it.
  const list = async (u, q = '') => {
    const out = []
    let cursor = null
    do {
      const r = await call(u, 'GET', `/v1/content?owner=${A.id}&limit=2` + q + (cursor ? '&cursor=' + cursor : ''))
      assert.equal(r.status, 200, JSON.stringify(r.body))
      out.push(...r.body.items)
      cursor = r.body.next_cursor
    } while (cursor)
    return out
  }
  const mine = await list(A)
  assert.ok(mine.some((i) => i.content_id === fo.content_id && i.replication.target === 2 && i.replication.complete === false))
  assert.ok(mine.some((i) => i.access_control === 'private'))
  assert.ok((await list(C)).every((i) => i.access_control === 'public'))
  assert.ok((await list(null)).length < mine.length)
  assert.equal((await call(A, 'GET', '/v1/content')).status, 400)
  assert.equal((await call(A, 'GET', '/v1/content?owner=nope')).status, 400)

  // Nodes hold the chunks: locate names them with dialable addresses, the
  // status counts confirmed (stored on active nodes) and pending replicas.
  if (!HAVE_SQL) return
  const n1 = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
  const n2 = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
  const n3 = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
  const x00 = PG ? "'\\x00'::bytea" : "X'00'"
  sql(`INSERT INTO nodes (peer_id, public_key, addrs, capacity_bytes, state, commitment, registered_at, last_heartbeat) VALUES
    ('${n1}', ${x00}, '["/ip4/10.0.0.1/tcp/4001"]', 0, 1, ${x00}, 0, ${Date.now() + 3600000}),
    ('${n2}', ${x00}, '["/ip4/10.0.0.2/tcp/4001/p2p/${n2}", "/ip4/10.0.0.2/tcp/4002/p2p/${n1}"]', 0, 1, ${x00}, 0, ${Date.now() + 3600000}),
    ('${n3}', ${x00}, '["/ip4/10.0.0.3/tcp/4001"]', 0, 2, ${x00}, 0, ${Date.now() + 3600000});
    INSERT INTO replicas (cid, node, state, updated_at) VALUES
    ('${fo.chunks[0].cid}', '${n1}', 1, 0), ('${fo.chunks[0].cid}', '${n2}', 1, 0), ('${fo.chunks[0].cid}', '${n3}', 1, 0),
    ('${fo.chunks[1].cid}', '${n1}', 1, 0), ('${fo.chunks[1].cid}', '${n2}', 0, 0),
    ('${fo.chunks[2].cid}', '${n3}', 1, 0);`)
  l = await call(A, 'GET', `/v1/content/${fo.content_id}/locate`)
  assert.equal(l.status, 200, JSON.stringify(l.body))
  assert.deepEqual(l.body.chunks[0].providers, [
    { peer_id: n1, addrs: ['/ip4/10.0.0.1/tcp/4001/p2p/' + n1] },
    { peer_id: n2, addrs: ['/ip4/10.0.0.2/tcp/4001/p2p/' + n2] }].sort((a, b) => a.peer_id < b.peer_id ? -1 : 1))
  assert.deepEqual(l.body.chunks[1].providers.map((p) => p.peer_id), [n1])
  assert.deepEqual(l.body.chunks[2].providers, [], 'offline nodes are not named')
  g = await call(A, 'GET', '/v1/content/' + fo.content_id)
  assert.deepEqual(g.body.chunks.map((c) => [c.confirmed, c.pending]), [[2, 0], [1, 1], [0, 0]])
  assert.deepEqual(g.body.replication, { target: 2, chunks: 3, chunks_at_target: 1, min_confirmed: 0, complete: false })
  sql(`UPDATE replicas SET state = 1 WHERE node = '${n2}';
    INSERT INTO replicas (cid, node, state, updated_at) VALUES ('${fo.chunks[2].cid}', '${n1}', 1, 0), ('${fo.chunks[2].cid}', '${n2}', 1, 0);`)
  g = await call(A, 'GET', '/v1/content/' + fo.content_id)
  assert.deepEqual(g.body.replication, { target: 2, chunks: 3, chunks_at_target: 3, min_confirmed: 2, complete: true })
  assert.equal((await list(A)).find((i) => i.content_id === fo.content_id).replication.complete, true)
})

test('bad input matrix', async () => {
  const ok = reg(A, 'private', 'bad', [])
  const cases = [
    ['{"content_id":', 400, 'malformed_json'],
    ['[1,2]', 400, 'malformed_json'],
    ['{"a":1,"a":2}', 400, 'malformed_json'],
    [{ ...ok, size: 'big' }, 400, 'invalid_field'],
    [{ ...ok, size: -1 }, 400, 'invalid_field'],
    [{ ...ok, content_id: 'nope' }, 400, 'invalid_field'],
    [{ ...ok, access_control: 'friends' }, 400, 'invalid_field'],
    [{ ...ok, replicas: 17 }, 400, 'invalid_field'],
    [{ ...ok, replicas: 0 }, 400, 'invalid_field'],
    [{ ...ok, chunks: [] }, 400, 'invalid_field'],
    [{ ...ok, chunks: [{ cid: 'x', size: 1 }] }, 400, 'invalid_field'],
    [{ ...ok, clear_key: b64(randomBytes(32)) }, 400, 'invalid_field'],
    [{ ...reg(A, 'public', 'x', []), clear_key: b64(randomBytes(31)) }, 400, 'invalid_field'],
    [{ ...ok, wrapped_keys: [{ reader: 'x', sealed_key: 'AA==' }] }, 400, 'invalid_field'],
    [{ ...ok, surprise: true }, 400, 'invalid_field'],
    [(({ chunks, ...rest }) => rest)(ok), 400, 'invalid_field']
  ]
  for (const [body, status, code] of cases) {
    const r = await call(A, 'POST', '/v1/content', body)
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80))
    assert.equal(r.body.error.code, code)
  }
  assert.equal((await call(null, 'GET', '/v1/content/' + ok.content_id)).status, 404, 'nothing registered')
  // Too large.
  const big = JSON.stringify({ ...ok, description: 'x'.repeat(1100000) })
  const r = await call(A, 'POST', '/v1/content', big)
  assert.equal(r.status, 413)
  // Bad signature, replay, stale.
  const sig = await signRequest(A.key, { method: 'POST', target: '/v1/content', body: JSON.stringify(ok) })
  let x = await call(null, 'POST', '/v1/content', { ...ok, name: 'tampered' }, { override: sig })
  assert.equal(x.status, 401)
  x = await call(null, 'POST', '/v1/content', ok, { override: sig })
  assert.equal(x.status, 201)
  x = await call(null, 'POST', '/v1/content', ok, { override: sig })
  assert.equal(x.status, 401)
  assert.equal(x.body.error.code, 'replayed')
  x = await call(A, 'GET', '/v1/content/' + ok.content_id, undefined, { sign: { timestamp: Math.floor(Date.now() / 1000) - 3600 } })
  assert.equal(x.status, 401)
  // An unregistered caller cannot register content.
  const D = await user()
  assert.equal((await call(D, 'POST', '/v1/content', reg(D, 'public', 'd', []))).status, 403)
  // Concurrent conflicting writes: one wins.
  const same = reg(A, 'public', 'race', [])
  const rs = await Promise.all([1, 2, 3, 4].map(() => call(A, 'POST', '/v1/content', same)))
  assert.deepEqual(rs.map((q) => q.status).sort(), [201, 409, 409, 409])
})

test('nodes, healthz, metrics, openapi', async () => {
  const n = await call(null, 'GET', '/v1/nodes')
  assert.equal(n.status, 200)
  assert.ok(Array.isArray(n.body.items))
  assert.equal((await call(null, 'GET', '/v1/nodes/12D3KooWAbc')).status, 404)
  const h = await call(null, 'GET', '/healthz')
  assert.equal(h.status, 200)
  assert.deepEqual(h.body, { status: 'ok' })
  for (const accept of ['text/plain', 'application/openmetrics-text; version=1.0.0']) {
    const res = await fetch(base + '/metrics', { headers: { accept } })
    const text = await res.text()
    assert.equal(res.status, 200)
    assert.match(text, /cpc_orchestrator_http_requests/)
    assert.match(text, /cpc_orchestrator_http_request_duration_seconds_bucket/)
    assert.match(text, /cpc_bandwidth_bytes\{node_type="orchestrator"\}/)
    assert.match(text, /cpc_orchestrator_content\{/)
    // promtool lints the Prometheus text format (it reads OpenMetrics _total
    // counters as help-less), so it checks the text/plain answer.
    if (accept === 'text/plain' && existsSync('/usr/bin/promtool')) {
      const p = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
      let err = ''
      p.stdout.on('data', (d) => { err += d })
      p.stderr.on('data', (d) => { err += d })
      p.stdin.end(text)
      const code = await new Promise((resolve) => p.on('exit', resolve))
      assert.equal(code, 0, err)
    }
  }
  // The database gauges are refreshed by the scrape (at most once a second),
  // not only by the scheduler's tick (every 5 s).
  const activeContent = async () => {
    const text = await (await fetch(base + '/metrics')).text()
    return Number(/^cpc_orchestrator_content\{state="active"\} (\d+)/m.exec(text)[1])
  }
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const before = await activeContent()
  assert.equal((await call(A, 'POST', '/v1/content', reg(A, 'public', 'counted', []))).status, 201)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  assert.equal(await activeContent(), before + 1)
  const o = await call(null, 'GET', '/v1/openapi.json')
  assert.equal(o.status, 200)
  assert.equal(o.body.openapi, '3.1.0')
  const routes = {
    '/v1/users': ['post'], '/v1/users/{peer_id}': ['get'], '/v1/users/{peer_id}/profile': ['get', 'put'],
    '/v1/users/{peer_id}/following/{other}': ['delete', 'put'], '/v1/users/{peer_id}/following': ['get'],
    '/v1/users/{peer_id}/followers': ['get'], '/v1/content': ['get', 'post'], '/v1/content/{cid}': ['delete', 'get'],
    '/v1/content/{cid}/locate': ['get'], '/v1/content/{cid}/keys': ['put'],
    '/v1/content/{cid}/audit_tokens': ['post'], '/v1/search': ['get'], '/v1/nodes': ['get'], '/v1/nodes/{peer_id}': ['get'],
    '/healthz': ['get'], '/metrics': ['get'], '/v1/openapi.json': ['get']
  }
  assert.deepEqual(Object.keys(o.body.paths).sort(), Object.keys(routes).sort())
  for (const [p, ms] of Object.entries(routes)) assert.deepEqual(Object.keys(o.body.paths[p]).sort(), ms)
  // Every documented route exists on the server (not 404 no-route / 405).
  for (const [p, ms] of Object.entries(routes)) {
    const concrete = p.replace('{peer_id}', A.id).replace('{other}', B.id).replace('{cid}', content.public.content_id)
    for (const m of ms) {
      const r = await fetch(base + concrete, { method: m.toUpperCase() })
      assert.notEqual(r.status, 405, `${m} ${p}`)
      if (r.status === 404) assert.notEqual((await r.json()).error.message, 'no such route', `${m} ${p}`)
    }
  }
})
