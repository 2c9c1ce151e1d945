// Drives rafiki's resource server with the Open Payments SDK (strict
// response validation): `create` gets a non-interactive incoming-payment
// grant and creates an incoming payment of AMOUNT for RECEIVER_WA, printing
// its id and STREAM credentials; `check ID` reads it (full view with a
// token, public view without one) and, when it is not completed, completes
// it, printing what it saw; it also lists the receiver's payments the
// client made. One JSON line on success; exit 1 on any failure.
//
// Environment: CLIENT_WA, KEY_ID, PRIVATE_KEY as grants.mjs; RECEIVER_WA,
// AMOUNT.
import { createAuthenticatedClient, createUnauthenticatedClient, isFinalizedGrantWithAccessToken, OpenPaymentsClientError } from '@interledger/open-payments'

const env = process.env
const [mode, id] = process.argv.slice(2)
for (const name of ['CLIENT_WA', 'KEY_ID', 'PRIVATE_KEY', 'RECEIVER_WA']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}

try {
  const client = await createAuthenticatedClient({
    walletAddressUrl: env.CLIENT_WA, privateKey: env.PRIVATE_KEY, keyId: env.KEY_ID, validateResponses: true, requestTimeoutMs: 10000
  })
  const receiver = await client.walletAddress.get({ url: env.RECEIVER_WA })
  const grant = await client.grant.request({ url: receiver.authServer },
    { access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read', 'complete', 'list'] }] } })
  if (!isFinalizedGrantWithAccessToken(grant)) throw new Error(`expected a finalized grant: ${JSON.stringify(grant)}`)
  const accessToken = grant.access_token.value

  if (mode === 'create') {
    const ip = await client.incomingPayment.create({ url: receiver.resourceServer, accessToken }, {
      walletAddress: receiver.id,
      incomingAmount: { value: env.AMOUNT, assetCode: receiver.assetCode, assetScale: receiver.assetScale },
      expiresAt: new Date(Date.now() + 600e3).toISOString(),
      metadata: { description: 'paid over STREAM' }
    })
    const method = ip.methods.find((m) => m.type === 'ilp')
    if (!method) throw new Error(`no ILP method: ${JSON.stringify(ip)}`)
    console.log(JSON.stringify({ id: ip.id, ilpAddress: method.ilpAddress, sharedSecret: method.sharedSecret, completed: ip.completed }))
  } else if (mode === 'check') {
    const seen = await client.incomingPayment.get({ url: id, accessToken })
    const open = await createUnauthenticatedClient({ validateResponses: true })
    const pub = await open.incomingPayment.get({ url: id })
    const page = await client.incomingPayment.list({ url: receiver.resourceServer, walletAddress: receiver.id, accessToken }, { first: 10 })
    if (!page.result.some((p) => p.id === id)) throw new Error(`the list does not hold ${id}: ${JSON.stringify(page)}`)
    let completed = seen.completed
    if (!completed) {
      completed = (await client.incomingPayment.complete({ url: id, accessToken })).completed
    }
    console.log(JSON.stringify({ received: seen.receivedAmount.value, publicReceived: pub.receivedAmount?.value, listed: page.result.length,
      authServer: pub.authServer, wasCompleted: seen.completed, completed, metadata: seen.metadata }))
  } else {
    throw new Error(`mode ${mode}: want create or check <id>`)
  }
} catch (e) {
  const detail = e instanceof OpenPaymentsClientError
    ? { message: e.message, status: e.status, code: e.code, description: e.description, validationErrors: e.validationErrors }
    : { message: String(e && e.stack ? e.stack : e) }
  console.error(JSON.stringify({ failed: detail }))
  process.exit(1)
}
