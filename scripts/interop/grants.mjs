// Drives rafiki's authorization server with the Open Payments SDK, as a
// wallet's client would: a non-interactive grant, its token rotated and
// revoked, then an interactive grant approved through the identity
// provider's API, the finish hash checked, continued and cancelled. Each
// step prints one JSON line; any failure exits 1 with what was answered.
//
// Environment: CLIENT_WA (the client's wallet address, serving jwks.json),
// KEY_ID and PRIVATE_KEY (a PEM file of the Ed25519 key behind KEY_ID),
// INTERACTION_URL and IDP_SECRET (the identity provider's API), FINISH_URI,
// INTROSPECTION_URL (asked as a resource server asks, after each step that
// gives or takes a token); USE_HTTP=1 has the client reach https URLs over
// plain http, as Rafiki's own development setup does (the SDK's useHttp).
import crypto from 'node:crypto'
import { createAuthenticatedClient, isFinalizedGrantWithAccessToken, isPendingGrant, OpenPaymentsClientError } from '@interledger/open-payments'

const env = process.env
for (const name of ['CLIENT_WA', 'KEY_ID', 'PRIVATE_KEY', 'INTERACTION_URL', 'IDP_SECRET', 'FINISH_URI', 'INTROSPECTION_URL']) {
  if (!env[name]) throw new Error(`${name} is not set`)
}

const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }))
const reachable = (u) => env.USE_HTTP ? u.replace(/^https:/, 'http:') : u

function expectStatus (what, res, status) {
  if (res.status !== status) throw new Error(`${what}: status ${res.status}, want ${status}`)
}

// introspect asks about a token as a resource server does, expecting it
// active (with the grant and client it came from) or not.
async function introspect (what, token, active, grantClient) {
  const res = await fetch(env.INTROSPECTION_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ access_token: token, access: [{ type: 'incoming-payment', actions: ['read'] }] })
  })
  expectStatus(`introspect ${what}`, res, 200)
  const info = await res.json()
  if (info.active !== active) throw new Error(`introspect ${what}: ${JSON.stringify(info)}, want active ${active}`)
  if (active && (info.client?.walletAddress !== grantClient || !info.grant || info.access.length !== 1 || info.access[0].actions.indexOf('read') < 0)) {
    throw new Error(`introspect ${what}: ${JSON.stringify(info)}`)
  }
}

// approve plays the resource owner's browser and the identity provider:
// start the interaction (a redirect to the consent page, with the session
// cookie), accept through the IdP API, then finish (a redirect to the
// client's finish URI carrying interact_ref and the hash).
async function approve (redirect) {
  const start = await fetch(reachable(redirect), { redirect: 'manual' })
  expectStatus('interaction start', start, 302)
  const consent = new URL(start.headers.get('location'))
  const interactId = consent.searchParams.get('interactId')
  const nonce = consent.searchParams.get('nonce')
  if (!interactId || !nonce) throw new Error(`consent URL without interactId and nonce: ${consent}`)
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  if (!cookie) throw new Error('interaction start set no session cookie')

  const seen = await fetch(`${env.INTERACTION_URL}/grant/${interactId}/${nonce}`, { headers: { 'x-idp-secret': env.IDP_SECRET } })
  expectStatus('idp grant lookup', seen, 200)
  const details = await seen.json()
  if (!Array.isArray(details.access) || details.access.length !== 1) throw new Error(`idp lookup: ${JSON.stringify(details)}`)

  const wrong = await fetch(`${env.INTERACTION_URL}/grant/${interactId}/${nonce}/accept`, { method: 'POST', headers: { 'x-idp-secret': 'not-the-secret' } })
  if (wrong.status < 400) throw new Error(`accept with a wrong idp secret: status ${wrong.status}`)
  const accept = await fetch(`${env.INTERACTION_URL}/grant/${interactId}/${nonce}/accept`, { method: 'POST', headers: { 'x-idp-secret': env.IDP_SECRET } })
  expectStatus('accept', accept, 202)

  const finishURL = new URL(reachable(redirect))
  finishURL.pathname += '/finish'
  finishURL.search = ''
  const finish = await fetch(finishURL, { redirect: 'manual', headers: { cookie } })
  expectStatus('interaction finish', finish, 302)
  const back = new URL(finish.headers.get('location'))
  return { interactRef: back.searchParams.get('interact_ref'), hash: back.searchParams.get('hash'), backTo: `${back.origin}${back.pathname}` }
}

const client = await createAuthenticatedClient({
  walletAddressUrl: env.CLIENT_WA, privateKey: env.PRIVATE_KEY, keyId: env.KEY_ID, validateResponses: true, requestTimeoutMs: 10000,
  useHttp: !!env.USE_HTTP
})

