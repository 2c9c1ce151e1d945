// Reads a JSON array of signed requests ({jwk, method, url, headers, body})
// on stdin and prints, as a JSON array, whether the reference verifier of
// the Open Payments signature profile (@interledger/http-signature-utils,
// as Rafiki calls it) accepts each. The httpsig tests sign in Go and ask it.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const hsu = createRequire(join(root, 'package.json'))('@interledger/http-signature-utils')

const requests = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const r of requests) {
  const request = { method: r.method, url: r.url, headers: r.headers, body: r.body || undefined }
  results.push(hsu.validateSignatureHeaders(request) && await hsu.validateSignature(r.jwk, request))
}
process.stdout.write(JSON.stringify(results) + '\n')
