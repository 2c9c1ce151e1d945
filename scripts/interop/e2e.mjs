// Rafiki's remote Open Payments flows between two instances, driven with
// the Open Payments SDK as a wallet's client drives them: the receiver's
// wallet address and authorization server are one instance's, the
// sender's the other's, and every call is a public one (wallet address
// documents, GNAP, resource servers, the identity provider's API).
//
//   polling:  an incoming payment of 100 at the receiver, a quote for it at
//             the sender, an interactive outgoing-payment grant limited to
//             the quote's receive amount, approved and continued by polling,
//             and the outgoing payment of the quote.
//   redirect: the same, the grant finished by a redirect to FINISH_URI whose
//             hash is checked, continued with its interact_ref.
//   limit:    an incoming payment without an amount, a grant with a debit
//             limit of 100, two outgoing payments of 50 into it, and the
//             grant's spent amounts before and after each; then one more,
//             refused.
//
// Each flow runs twice, as in Rafiki's test: with the client named by its
// wallet address, and with directed identity (the incoming payment's and
// the quote's grants name the client by its key, the jwk, alone).
//
// The sender's wallet funds each outgoing payment when it is told it was
// created (a webhook), so this script only waits for them to send. Each
// step prints one JSON line; any failure exits 1 with what was answered.
//
// Environment: CLIENT_WA, KEY_ID, PRIVATE_KEY (the client, as grants.mjs);
// SENDER_WA and RECEIVER_WA (wallet addresses of the two instances);
// INTERACTION_URL and IDP_SECRET (the sender's identity provider API);
// FINISH_URI.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createAuthenticatedClient, isFinalizedGrantWithAccessToken, isPendingGrant, OpenPaymentsClientError } from '@interledger/open-payments'

const env = process.env
for (const name of ['CLIENT_WA', 'KEY_ID', 'PRIVATE_KEY', 'SENDER_WA', 'RECEIVER_WA', 'INTERACTION_URL', 'IDP_SECRET', 'FINISH_URI']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}

const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function expect (what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
}

function expectStatus (what, res, status) {
  if (res.status !== status) throw new Error(`${what}: status ${res.status}, want ${status}`)
}

