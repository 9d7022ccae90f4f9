// js-libp2p side of bench/net.sh: the /cpc/sink/1.0.0 protocol of
// `cpc net listen` / `cpc net send` (see apps/cpc/net_sink.h), so that
// js -> js runs the same exchange as C -> C.
//   node --import ./tests/interop/polyfill.mjs bench/net_js.mjs serve
//     prints its /ip4/127.0.0.1/tcp/P/p2p/ID address, serves until SIGTERM
//   node --import ./tests/interop/polyfill.mjs bench/net_js.mjs send ADDR BYTES
//     sends BYTES on one stream, checks the count the peer answers and
//     prints {"bytes": B, "seconds": S, "mib_per_s": X, "mb_per_s": Y}
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'

const SINK = '/cpc/sink/1.0.0'
const [mode, addr, bytesArg] = process.argv.slice(2)

async function node (listen) {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

if (mode === 'serve') {
  const n = await node(true)
  await n.handle(SINK, async (stream) => {
    let count = 0n
    for await (const buf of stream) count += BigInt(buf.byteLength)
    const reply = new Uint8Array(8)
    new DataView(reply.buffer).setBigUint64(0, count)
    stream.send(reply)
    await stream.close()
  }, { maxInboundStreams: 16 })
  process.stdout.write(n.getMultiaddrs()[0].toString() + '\n')
  const stop = async () => { await n.stop(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
} else if (mode === 'send' && addr && bytesArg) {
  const total = Number(bytesArg)
  const n = await node(false)
  const conn = await n.dial(multiaddr(addr))
  const pattern = randomBytes(1 << 20)
  const piece = 256 * 1024
  const t0 = process.hrtime.bigint()
  const stream = await conn.newStream(SINK)
  let sent = 0
  while (sent < total) {
    const off = sent % pattern.length
    const len = Math.min(piece, total - sent, pattern.length - off)
    const ok = stream.send(pattern.subarray(off, off + len))
    sent += len
    if (!ok) await stream.onDrain()
  }
  await stream.close()
  const chunks = []
  for await (const buf of stream) chunks.push(buf.subarray())
  const reply = Buffer.concat(chunks)
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const got = reply.length === 8 ? reply.readBigUInt64BE(0) : -1n
  if (got !== BigInt(total)) {
    process.stderr.write(`net_js: the peer counted ${got} bytes, not ${total}\n`)
    process.exit(1)
  }
  process.stdout.write(JSON.stringify({
    bytes: total,
    seconds: Number(secs.toFixed(3)),
    mib_per_s: Number((total / 1048576 / secs).toFixed(1)),
    mb_per_s: Number((total / 1e6 / secs).toFixed(1))
  }) + '\n')
  await n.stop()
  process.exit(0)
} else {
  process.stderr.write('usage: net_js.mjs serve | send ADDR BYTES\n')
  process.exit(2)
}