try {
  const wallet = await client.walletAddress.get({ url: env.CLIENT_WA })
  step('wallet address', { authServer: wallet.authServer })

  const ipGrant = await client.grant.request({ url: wallet.authServer },
    { access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read', 'list', 'complete'] }] } })
  if (!isFinalizedGrantWithAccessToken(ipGrant)) throw new Error(`expected a finalized grant: ${JSON.stringify(ipGrant)}`)
  step('non-interactive grant', { manage: ipGrant.access_token.manage, expiresIn: ipGrant.access_token.expires_in })
  await introspect('the new token', ipGrant.access_token.value, true, env.CLIENT_WA)
  await introspect('a made-up token', 'NOT-A-TOKEN', false)

  const rotated = await client.token.rotate({ url: ipGrant.access_token.manage, accessToken: ipGrant.access_token.value })
  if (rotated.access_token.value === ipGrant.access_token.value) throw new Error('rotation answered the same token value')
  step('token rotated', { manage: rotated.access_token.manage })
  await introspect('the rotated-away token', ipGrant.access_token.value, false)
  await introspect('its successor', rotated.access_token.value, true, env.CLIENT_WA)

  let refused = false
  try {
    await client.token.rotate({ url: ipGrant.access_token.manage, accessToken: ipGrant.access_token.value })
  } catch (e) {
    refused = e instanceof OpenPaymentsClientError && e.status >= 400
  }
  if (!refused) throw new Error('the rotated-away token was rotated again')
  step('old token refused')

  await client.token.revoke({ url: rotated.access_token.manage, accessToken: rotated.access_token.value })
  step('token revoked')
  await introspect('the revoked token', rotated.access_token.value, false)

  const clientNonce = crypto.randomUUID()
  const pending = await client.grant.request({ url: wallet.authServer }, {
    access_token: {
      access: [{
        type: 'outgoing-payment',
        actions: ['create', 'read', 'list'],
        identifier: wallet.id,
        limits: { debitAmount: { value: '1000', assetCode: wallet.assetCode, assetScale: wallet.assetScale } }
      }]
    },
    interact: { start: ['redirect'], finish: { method: 'redirect', uri: env.FINISH_URI, nonce: clientNonce } }
  })
  const requestedAt = Date.now()
  if (!isPendingGrant(pending)) throw new Error(`expected a pending grant: ${JSON.stringify(pending)}`)
  step('interactive grant', { redirect: pending.interact.redirect, wait: pending.continue.wait })

  const { interactRef, hash, backTo } = await approve(pending.interact.redirect)
  if (backTo !== env.FINISH_URI) throw new Error(`finish redirected to ${backTo}, want ${env.FINISH_URI}`)
  const want = crypto.createHash('sha256').update(`${clientNonce}\n${pending.interact.finish}\n${interactRef}\n${wallet.authServer}`).digest('base64')
  if (hash !== want) throw new Error(`finish hash ${hash}, want ${want}`)
  step('interaction approved', { hash })

  // A client continues no sooner than the wait it was given.
  let early = null
  try {
    await client.grant.continue({ url: pending.continue.uri, accessToken: pending.continue.access_token.value }, { interact_ref: interactRef })
  } catch (e) {
    early = e
  }
  if (!(early instanceof OpenPaymentsClientError) || early.code !== 'too_fast') throw new Error(`continuing before the wait: ${early}`)
  step('early continuation refused')
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, requestedAt + pending.continue.wait * 1000 - Date.now()) + 100))

  const granted = await client.grant.continue({ url: pending.continue.uri, accessToken: pending.continue.access_token.value }, { interact_ref: interactRef })
  if (!isFinalizedGrantWithAccessToken(granted)) throw new Error(`expected an access token after continuing: ${JSON.stringify(granted)}`)
  const limits = granted.access_token.access[0].limits
  if (!limits || limits.debitAmount.value !== '1000') throw new Error(`granted access lost its limits: ${JSON.stringify(granted.access_token.access)}`)
  step('grant continued', { manage: granted.access_token.manage })

  await client.grant.cancel({ url: granted.continue.uri, accessToken: granted.continue.access_token.value })
  step('grant cancelled')
  await introspect('a token of the cancelled grant', granted.access_token.value, false)

  refused = false
  try {
    await client.token.rotate({ url: granted.access_token.manage, accessToken: granted.access_token.value })
  } catch (e) {
    refused = e instanceof OpenPaymentsClientError && e.status >= 400
  }
  if (!refused) throw new Error('a token of a cancelled grant was rotated')
  step('cancelled grant refused')
} catch (e) {
  const detail = e instanceof OpenPaymentsClientError
    ? { message: e.message, status: e.status, code: e.code, description: e.description, validationErrors: e.validationErrors }
    : { message: String(e && e.stack ? e.stack : e) }
  console.error(JSON.stringify({ failed: detail }))
  process.exit(1)
}
