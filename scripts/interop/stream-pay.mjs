// Pays STREAM credentials with the reference sender (ilp-protocol-stream,
// pinned) through an ILP-over-HTTP peer link (ilp-plugin-http, pinned), and
// prints one JSON line with what the sender sent and what it was told the
// receiver got. The connector answers the sender's IL-DCP request itself.
//
// Environment: CONNECTOR_URL, PEER_TOKEN (the peer's incoming token at the
// connector), DESTINATION and SHARED_SECRET (base64url, as SPSP gives
// them), AMOUNT.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const PluginHttp = require('ilp-plugin-http')
const { createConnection } = require('ilp-protocol-stream')

const env = process.env
for (const name of ['CONNECTOR_URL', 'PEER_TOKEN', 'DESTINATION', 'SHARED_SECRET', 'AMOUNT']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}

const plugin = new PluginHttp({
  incoming: { port: 0, staticToken: 'no-packets-come-back-this-way' },
  outgoing: { url: env.CONNECTOR_URL, staticToken: env.PEER_TOKEN, name: 'interop' }
})
// The plugin sends application/ilp+octet-stream; Rafiki's connector, and
// this one, take application/octet-stream only.
const send = plugin._fetch.bind(plugin)
plugin._fetch = (url, opts) => send(url, { ...opts, headers: { ...opts.headers, 'Content-Type': 'application/octet-stream' } })

try {
  await plugin.connect()
  const conn = await createConnection({
    plugin,
    destinationAccount: env.DESTINATION,
    sharedSecret: Buffer.from(env.SHARED_SECRET, 'base64url')
  })
  const stream = conn.createStream()
  await stream.sendTotal(env.AMOUNT, { timeout: 15000 })
  console.log(JSON.stringify({
    sent: conn.totalSent,
    delivered: conn.totalDelivered,
    sourceAccount: conn.sourceAccount,
    destinationAssetCode: conn.destinationAssetCode,
    destinationAssetScale: conn.destinationAssetScale
  }))
  await conn.end()
  await plugin.disconnect()
  process.exit(0)
} catch (e) {
  console.error(JSON.stringify({ failed: String(e && e.stack ? e.stack : e) }))
  process.exit(1)
}
