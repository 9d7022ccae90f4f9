// CPC signed requests (docs/api-auth.md) for JS clients, with
// @libp2p/crypto secp256k1 keys. The signed message is
//   "CPC-REQUEST-V1\n" METHOD "\n" TARGET "\n" hex(BLAKE3(body)) "\n"
//   TIMESTAMP "\n" NONCE
// signed with the key's sign() (DER ECDSA over SHA-256, as libp2p does),
// sent base64 in X-CPC-Signature next to X-CPC-Peer-Id, X-CPC-Timestamp and
// X-CPC-Nonce. Runs in Node 20+ and browsers (fetch, TextEncoder,
// crypto.getRandomValues, btoa).
import { blake3 } from '@noble/hashes/blake3.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

export const PREFIX = 'CPC-REQUEST-V1\n'

const enc = new TextEncoder()

const toHex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('')

const toBase64 = (u8) => btoa(String.fromCharCode(...u8))

const toBase64Url = (u8) => toBase64(u8).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

/** Body bytes as fetch() will send them: string (UTF-8), Uint8Array or none. */
export function bodyBytes (body) {
  if (body === undefined || body === null) return new Uint8Array(0)
  if (typeof body === 'string') return enc.encode(body)
  if (body instanceof Uint8Array) return body
  throw new TypeError('body must be a string or a Uint8Array')
}

/** The request-target fetch() sends for url: normalised path and query. */
export function requestTarget (url) {
  const u = new URL(url)
  return u.pathname + u.search
}

/** A fresh nonce: 24 random bytes in unpadded base64url (32 characters). */
export function newNonce () {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(24)))
}

/** The bytes that are signed. */
export function signedMessage ({ method, target, body, timestamp, nonce }) {
  const hash = toHex(blake3(bodyBytes(body)))
  return enc.encode(`${PREFIX}${method}\n${target}\n${hash}\n${timestamp}\n${nonce}`)
}

/**
 * The four authentication headers for a request. privateKey is an
 * @libp2p/crypto secp256k1 private key; target the request-target as sent
 * (use requestTarget(url)); timestamp (unix seconds) and nonce default to
 * now and a fresh one.
 */
export async function signRequest (privateKey, { method, target, body, timestamp, nonce }) {
  if (privateKey.type !== 'secp256k1') throw new TypeError('CPC requests are signed with secp256k1 keys')
  timestamp = String(timestamp ?? Math.floor(Date.now() / 1000))
  nonce = nonce ?? newNonce()
  const sig = await privateKey.sign(signedMessage({ method, target, body, timestamp, nonce }))
  return {
    'X-CPC-Peer-Id': peerIdFromPrivateKey(privateKey).toString(),
    'X-CPC-Timestamp': timestamp,
    'X-CPC-Nonce': nonce,
    'X-CPC-Signature': toBase64(sig)
  }
}

/** fetch(url, init) with the request signed by privateKey. */
export async function signedFetch (privateKey, url, init = {}) {
  const method = (init.method ?? 'GET').toUpperCase()
  const headers = await signRequest(privateKey, {
    method, target: requestTarget(url), body: init.body
  })
  return fetch(url, { ...init, method, headers: { ...(init.headers ?? {}), ...headers } })
}
