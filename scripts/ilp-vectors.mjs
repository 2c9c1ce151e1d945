// Writes connector/ilp/testdata/vectors.json: ILP Prepare, Fulfill and
// Reject packets, F08 error data and IL-DCP requests and responses, each
// encoded by the reference implementations (the ilp-packet,
// ilp-protocol-ildcp and oer-utils versions package-lock.json pins) and
// decoded again by them, plus packets their decoders refuse. Every input
// is fixed, so the file is the same on every run. Byte strings are base64.
//
//   ./scripts/test-deps.sh && node scripts/ilp-vectors.mjs
import crypto from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const IlpPacket = require('ilp-packet')
const ILDCP = require('ilp-protocol-ildcp')
const { Writer } = require('oer-utils')
const version = (name) => require(`${name}/package.json`).version

const b64 = (buf) => Buffer.from(buf).toString('base64')
const fill = (n, byte) => Buffer.alloc(n, byte)
// Deterministic bytes that are not one repeated value.
const pattern = (n, seed) => {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff
  return out
}
const sha256 = (b) => crypto.createHash('sha256').update(b).digest()
const segment = (n) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_~-'.repeat(Math.ceil(n / 65)).slice(0, n)
const address1023 = 'g.' + segment(1021)

const expires = new Date('2026-01-02T03:04:05.678Z')
const condition = sha256(Buffer.from('rafiki-go ilp vectors'))

const prepares = [
  { name: 'fixture example01', amount: '107', expiresAt: new Date('2017-12-23T01:21:40.549Z'),
    executionCondition: Buffer.from('dOETbcccnl8oO+yDRhy/EmHEAU9y1I+N1lRToLhOfeE=', 'base64'), destination: 'example.alice',
    data: Buffer.from('XbND/cQYmPbfQgIykTncJC3Q9VioEbRrKJGP2rN8bLA=', 'base64') },
  { name: 'zero amount, empty data', amount: '0', destination: 'test.rafiki.alice', data: fill(0) },
  { name: 'amount 1', amount: '1', destination: 'g.a.b', data: fill(1, 7) },
  { name: 'amount 2^32', amount: '4294967296', destination: 'private.x', data: pattern(3, 1) },
  { name: 'amount 2^53+1', amount: '9007199254740993', destination: 'local.connector', data: pattern(5, 2) },
  { name: 'max uint64 amount', amount: '18446744073709551615', destination: 'g.a.b.c', data: fill(45, 0xab) },
  { name: 'data 127 bytes (1-byte length prefix)', amount: '5', destination: 'test1.x', data: pattern(127, 3) },
  { name: 'data 128 bytes (2-byte length prefix)', amount: '5', destination: 'test2.x', data: pattern(128, 4) },
  { name: 'data 255 bytes', amount: '5', destination: 'test3.x', data: pattern(255, 5) },
  { name: 'data 256 bytes (3-byte length prefix)', amount: '5', destination: 'self.x', data: pattern(256, 6) },
  { name: 'data 1000 bytes', amount: '5', destination: 'private.x', data: fill(1000, 1) },
  { name: 'data 32767 bytes (the maximum)', amount: '5', destination: 'example.max', data: pattern(32767, 7) },
  { name: 'destination of 1023 bytes (the maximum)', amount: '10', destination: address1023, data: fill(0) },
  { name: 'destination with every allowed character', amount: '10', destination: 'test.' + segment(65) + '.a-b_c~d', data: fill(0) },
  { name: 'expiry one millisecond after the Unix epoch (the reference decoder refuses the epoch itself)', amount: '10', expiresAt: new Date('1970-01-01T00:00:00.001Z'), destination: 'g.a', data: fill(0) },
  { name: 'expiry at the last millisecond of year 9999', amount: '10', expiresAt: new Date('9999-12-31T23:59:59.999Z'), destination: 'g.a', data: fill(0) },
  { name: 'expiry on a leap day', amount: '10', expiresAt: new Date('2024-02-29T12:00:00.001Z'), destination: 'g.a', data: fill(0) },
  { name: 'expiry at midnight', amount: '10', expiresAt: new Date('2026-12-31T00:00:00.000Z'), destination: 'g.a', data: fill(0) },
  { name: 'condition of 0xff bytes', amount: '10', executionCondition: fill(32, 0xff), destination: 'g.a', data: fill(0) }
]

