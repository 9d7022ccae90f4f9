// Helia side of bench/bitswap.sh (run with --import tests/interop/polyfill.mjs).
//   provide BLOCKS_FILE SIZE CIDS_FILE  put the blocks into a Helia node,
//                                       print its address, serve until killed
//   fetch CIDS_FILE ADDR...             dial the providers, get every block
//                                       over Bitswap, print {"ms":...,"bytes":...}
import { readFileSync } from 'node:fs'
import { createHeliaLight } from 'helia'
import { withLibp2pLight } from '@helia/libp2p'
import { withBitswap } from '@helia/bitswap'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { from } from 'multiformats/hashes/hasher'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'

const blake3 = from({ name: 'blake3', code: 0x1e, encode: (b) => nobleBlake3(b) })

async function startHelia () {
  const helia = withBitswap(withLibp2pLight(createHeliaLight({ hashers: [blake3] }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }))
  await helia.start()
  return helia
}

const [mode, ...args] = process.argv.slice(2)
const cidsOf = (file) => readFileSync(file, 'utf8').trim().split('\n').map((s) => CID.parse(s))

if (mode === 'provide') {
  const [blocksFile, size, cidsFile] = args
  const data = readFileSync(blocksFile)
  const cids = cidsOf(cidsFile)
  const helia = await startHelia()
  const n = Number(size)
  for (let i = 0; i < cids.length; i++) {
    await helia.blockstore.put(cids[i], data.subarray(i * n, (i + 1) * n))
  }
  console.log(helia.libp2p.getMultiaddrs()[0].toString())
  process.on('SIGTERM', async () => { await helia.stop(); process.exit(0) })
} else if (mode === 'fetch') {
  const [cidsFile, ...addrs] = args
  const cids = cidsOf(cidsFile)
  const helia = await startHelia()
  const t0 = performance.now()
  await Promise.all(addrs.map((a) => helia.libp2p.dial(multiaddr(a))))
  let bytes = 0
  await Promise.all(cids.map(async (cid) => {
    const r = helia.blockstore.get(cid, { signal: AbortSignal.timeout(300000) })
    if (r[Symbol.asyncIterator] == null) {
      bytes += (await r).byteLength
    } else {
      for await (const c of r) bytes += c.byteLength
    }
  }))
  const ms = performance.now() - t0
  console.log(JSON.stringify({ ms, bytes }))
  await helia.stop()
  process.exit(0)
} else {
  console.error('usage: bitswap_helia.mjs provide|fetch ...')
  process.exit(2)
}
