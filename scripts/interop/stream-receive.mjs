// Receives STREAM payments with the reference receiver (ilp-protocol-stream,
// pinned) behind an ILP-over-HTTP endpoint (ilp-plugin-http, pinned), as a
// peer of the sender under test. It prints one JSON line with its endpoint,
// token and credentials (destination account, shared secret in base64),
// then, once a line or the end of its input comes, one JSON line with what
// it received (the data of each stream as UTF-8).
//
// Environment: PEER_TOKEN (the token the sender must present), ASSET_CODE
// and ASSET_SCALE (the receiver's asset).
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'

const require = createRequire(import.meta.url)
const PluginHttp = require('ilp-plugin-http')
const IlpPacket = require('ilp-packet')
const ILDCP = require('ilp-protocol-ildcp')
const { createServer } = require('ilp-protocol-stream')

const env = process.env
for (const name of ['PEER_TOKEN', 'ASSET_CODE', 'ASSET_SCALE']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}

const plugin = new PluginHttp({
  incoming: { port: 0, staticToken: env.PEER_TOKEN },
  outgoing: { url: 'http://127.0.0.1:9/no-packets-go-this-way', staticToken: 'unused', name: 'interop' }
})
// The receiver asks its peer for its address and asset (IL-DCP) as it
// starts; the sender under test serves no IL-DCP, so it is answered here.
const send = plugin.sendData.bind(plugin)
plugin.sendData = async (data) =>
  data[0] === IlpPacket.Type.TYPE_ILP_PREPARE && IlpPacket.deserializeIlpPrepare(data).destination === 'peer.config'
    ? ILDCP.serve({
      requestPacket: data,
      handler: async () => ({ clientAddress: 'test.node-receiver', assetCode: env.ASSET_CODE, assetScale: Number(env.ASSET_SCALE) }),
      serverAddress: 'peer.local-ildcp'
    })
    : send(data)

const received = { connections: 0, packets: 0, amount: 0n, streamTotals: [], streamsClosed: 0, connectionsEnded: 0 }
const streams = []
const streamData = new Map()
try {
  const server = await createServer({ plugin, serverSecret: randomBytes(32) })
  server.on('connection', (conn) => {
    received.connections++
    conn.on('end', () => { received.connectionsEnded++ })
    conn.on('stream', (stream) => {
      streams.push(stream)
      streamData.set(stream, [])
      stream.on('data', (chunk) => { streamData.get(stream).push(chunk) })
      stream.setReceiveMax('18446744073709551615')
      stream.on('money', (amount) => {
        received.packets++
        received.amount += BigInt(amount)
      })
      stream.on('close', () => { received.streamsClosed++ })
    })
  })
  const http = plugin._httpServer
  if (!http.listening) await new Promise((resolve) => http.once('listening', resolve))
  const { destinationAccount, sharedSecret } = server.generateAddressAndSecret()
  console.log(JSON.stringify({
    endpoint: `http://127.0.0.1:${http.address().port}`,
    destinationAccount,
    sharedSecret: sharedSecret.toString('base64')
  }))

  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) { void line; break }
  lines.close()
  // The sender's closing packet is answered before its frames are acted on.
  await new Promise((resolve) => setTimeout(resolve, 200))
  received.streamTotals = streams.map((s) => s.totalReceived)
  received.streamData = streams.map((s) => Buffer.concat(streamData.get(s)).toString('utf8'))
  console.log(JSON.stringify({ ...received, amount: received.amount.toString() }))
  await server.close?.()
  await plugin.disconnect()
  process.exit(0)
} catch (e) {
  console.error(JSON.stringify({ failed: String(e && e.stack ? e.stack : e) }))
  process.exit(1)
}