// poll asks until done answers true, and fails after timeoutMs with the
// last answer.
async function poll (what, ask, done, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await ask()
    if (done(got)) return got
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(got)} after ${timeoutMs} ms`)
    await sleep(200)
  }
}

// The client's public key, for grants asked with directed identity.
const jwk = {
  ...crypto.createPublicKey(crypto.createPrivateKey(fs.readFileSync(env.PRIVATE_KEY))).export({ format: 'jwk' }),
  kid: env.KEY_ID,
  alg: 'EdDSA'
}

const client = await createAuthenticatedClient({
  walletAddressUrl: env.CLIENT_WA, privateKey: env.PRIVATE_KEY, keyId: env.KEY_ID, validateResponses: true, requestTimeoutMs: 10000
})

// approve plays the resource owner's browser and the identity provider:
// start the interaction, accept it through the IdP API, then finish. With
// a finish method the finish redirects to the client's URI with the
// interact_ref and hash, which are answered; without one it answers 202.
async function approve (pending, finish) {
  const start = await fetch(pending.interact.redirect, { redirect: 'manual' })
  expectStatus('interaction start', start, 302)
  const consent = new URL(start.headers.get('location'))
  const interactId = consent.searchParams.get('interactId')
  const nonce = consent.searchParams.get('nonce')
  if (!interactId || !nonce) throw new Error(`consent URL without interactId and nonce: ${consent}`)
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')

  const accept = await fetch(`${env.INTERACTION_URL}/grant/${interactId}/${nonce}/accept`, { method: 'POST', headers: { 'x-idp-secret': env.IDP_SECRET } })
  expectStatus('accept', accept, 202)

  const finishURL = new URL(pending.interact.redirect)
  finishURL.pathname += '/finish'
  finishURL.search = ''
  const done = await fetch(finishURL, { redirect: 'manual', headers: { cookie } })
  if (!finish) {
    expectStatus('interaction finish', done, 202)
    return {}
  }
  expectStatus('interaction finish', done, 302)
  const back = new URL(done.headers.get('location'))
  expect('finish redirect', `${back.origin}${back.pathname}`, new URL(finish.uri).origin + new URL(finish.uri).pathname)
  return { interactRef: back.searchParams.get('interact_ref'), hash: back.searchParams.get('hash'), nonce }
}

// outgoingGrant requests an interactive outgoing-payment grant for the
// sender with limits, has it approved and continues it: by polling, or
// with the interact_ref of the finish redirect after checking its hash.
async function outgoingGrant (sender, limits, redirect) {
  const finish = redirect ? { method: 'redirect', uri: env.FINISH_URI, nonce: crypto.randomUUID() } : undefined
  const pending = await client.grant.request({ url: sender.authServer }, {
    access_token: { access: [{ type: 'outgoing-payment', actions: ['create', 'read', 'list'], identifier: sender.id, limits }] },
    interact: { start: ['redirect'], finish }
  })
  if (!isPendingGrant(pending)) throw new Error(`expected a pending grant: ${JSON.stringify(pending)}`)
  const requestedAt = Date.now()
  const { interactRef, hash } = await approve(pending, finish)
  // A client continues no sooner than the wait it was given.
  await sleep(Math.max(0, requestedAt + (pending.continue.wait ?? 0) * 1000 - Date.now()) + 100)
  const cont = { url: pending.continue.uri, accessToken: pending.continue.access_token.value }
  let granted
  if (redirect) {
    const want = crypto.createHash('sha256').update(`${finish.nonce}\n${pending.interact.finish}\n${interactRef}\n${sender.authServer}`).digest('base64')
    expect('finish hash', hash, want)
    granted = await client.grant.continue(cont, { interact_ref: interactRef })
  } else {
    granted = await poll('grant continuation', () => client.grant.continue(cont), (g) => 'access_token' in g)
  }
  if (!isFinalizedGrantWithAccessToken(granted)) throw new Error(`expected an access token: ${JSON.stringify(granted)}`)
  expect('granted limits', granted.access_token.access[0].limits, limits)
  return granted
}

async function incomingPayment (receiver, value, directed) {
  const grant = await client.grant.request({ url: receiver.authServer },
    { access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read', 'list', 'complete'] }] } }, directed ? { jwk } : undefined)
  if (!isFinalizedGrantWithAccessToken(grant)) throw new Error(`expected a finalized grant: ${JSON.stringify(grant)}`)
  const args = { walletAddress: receiver.id, metadata: { description: 'Free Money!' }, expiresAt: new Date(Date.now() + 86400e3).toISOString() }
  if (value) args.incomingAmount = { value, assetCode: receiver.assetCode, assetScale: receiver.assetScale }
  return client.incomingPayment.create({ url: receiver.resourceServer, accessToken: grant.access_token.value }, args)
}

async function quote (sender, receiverURL, directed) {
  const grant = await client.grant.request({ url: sender.authServer },
    { access_token: { access: [{ type: 'quote', actions: ['create', 'read'] }] } }, directed ? { jwk } : undefined)
  if (!isFinalizedGrantWithAccessToken(grant)) throw new Error(`expected a finalized grant: ${JSON.stringify(grant)}`)
  return client.quote.create({ url: sender.resourceServer, accessToken: grant.access_token.value },
    { walletAddress: sender.id, receiver: receiverURL, method: 'ilp' })
}

// paid waits until the outgoing payment sent what it should and reads it.
async function paid (id, grant, sent) {
  return poll(`outgoing payment ${id}`, () => client.outgoingPayment.get({ url: id, accessToken: grant.access_token.value }),
    (p) => p.failed || p.sentAmount.value === sent)
}

// received waits until the incoming payment's public view shows value.
async function received (id, value) {
  return poll(`incoming payment ${id}`, () => client.incomingPayment.getPublic({ url: id }), (p) => p.receivedAmount?.value === value)
}

const amount = (a) => a && { value: a.value, assetCode: a.assetCode, assetScale: a.assetScale }

try {
  const receiver = await client.walletAddress.get({ url: env.RECEIVER_WA })
  expect('receiver id', receiver.id, env.RECEIVER_WA)
  const sender = await client.walletAddress.get({ url: env.SENDER_WA })
  expect('sender id', sender.id, env.SENDER_WA)
  step('wallet addresses', { receiver: receiver.id, sender: sender.id })

  for (const directed of [false, true]) {
    const how = directed ? ' (directed identity)' : ''
    for (const flow of ['polling', 'redirect']) {
      const ip = await incomingPayment(receiver, '100', directed)
      step(`${flow}${how}: incoming payment`, { id: ip.id })
      const q = await quote(sender, ip.id, directed)
      step(`${flow}${how}: quote`, { id: q.id, debit: q.debitAmount.value, receive: q.receiveAmount.value })
      expect(`${flow}: quote receive amount`, amount(q.receiveAmount), { value: '100', assetCode: receiver.assetCode, assetScale: receiver.assetScale })
      // 100 / (1 - SLIPPAGE), rounded up: no fees, one asset.
      expect(`${flow}: quote debit amount`, amount(q.debitAmount), { value: '102', assetCode: sender.assetCode, assetScale: sender.assetScale })
      const grant = await outgoingGrant(sender, { receiveAmount: amount(q.receiveAmount) }, flow === 'redirect')
      step(`${flow}${how}: outgoing payment grant`, { manage: grant.access_token.manage })
      const op = await client.outgoingPayment.create({ url: sender.resourceServer, accessToken: grant.access_token.value },
        { walletAddress: sender.id, quoteId: q.id, metadata: {} })
      const done = await paid(op.id, grant, '100')
      expect(`${flow}: failed`, done.failed, false)
      expect(`${flow}: receive amount`, done.receiveAmount.value, '100')
      expect(`${flow}: sent amount`, done.sentAmount.value, '100')
      const pub = await received(ip.id, '100')
      step(`${flow}${how}: paid`, { incomingPayment: ip.id, outgoingPayment: op.id, debit: q.debitAmount.value, sent: done.sentAmount.value, received: pub.receivedAmount.value })
    }

    const ip = await incomingPayment(receiver, undefined, directed)
    const debitAmount = { value: '50', assetCode: sender.assetCode, assetScale: sender.assetScale }
    const grant = await outgoingGrant(sender, { debitAmount: { ...debitAmount, value: '100' } }, false)
    const spent = async () => client.outgoingPayment.getGrantSpentAmounts({ url: sender.resourceServer, accessToken: grant.access_token.value })
    const spent0 = await spent()
    expect('spent before any payment', [spent0.spentDebitAmount ?? null, spent0.spentReceiveAmount ?? null], [null, null])
    const payments = []
    for (const [debit, receive] of [['50', '49'], ['100', '98']]) {
      const op = await client.outgoingPayment.create({ url: sender.resourceServer, accessToken: grant.access_token.value },
        { walletAddress: sender.id, incomingPayment: ip.id, debitAmount })
      expect('debit amount', amount(op.debitAmount), debitAmount)
      payments.push(op.id)
      await poll(`outgoing payment ${op.id}`, () => client.outgoingPayment.get({ url: op.id, accessToken: grant.access_token.value }),
        (p) => BigInt(p.sentAmount.value) > 0n)
      const s = await spent()
      expect('spent debit amount', amount(s.spentDebitAmount), { ...debitAmount, value: debit })
      expect('spent receive amount', amount(s.spentReceiveAmount), { value: receive, assetCode: receiver.assetCode, assetScale: receiver.assetScale })
      step(`limit${how}: paid`, { outgoingPayment: op.id, spentDebit: debit, spentReceive: receive })
    }
    // What each payment delivered is its quoted receive amount: 50 less
    // SLIPPAGE, rounded down.
    const pub = await received(ip.id, '98')
    step(`limit${how}: received`, { incomingPayment: ip.id, received: pub.receivedAmount.value, outgoingPayments: payments })

    let refused = null
    try {
      await client.outgoingPayment.create({ url: sender.resourceServer, accessToken: grant.access_token.value },
        { walletAddress: sender.id, incomingPayment: ip.id, debitAmount: { ...debitAmount, value: '10' } })
    } catch (e) {
      refused = e
    }
    if (!(refused instanceof OpenPaymentsClientError) || refused.status !== 403) {
      throw new Error(`a payment past the grant's limit: ${refused} ${refused?.status} ${refused?.description}`)
    }
    step(`limit${how}: refused past the limit`)
  }
} catch (e) {
  const detail = e instanceof OpenPaymentsClientError
    ? { message: e.message, status: e.status, code: e.code, description: e.description, validationErrors: e.validationErrors }
    : { message: String(e && e.stack ? e.stack : e) }
  console.error(JSON.stringify({ failed: detail }))
  process.exit(1)
}