const fulfills = [
  { name: 'fixture example01', fulfillment: Buffer.from('w4ZrSHSczxE7LhXCXSQH+/wUR2/nKWuxvxvNnm5BZlA=', 'base64'),
    data: Buffer.from('Zz/r14ozso4cDbFMmgYlGgX6gx7U7ZHrzRUOcknC5gA=', 'base64') },
  { name: 'empty data', fulfillment: fill(32, 0), data: fill(0) },
  { name: 'data 128 bytes', fulfillment: pattern(32, 8), data: pattern(128, 9) },
  { name: 'data 1000 bytes', fulfillment: fill(32, 0xff), data: pattern(1000, 10) }
]

const amountTooLarge = (received, maximum) => {
  const w = new Writer(16)
  w.writeUInt64(received)
  w.writeUInt64(maximum)
  return w.getBuffer()
}

const rejects = [
  { name: 'fixture example01', code: 'F01', triggeredBy: 'example.us.bob', message: 'missing destination. ledger=example.us.', data: Buffer.from('AAAABBBB', 'ascii') },
  { name: 'F02, empty message', code: 'F02', triggeredBy: 'test.rafiki', message: '', data: fill(0) },
  { name: 'T04, empty triggeredBy', code: 'T04', triggeredBy: '', message: 'Insufficient liquidity', data: fill(0) },
  { name: 'F08 with amounts', code: 'F08', triggeredBy: 'test.rafiki', message: 'packet size too large. maxAmount=100 actualAmount=101', data: amountTooLarge('101', '100') },
  { name: 'R00, UTF-8 message', code: 'R00', triggeredBy: 'g.connector', message: 'délai dépassé ✓ 🚀', data: fill(0) },
  { name: 'F99, application data 1000 bytes', code: 'F99', triggeredBy: 'g.receiver', message: 'app', data: pattern(1000, 12) },
  { name: 'a code outside the table', code: 'X42', triggeredBy: 'g.a', message: 'x', data: fill(0) },
  { name: 'message 127 bytes', code: 'T00', triggeredBy: 'g.a', message: 'm'.repeat(127), data: fill(0) },
  { name: 'message 128 bytes (2-byte length prefix)', code: 'T00', triggeredBy: 'g.a', message: 'm'.repeat(128), data: fill(0) },
  { name: 'message of 8191 characters (the maximum)', code: 'T00', triggeredBy: 'g.a', message: 'é'.repeat(8191), data: fill(0) },
  { name: 'triggeredBy of 1023 bytes (the maximum)', code: 'R02', triggeredBy: address1023, message: '', data: fill(0) },
  { name: 'data 32767 bytes (the maximum)', code: 'F99', triggeredBy: 'g.a', message: '', data: pattern(32767, 13) },
  { name: 'every field at a length-prefix boundary', code: 'T01', triggeredBy: 'g.' + segment(126), message: 'x'.repeat(256), data: pattern(128, 14) }
]
for (const code of ['F00', 'F03', 'F04', 'F05', 'F06', 'F07', 'T02', 'T03', 'T05', 'T99', 'R01', 'R99']) {
  rejects.push({ name: `code ${code}`, code, triggeredBy: 'test.rafiki', message: code, data: fill(0) })
}

const amountsTooLarge = [
  { name: 'fixture', receivedAmount: '101', maximumAmount: '100' },
  { name: 'zeros', receivedAmount: '0', maximumAmount: '0' },
  { name: 'max uint64', receivedAmount: '18446744073709551615', maximumAmount: '18446744073709551614' }
]

const ildcpResponses = [
  { name: 'USD scale 2', clientAddress: 'test.rafiki.peer-b', assetCode: 'USD', assetScale: 2 },
  { name: 'scale 0', clientAddress: 'g.a.b', assetCode: 'JPY', assetScale: 0 },
  { name: 'scale 255', clientAddress: 'private.child', assetCode: 'XRP', assetScale: 255 },
  { name: 'empty asset code', clientAddress: 'local.x', assetCode: '', assetScale: 9 },
  { name: 'UTF-8 asset code', clientAddress: 'test.x', assetCode: '€UR', assetScale: 2 },
  { name: 'client address of 1023 bytes', clientAddress: address1023, assetCode: 'EUR', assetScale: 6 }
]

