// Reads a JSON array of webhook requests ({signature, body}) on stdin and
// prints, as a JSON array, whether each Rafiki-Signature header verifies
// with the secret in SIGNATURE_SECRET, as a receiver written in JavaScript
// checks it: t=<ms>, v1=<hex HMAC-SHA256 of "<t>.<canonical JSON of the
// parsed body>"> (RFC 8785: keys sorted by UTF-16 code units, no spaces,
// values as JSON.stringify writes them), its time within five minutes.
// The systemtest webhook tests ask it about every request they received.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'

const secret = process.env.SIGNATURE_SECRET
if (!secret) {
  throw new Error('SIGNATURE_SECRET is not set')
}

function canonical(value) {
  if (Array.isArray(value)) {
    return '[' + value.map(canonical).join(',') + ']'
  }
  if (value !== null && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}'
  }
  return JSON.stringify(value)
}

function verify({ signature, body }) {
  const parts = Object.fromEntries(signature.split(',').map((p) => p.trim().split('=', 2)))
  const t = Number(parts.t)
  if (!Number.isInteger(t) || Math.abs(Date.now() - t) > 5 * 60 * 1000 || !parts.v1) {
    return false
  }
  const want = createHmac('sha256', secret).update(`${parts.t}.${canonical(JSON.parse(body))}`).digest()
  const got = Buffer.from(parts.v1, 'hex')
  return got.length === want.length && timingSafeEqual(got, want)
}

const requests = JSON.parse(readFileSync(0, 'utf8'))
process.stdout.write(JSON.stringify(requests.map(verify)) + '\n')
