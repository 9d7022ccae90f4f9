// Helper of tests/e2e/node_cluster.sh: talks to cpc-orchestrator's REST API
// as a user (requests signed with a secp256k1 key, docs/api-auth.md, through
// tests/interop/lib/cpc_auth.mjs) and to its NodeService as an impostor
// (grpc-js), and damages a block inside a node's LMDB file.
//
//   user BASE KEYFILE                       register a new user, save its key
//   content BASE KEYFILE --origin MA [--replicas N] [--declare BYTES]
//           [--tokens K] FILE...            register public content whose
//                                           chunks are FILE... (raw, blake3);
//                                           prints the content_id
//           (or --cids FILE --size BYTES: chunks named in FILE, one a line;
//           --time: a second line with the Unix ms when it was registered)
//   locate BASE CONTENT_ID                  {cid: [provider PeerIds]} as JSON
//   delete BASE KEYFILE CONTENT_ID          delete the content (owner)
//   wait BASE CONTENT_ID WANT SECONDS [--exclude PEERID]...
//                                           until every chunk has WANT
//                                           providers (none excluded); prints
//                                           the seconds taken; exit 1 on
//                                           timeout
//   impostor GRPC_ADDR PEERID               calls as PEERID with another key;
//                                           exit 0 when every call is refused
//   flip MDB_FILE BLOCK_FILE                flip one byte of the block's bytes
//                                           inside the LMDB data file
import { readFileSync, writeFileSync, openSync, writeSync, readSync, closeSync, fstatSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import grpc from '@grpc/grpc-js'
import protoLoader from '@grpc/proto-loader'
import { generateKeyPair, privateKeyToProtobuf, privateKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { blake3 } from '@noble/hashes/blake3.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { signRequest } from '../interop/lib/cpc_auth.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const b64 = (u8) => Buffer.from(u8).toString('base64')
const cidOf = (bytes) => CID.createV1(0x55, Digest.create(0x1e, blake3(bytes))).toString()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function call (key, base, method, p, body) {
  const data = body === undefined ? undefined : JSON.stringify(body)
  const headers = data !== undefined ? { 'content-type': 'application/json' } : {}
  if (key) Object.assign(headers, await signRequest(key, { method, target: p, body: data }))
  const res = await fetch(base + p, { method, headers, body: data })
  const text = await res.text()
  let parsed = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed }
}

async function user (base, keyFile) {
  const key = await generateKeyPair('secp256k1')
  const id = peerIdFromPrivateKey(key).toString()
  const x = randomBytes(32)
  const sig = await key.sign(Buffer.concat([Buffer.from('cpc-identity-x25519:'), x]))
  const r = await call(key, base, 'POST', '/v1/users', {
    peer_id: id,
    signing_public_key: b64(publicKeyToProtobuf(key.publicKey)),
    encryption_public_key: b64(x),
    binding_signature: b64(sig)
  })
  if (r.status !== 201) throw new Error(`POST /v1/users: ${r.status} ${JSON.stringify(r.body)}`)
  writeFileSync(keyFile, Buffer.from(privateKeyToProtobuf(key)), { mode: 0o600 })
  console.log(id)
}

function opts (args) {
  const o = { files: [], exclude: [] }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--origin') o.origin = args[++i]
    else if (a === '--replicas') o.replicas = Number(args[++i])
    else if (a === '--declare') o.declare = Number(args[++i])
    else if (a === '--tokens') o.tokens = Number(args[++i])
    else if (a === '--exclude') o.exclude.push(args[++i])
    else if (a === '--cids') o.cids = args[++i]
    else if (a === '--size') o.size = Number(args[++i])
    else if (a === '--time') o.time = true
    else o.files.push(a)
  }
  return o
}

async function content (base, keyFile, args) {
  const key = privateKeyFromProtobuf(readFileSync(keyFile))
  const o = opts(args)
  const chunks = []
  const tokens = []
  let size = 0
  for (const f of o.files) {
    const bytes = readFileSync(f)
    const cid = cidOf(bytes)
    size += bytes.length
    chunks.push({ cid, size: o.declare ?? bytes.length })
    for (let t = 0; t < (o.tokens ?? 0); t++) {
      const length = 1 + Math.floor(Math.random() * Math.min(4096, bytes.length))
      const offset = Math.floor(Math.random() * (bytes.length - length + 1))
      const nonce = randomBytes(32)
      const expected = blake3(bytes.subarray(offset, offset + length), { key: nonce })
      tokens.push({ cid, offset, length, nonce: b64(nonce), expected: b64(expected) })
    }
  }
  if (o.cids) {
    for (const cid of readFileSync(o.cids, 'utf8').split('\n').filter(Boolean)) {
      chunks.push({ cid, size: o.size })
      size += o.size
    }
  }
  const contentId = cidOf(randomBytes(64))
  const body = {
    content_id: contentId,
    size,
    created_at: Math.floor(Date.now() / 1000),
    access_control: 'public',
    name: 'e2e',
    chunks,
    clear_key: b64(randomBytes(32)),
    origin: o.origin ? [o.origin] : []
  }
  if (o.replicas) body.replicas = o.replicas
  if (tokens.length) body.audit_tokens = tokens
  const r = await call(key, base, 'POST', '/v1/content', body)
  if (r.status !== 201) throw new Error(`POST /v1/content: ${r.status} ${JSON.stringify(r.body)}`)
  console.log(contentId)
  if (o.time) console.log(Date.now()) // when the orchestrator had it
}