const out = {
  generatedWith: { 'ilp-packet': version('ilp-packet'), 'ilp-protocol-ildcp': version('ilp-protocol-ildcp'), 'oer-utils': version('oer-utils') },
  prepares: [], fulfills: [], rejects: [], amountsTooLarge: [], ildcpRequests: [], ildcpResponses: [], refused: []
}

const same = (name, a, b) => { if (!isDeepStrictEqual(a, b)) throw new Error(`${name}: the reference decoder returns ${JSON.stringify(b)}, not ${JSON.stringify(a)}`) }

for (const c of prepares) {
  const p = { amount: c.amount, expiresAt: c.expiresAt ?? expires, executionCondition: c.executionCondition ?? condition, destination: c.destination, data: c.data }
  const packet = IlpPacket.serializeIlpPrepare(p)
  same(c.name, p, IlpPacket.deserializeIlpPrepare(packet))
  out.prepares.push({ name: c.name, packet: b64(packet), amount: p.amount, expiresAt: p.expiresAt.toISOString(),
    executionCondition: b64(p.executionCondition), destination: p.destination, data: b64(p.data) })
}
for (const c of fulfills) {
  const packet = IlpPacket.serializeIlpFulfill({ fulfillment: c.fulfillment, data: c.data })
  same(c.name, { fulfillment: c.fulfillment, data: c.data }, IlpPacket.deserializeIlpFulfill(packet))
  out.fulfills.push({ name: c.name, packet: b64(packet), fulfillment: b64(c.fulfillment), data: b64(c.data) })
}
for (const c of rejects) {
  const r = { code: c.code, triggeredBy: c.triggeredBy, message: c.message, data: c.data }
  const packet = IlpPacket.serializeIlpReject(r)
  same(c.name, r, IlpPacket.deserializeIlpReject(packet))
  out.rejects.push({ name: c.name, packet: b64(packet), code: c.code, triggeredBy: c.triggeredBy, message: c.message, data: b64(c.data) })
}
for (const c of amountsTooLarge) {
  out.amountsTooLarge.push({ name: c.name, data: b64(amountTooLarge(c.receivedAmount, c.maximumAmount)), receivedAmount: c.receivedAmount, maximumAmount: c.maximumAmount })
}

for (const c of [
  { name: 'empty data', expiresAt: new Date('2026-01-02T03:04:05.000Z'), data: fill(0) },
  { name: 'with data', expiresAt: new Date('2030-06-07T08:09:10.111Z'), data: Buffer.from('hello') }
]) {
  const packet = ILDCP.serializeIldcpRequest({ expiresAt: c.expiresAt, data: c.data })
  const p = IlpPacket.deserializeIlpPrepare(packet)
  out.ildcpRequests.push({ name: c.name, packet: b64(packet), amount: p.amount, expiresAt: p.expiresAt.toISOString(),
    executionCondition: b64(p.executionCondition), destination: p.destination, data: b64(p.data) })
}
for (const c of ildcpResponses) {
  const packet = ILDCP.serializeIldcpResponse({ clientAddress: c.clientAddress, assetCode: c.assetCode, assetScale: c.assetScale })
  same(c.name, { clientAddress: c.clientAddress, assetScale: c.assetScale, assetCode: c.assetCode }, ILDCP.deserializeIldcpResponse(packet))
  out.ildcpResponses.push({ name: c.name, packet: b64(packet), clientAddress: c.clientAddress, assetScale: c.assetScale, assetCode: c.assetCode })
}

