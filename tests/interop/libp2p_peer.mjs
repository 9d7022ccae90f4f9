// A js-libp2p peer for libp2p.test.mjs, run as a separate process so that
// the test can kill it mid-stream. Usage: node libp2p_peer.mjs MULTIADDR
// Dials MULTIADDR, opens /cpc/echo/1.0.0 and keeps sending; prints
// "streaming" once echoed bytes come back, then goes on until killed.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'

const node = await createLibp2p({
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() }
})
const conn = await node.dial(multiaddr(process.argv[2]))
const stream = await conn.newStream('/cpc/echo/1.0.0')
let announced = false
stream.addEventListener('message', () => {
  if (!announced) {
    announced = true
    process.stdout.write('streaming\n')
  }
})
const chunk = new Uint8Array(16384).fill(7)
for (;;) {
  if (!stream.send(chunk)) {
    await new Promise((resolve) => stream.addEventListener('drain', resolve, { once: true }))
  }
  await new Promise((resolve) => setImmediate(resolve))
}
