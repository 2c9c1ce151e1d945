// Writes httpsig/testdata/vectors.json: requests signed by the reference
// implementation of the Open Payments signature profile,
// @interledger/http-signature-utils (the version package-lock.json pins),
// with a fixed Ed25519 key and a fixed clock, so the file is the same on
// every run. Each case carries the signature base the library signed,
// recorded from its call of crypto.sign, and whether its own verifier
// accepts the request.
//
//   ./scripts/test-deps.sh && node scripts/httpsig-vectors.mjs
import crypto from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))

const createdSeconds = 1700000000
const RealDate = Date
globalThis.Date = class extends RealDate {
  constructor (...args) { super(...(args.length ? args : [createdSeconds * 1000])) }
  static now () { return createdSeconds * 1000 }
}

let signed = []
const realSign = crypto.sign
crypto.sign = (alg, data, key, ...rest) => {
  signed.push(Buffer.from(data).toString('utf8'))
  return realSign(alg, data, key, ...rest)
}

const hsu = require('@interledger/http-signature-utils')
const version = require('@interledger/http-signature-utils/package.json').version

const seed = Buffer.alloc(32, 1)
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex')
const privateKey = crypto.createPrivateKey({ key: Buffer.concat([pkcs8Ed25519Prefix, seed]), format: 'der', type: 'pkcs8' })
const keyId = 'test-key-1'
const jwk = hsu.generateJwk({ privateKey, keyId })

const rs = 'http://localhost:3000'
const as = 'http://localhost:3006'
const cases = [
  { name: 'create incoming payment', method: 'POST', url: rs + '/incoming-payments', headers: { authorization: 'GNAP TOKEN123' },
    body: JSON.stringify({ walletAddress: rs + '/alice', incomingAmount: { value: '100', assetCode: 'USD', assetScale: 2 } }) },
  { name: 'get incoming payment', method: 'GET', url: rs + '/incoming-payments/3a2c6b8e-0000-4000-8000-000000000001', headers: { authorization: 'GNAP TOKEN123' } },
  { name: 'list with a query', method: 'GET', url: rs + '/incoming-payments?wallet-address=' + encodeURIComponent(rs + '/alice') + '&first=10', headers: { authorization: 'GNAP TOKEN123' } },
  { name: 'grant request', method: 'POST', url: as + '/', headers: {},
    body: JSON.stringify({ access_token: { access: [{ type: 'incoming-payment', actions: ['create', 'read'] }] }, client: rs + '/alice' }) },
  { name: 'token rotation', method: 'POST', url: as + '/token/abc', headers: { authorization: 'GNAP TOKEN123' } },
  { name: 'token revocation', method: 'DELETE', url: as + '/token/abc', headers: { authorization: 'GNAP TOKEN123' } },
  { name: 'body with non-ASCII and HTML characters', method: 'POST', url: rs + '/quotes', headers: { authorization: 'GNAP TOKEN123' },
    body: JSON.stringify({ walletAddress: rs + '/alice', receiver: rs + '/incoming-payments/x?a=1&b=<2>', method: 'ilp', note: 'café ✓' }) },
  { name: 'https with a port', method: 'POST', url: 'https://wallet.example:8443/bob/outgoing-payments', headers: { authorization: 'GNAP T' },
    body: JSON.stringify({ walletAddress: 'https://wallet.example:8443/bob', quoteId: 'https://wallet.example:8443/bob/quotes/q' }) }
]

const out = { generatedWith: { '@interledger/http-signature-utils': version }, ed25519SeedHex: seed.toString('hex'), jwk, created: createdSeconds, cases: [] }
for (const c of cases) {
  signed = []
  const added = await hsu.createHeaders({ request: { ...c, headers: { ...c.headers } }, privateKey, keyId })
  if (signed.length !== 1) throw new Error(`${c.name}: expected one signature, saw ${signed.length}`)
  const headers = { ...c.headers }
  for (const [k, v] of Object.entries(added)) headers[k.toLowerCase()] = v
  const verifies = await hsu.validateSignature(jwk, { method: c.method, url: c.url, headers, body: c.body })
  if (!verifies) throw new Error(`${c.name}: the reference verifier refuses its own signature`)
  out.cases.push({ name: c.name, method: c.method, url: c.url, body: c.body ?? '', headers, signatureBase: signed[0] })
}
writeFileSync(join(root, 'httpsig', 'testdata', 'vectors.json'), JSON.stringify(out, null, 2) + '\n')