// Packets the reference decoders refuse. Each is built from a valid
// packet, since the reference encoders do not write invalid ones.
const valid = {
  prepare: IlpPacket.serializeIlpPrepare({ amount: '1', expiresAt: expires, executionCondition: condition, destination: 'g.a', data: Buffer.from('xy') }),
  fulfill: IlpPacket.serializeIlpFulfill({ fulfillment: condition, data: Buffer.from('xy') }),
  reject: IlpPacket.serializeIlpReject({ code: 'F00', triggeredBy: 'g.a', message: 'm', data: fill(0) })
}
const decoders = {
  prepare: IlpPacket.deserializeIlpPrepare,
  fulfill: IlpPacket.deserializeIlpFulfill,
  reject: IlpPacket.deserializeIlpReject,
  ildcpResponse: ILDCP.deserializeIldcpResponse
}
const withContents = (type, contents) => {
  const w = new Writer()
  w.writeUInt8(type)
  w.writeVarOctetString(contents)
  return w.getBuffer()
}
const prepareContents = (destination, dataField) => Buffer.concat([valid.prepare.subarray(2, 2 + 8 + 17 + 32), destination, dataField])
const refused = [
  { name: 'empty input', decoder: 'prepare', packet: fill(0) },
  { name: 'prepare decoded as a fulfill', decoder: 'fulfill', packet: valid.prepare },
  { name: 'fulfill decoded as a prepare', decoder: 'prepare', packet: valid.fulfill },
  { name: 'truncated prepare', decoder: 'prepare', packet: valid.prepare.subarray(0, valid.prepare.length - 1) },
  { name: 'truncated fulfill', decoder: 'fulfill', packet: valid.fulfill.subarray(0, 20) },
  { name: 'truncated reject', decoder: 'reject', packet: valid.reject.subarray(0, 4) },
  { name: 'envelope length prefix in the long form below 128', decoder: 'fulfill', packet: Buffer.concat([Buffer.from([13, 0x81, valid.fulfill[1]]), valid.fulfill.subarray(2)]) },
  { name: 'data length prefix in the long form below 128', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x03g.a'), Buffer.from([0x81, 0x02, 0x78, 0x79]))) },
  { name: 'data length prefix with a leading zero byte', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x03g.a'), Buffer.concat([Buffer.from([0x82, 0x00, 0x80]), fill(128, 1)]))) },
  { name: 'length prefix 0x80 (no length bytes)', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x03g.a'), Buffer.from([0x80]))) },
  { name: 'destination without a segment after the scheme', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x01g'), Buffer.from([0]))) },
  { name: 'destination with an unknown scheme', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x05xyz.a'), Buffer.from([0]))) },
  { name: 'destination with a space', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x05g.a b'), Buffer.from([0]))) },
  { name: 'destination ending in a period', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from('\x04g.a.'), Buffer.from([0]))) },
  { name: 'empty destination', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.from([0]), Buffer.from([0]))) },
  { name: 'destination of 1024 bytes', decoder: 'prepare', packet: withContents(12, prepareContents(Buffer.concat([Buffer.from([0x82, 0x04, 0x00]), Buffer.from(address1023 + 'a')]), Buffer.from([0]))) },
  { name: 'triggeredBy with an invalid address', decoder: 'reject', packet: withContents(14, Buffer.concat([Buffer.from('F00'), Buffer.from('\x03g..'), Buffer.from([0, 0])])) },
  { name: 'IL-DCP response with a wrong fulfillment', decoder: 'ildcpResponse', packet: IlpPacket.serializeIlpFulfill({ fulfillment: fill(32, 1), data: ILDCP.serializeIldcpResponse({ clientAddress: 'g.a', assetCode: 'USD', assetScale: 2 }).subarray(34) }) },
  { name: 'IL-DCP response with an invalid client address', decoder: 'ildcpResponse', packet: IlpPacket.serializeIlpFulfill({ fulfillment: fill(32, 0), data: Buffer.from('\x03g..\x02\x03USD', 'latin1') }) },
  { name: 'IL-DCP response without an asset code', decoder: 'ildcpResponse', packet: IlpPacket.serializeIlpFulfill({ fulfillment: fill(32, 0), data: Buffer.from('\x03g.a\x02', 'latin1') }) }
]
for (const c of refused) {
  let threw = false
  try { decoders[c.decoder](c.packet) } catch (_) { threw = true }
  if (!threw) throw new Error(`${c.name}: the reference ${c.decoder} decoder accepts it`)
  out.refused.push({ name: c.name, decoder: c.decoder, packet: b64(c.packet) })
}

writeFileSync(join(root, 'connector', 'ilp', 'testdata', 'vectors.json'), JSON.stringify(out, null, 1) + '\n')