async function del (base, keyFile, contentId) {
  const key = privateKeyFromProtobuf(readFileSync(keyFile))
  const r = await call(key, base, 'DELETE', `/v1/content/${contentId}`)
  if (r.status !== 204) throw new Error(`DELETE /v1/content: ${r.status} ${JSON.stringify(r.body)}`)
}

async function locateMap (base, contentId) {
  const r = await call(null, base, 'GET', `/v1/content/${contentId}/locate`)
  if (r.status !== 200) throw new Error(`locate: ${r.status} ${JSON.stringify(r.body)}`)
  const out = {}
  for (const c of r.body.chunks) out[c.cid] = c.providers.map((p) => p.peer_id)
  return out
}

async function wait (base, contentId, want, seconds, exclude) {
  const t0 = Date.now()
  let last
  while (Date.now() - t0 < seconds * 1000) {
    last = await locateMap(base, contentId)
    const ok = Object.values(last).every((ps) =>
      new Set(ps.filter((p) => !exclude.includes(p))).size >= want)
    if (ok) {
      console.log(((Date.now() - t0) / 1000).toFixed(1))
      return 0
    }
    await sleep(250)
  }
  console.error('timed out; providers per chunk:', JSON.stringify(last))
  return 1
}

async function impostor (addr, victim) {
  const def = protoLoader.loadSync(['cpc/orchestrator/v1/node.proto'], {
    includeDirs: [path.join(HERE, '../../proto')], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true
  })
  const NodeService = grpc.loadPackageDefinition(def).cpc.orchestrator.v1.NodeService
  const client = new NodeService(addr, grpc.credentials.createInsecure())
  const key = await generateKeyPair('Ed25519')
  const svc = '/cpc.orchestrator.v1.NodeService/'
  const refusals = []
  const unary = async (method, req) => {
    const body = NodeService.service[method].requestSerialize(req)
    const ts = String(Date.now())
    const text = `CPC-NODE-RPC-V1\n${svc}${method}\n${ts}\n${Buffer.from(blake3(body)).toString('hex')}`
    const sig = await key.sign(Buffer.from(text))
    const md = new grpc.Metadata()
    md.set('x-cpc-node-id', victim)
    md.set('x-cpc-timestamp', ts)
    md.set('x-cpc-signature', Buffer.from(sig).toString('hex'))
    return new Promise((resolve) =>
      client[method](req, md, (err) => resolve(err ? `${err.code} ${err.details}` : 'ACCEPTED')))
  }
  refusals.push(['Heartbeat', await unary('Heartbeat', { used_bytes: '1' })])
  refusals.push(['ConfirmStorage', await unary('ConfirmStorage', { work_id: '1', cid: cidOf(Buffer.from('x')), ok: true })])
  client.close()
  for (const [m, r] of refusals) console.log(`${m} as ${victim} with another key: ${r}`)
  return refusals.every(([, r]) => r.startsWith(`${grpc.status.UNAUTHENTICATED} `)) ? 0 : 1
}

function flip (mdb, blockFile) {
  const block = readFileSync(blockFile)
  const probe = block.subarray(block.length >> 1, (block.length >> 1) + 64)
  const fd = openSync(mdb, 'r+')
  const size = fstatSync(fd).size
  const buf = Buffer.alloc(size)
  readSync(fd, buf, 0, size, 0)
  const at = buf.indexOf(probe)
  if (at < 0) {
    closeSync(fd)
    console.error('block bytes not found in', mdb)
    return 1
  }
  writeSync(fd, Buffer.from([buf[at] ^ 0xff]), 0, 1, at)
  closeSync(fd)
  console.log(at)
  return 0
}

const [cmd, ...rest] = process.argv.slice(2)
let code = 0
try {
  if (cmd === 'user') await user(rest[0], rest[1])
  else if (cmd === 'content') await content(rest[0], rest[1], rest.slice(2))
  else if (cmd === 'delete') await del(rest[0], rest[1], rest[2])
  else if (cmd === 'locate') console.log(JSON.stringify(await locateMap(rest[0], rest[1])))
  else if (cmd === 'wait') code = await wait(rest[0], rest[1], Number(rest[2]), Number(rest[3]), opts(rest.slice(4)).exclude)
  else if (cmd === 'impostor') code = await impostor(rest[0], rest[1])
  else if (cmd === 'flip') code = flip(rest[0], rest[1])
  else { console.error('unknown command', cmd); code = 2 }
} catch (e) {
  console.error(e.message)
  code = 1
}
process.exit(code)
