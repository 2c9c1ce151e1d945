// Writes connector/stream/testdata/vectors.json: STREAM packets (RFC 29)
// encoded by the reference implementation, ilp-protocol-stream (the
// version package-lock.json pins), covering every frame type and edge
// values; packets encrypted with a fixed key and IV; buffers the reference
// decodes but does not write itself (saturated amounts, unknown frames,
// padding, leading zero bytes); buffers it refuses; and the key,
// fulfillment and condition derivations. The IV is fixed by answering
// the reference's 12-byte crypto.randomBytes calls with it, so the file is
// the same on every run.
//
//   ./scripts/test-deps.sh && node scripts/stream-vectors.mjs
import crypto from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))

const fixedIV = Buffer.from('000102030405060708090a0b', 'hex')
const realRandomBytes = crypto.randomBytes
crypto.randomBytes = (n, ...rest) => (n === fixedIV.length ? Buffer.from(fixedIV) : realRandomBytes(n, ...rest))

const P = require('ilp-protocol-stream/dist/src/packet')
const C = require('ilp-protocol-stream/dist/src/crypto')
const Long = createRequire(require.resolve('ilp-protocol-stream/package.json'))('long')
const version = require('ilp-protocol-stream/package.json').version

const max = '18446744073709551615'
const { IlpPacketType: T } = P

// What each frame looks like in the file: its type, the reference's name
// and its fields, integers as decimal strings, bytes as hex.
function frameJSON (f) {
  const out = { type: f.type, name: f.name }
  for (const k of Object.getOwnPropertyNames(f)) {
    if (k === 'type' || k === 'name') continue
    const v = f[k]
    out[k] = Buffer.isBuffer(v) ? v.toString('hex') : Long.isLong(v) ? v.toString() : v
  }
  return out
}

function packetJSON (p) {
  return { type: p.ilpPacketType, sequence: p.sequence.toString(), prepareAmount: p.prepareAmount.toString(), frames: p.frames.map(frameJSON) }
}

const frames = {
  connectionClose: [new P.ConnectionCloseFrame(P.ErrorCode.NoError, ''), new P.ConnectionCloseFrame(P.ErrorCode.ApplicationError, 'payment complete ✓'),
    new P.ConnectionCloseFrame(P.ErrorCode.InternalError, 'x'.repeat(200))],
  connectionNewAddress: [new P.ConnectionNewAddressFrame('test.rafiki.sender'), new P.ConnectionNewAddressFrame('')],
  connectionMaxData: [new P.ConnectionMaxDataFrame(0), new P.ConnectionMaxDataFrame(Long.fromString(max, true))],
  connectionDataBlocked: [new P.ConnectionDataBlockedFrame(65536)],
  connectionMaxStreamId: [new P.ConnectionMaxStreamIdFrame(20)],
  connectionStreamIdBlocked: [new P.ConnectionStreamIdBlockedFrame(Long.fromString('4294967296', true))],
  connectionAssetDetails: [new P.ConnectionAssetDetailsFrame('USD', 2), new P.ConnectionAssetDetailsFrame('XRP', 255)],
  streamClose: [new P.StreamCloseFrame(1, P.ErrorCode.NoError, ''), new P.StreamCloseFrame(Long.fromString(max, true), P.ErrorCode.FlowControlError, 'over the limit')],
  streamMoney: [new P.StreamMoneyFrame(1, 1), new P.StreamMoneyFrame(3, Long.fromString(max, true))],
  streamMaxMoney: [new P.StreamMaxMoneyFrame(1, Infinity, 0), new P.StreamMaxMoneyFrame(2, 1000, 999)],
  streamMoneyBlocked: [new P.StreamMoneyBlockedFrame(1, Long.fromString(max, true), 255)],
  streamData: [new P.StreamDataFrame(1, 0, Buffer.alloc(0)), new P.StreamDataFrame(1, 256, Buffer.from('hello')),
    new P.StreamDataFrame(5, 70000, Buffer.alloc(300, 0xab))],
  streamMaxData: [new P.StreamMaxDataFrame(1, 16384)],
  streamDataBlocked: [new P.StreamDataBlockedFrame(7, 127)],
  streamReceipt: [new P.StreamReceiptFrame(1, Buffer.alloc(58, 0x5a))]
}

const packets = []
function add (name, p) {
  const buf = p._serialize()
  const back = P.Packet._deserializeUnencrypted(buf)
  if (!back._serialize().equals(buf)) throw new Error(`${name}: the reference does not re-encode its own packet`)
  packets.push({ name, hex: buf.toString('hex'), packet: packetJSON(p) })
}

for (const [name, list] of Object.entries(frames)) {
  list.forEach((f, i) => add(`frame:${name}:${i}`, new P.Packet(1, T.Prepare, 0, [f])))
}
for (const v of ['0', '1', '127', '128', '255', '256', '65535', '4294967295', '9007199254740993', max]) {
  add(`sequence:${v}`, new P.Packet(Long.fromString(v, true), T.Fulfill, 0, []))
  add(`amount:${v}`, new P.Packet(1, T.Reject, Long.fromString(v, true), []))
}
add('type:prepare no frames', new P.Packet(0, T.Prepare, 0, []))
add('every frame in one packet', new P.Packet(42, T.Prepare, 1000, Object.values(frames).map((l) => l[0])))
add('money prepare', new P.Packet(2, T.Prepare, 990, [new P.StreamMoneyFrame(1, 1)]))
add('fulfill reply', new P.Packet(2, T.Fulfill, 1000, [new P.StreamMaxMoneyFrame(1, Infinity, 1000), new P.StreamReceiptFrame(1, Buffer.alloc(58, 1))]))
add('many frames', new P.Packet(3, T.Prepare, 0, Array.from({ length: 130 }, (_, i) => new P.StreamMoneyFrame(2 * i + 1, i + 1))))

// OER by hand (RFC 30), for buffers the reference does not write.
const hex2 = (n) => n.toString(16).padStart(2, '0')
const lengthPrefix = (n) => n < 128 ? hex2(n) : n < 256 ? '81' + hex2(n) : '82' + hex2(n >> 8) + hex2(n & 0xff)
const os = (hex) => lengthPrefix(hex.length / 2) + hex
const vu = os
const frame = (type, contents) => hex2(type) + os(contents)
const pkt = (type, seq, amount, frames, tail = '') => '01' + hex2(type) + vu(seq) + vu(amount) + vu(hex2(frames.length)) + frames.join('') + tail

// Buffers the reference decodes to a packet it would write differently.
const decodeOnly = []
function addDecode (name, hex) {
  const buf = Buffer.from(hex, 'hex')
  const p = P.Packet._deserializeUnencrypted(buf)
  decodeOnly.push({ name, hex, packet: packetJSON(p), reencodedHex: p._serialize().toString('hex') })
}
addDecode('stream max money receive max above 64 bits', pkt(12, '00', '00', [frame(0x12, vu('01') + vu('010000000000000000') + vu('01'))]))
addDecode('stream max money receive max of 12 bytes', pkt(12, '00', '00', [frame(0x12, vu('01') + vu('ff'.repeat(12)) + vu('02'))]))
addDecode('stream money blocked send max above 64 bits', pkt(12, '00', '00', [frame(0x13, vu('07') + vu('ff'.repeat(9)) + vu('00'))]))
addDecode('unknown frame types skipped', pkt(12, '01', '00', [frame(0x30, 'aabbcc'), frame(0x11, vu('01') + vu('0a')), frame(0xff, '')]))
addDecode('zero padding after the frames', pkt(13, '07', '00', [frame(0x11, vu('01') + vu('0a'))], '00'.repeat(32)))
addDecode('var-uints with leading zero bytes', pkt(14, '0009', '0000000000000005', [frame(0x11, vu('0001') + vu('01'))]))
addDecode('extra bytes inside a frame', pkt(12, '00', '00', [frame(0x11, vu('01') + vu('02') + '0304')]))
addDecode('two-byte length prefix', pkt(12, '00', '00', [frame(0x14, vu('01') + vu('00') + os('61'.repeat(155)))]))
const padded = await new P.Packet(9, T.Fulfill, 5, [new P.StreamMoneyFrame(1, 2)]).serializeAndEncrypt(Buffer.alloc(32, 7), 100)
if (padded.length !== 100) throw new Error('padding: ' + padded.length)

// Buffers the reference refuses.
const invalid = []
function addInvalid (name, hex) {
  try {
    P.Packet._deserializeUnencrypted(Buffer.from(hex, 'hex'))
  } catch (err) {
    invalid.push({ name, hex, referenceError: err.message })
    return
  }
  throw new Error(`${name}: the reference accepts it`)
}
addInvalid('empty', '')
addInvalid('version 2', '02' + pkt(12, '00', '00', []).slice(2))
addInvalid('version 0', '00' + pkt(12, '00', '00', []).slice(2))
addInvalid('truncated header', '010c0100')
addInvalid('sequence of length 0', '010c' + '00' + vu('00') + vu('00'))
addInvalid('sequence above 64 bits', pkt(12, '010000000000000000', '00', []))
addInvalid('amount above 64 bits', pkt(12, '00', 'ff'.repeat(9), []))
addInvalid('frame count larger than the frames', '010c' + vu('00') + vu('00') + vu('02') + frame(0x11, vu('01') + vu('01')))
addInvalid('frame contents truncated', pkt(12, '00', '00', [frame(0x11, vu('01') + vu('01'))]).slice(0, -2))
addInvalid('frame length prefix not canonical', '010c' + vu('00') + vu('00') + vu('01') + '11' + '8104' + vu('01') + vu('01'))
addInvalid('stream money shares above 64 bits', pkt(12, '00', '00', [frame(0x11, vu('01') + vu('010000000000000000'))]))
addInvalid('stream money without shares', pkt(12, '00', '00', [frame(0x11, vu('01'))]))
addInvalid('stream money shares of length 0', pkt(12, '00', '00', [frame(0x11, vu('01') + '00')]))
addInvalid('stream data announcing more than it holds', pkt(12, '00', '00', [frame(0x14, vu('01') + vu('00') + '05' + 'ab')]))
addInvalid('connection close without message', pkt(12, '00', '00', [frame(0x01, '01')]))
addInvalid('asset details without scale', pkt(12, '00', '00', [frame(0x07, os('555344'))]))
addInvalid('connection max data above 64 bits', pkt(12, '00', '00', [frame(0x03, vu('ff'.repeat(9)))]))

const sharedSecret = Buffer.alloc(32, 0x11)
const pskKey = await C.generatePskEncryptionKey(sharedSecret)
const fulfillmentKey = await C.generateFulfillmentKey(sharedSecret)

const encrypted = []
for (const name of ['money prepare', 'fulfill reply', 'every frame in one packet', 'type:prepare no frames']) {
  const c = packets.find((x) => x.name === name)
  const p = P.Packet._deserializeUnencrypted(Buffer.from(c.hex, 'hex'))
  const data = await p.serializeAndEncrypt(pskKey)
  if (!data.subarray(0, 12).equals(fixedIV)) throw new Error('the IV was not fixed')
  const back = await P.Packet.decryptAndDeserialize(pskKey, data)
  if (!back._serialize().equals(Buffer.from(c.hex, 'hex'))) throw new Error(`${name}: encrypted round trip`)
  const fulfillment = await C.generateFulfillment(fulfillmentKey, data)
  const condition = await C.hash(fulfillment)
  encrypted.push({ name, plaintextHex: c.hex, dataHex: data.toString('hex'), fulfillmentHex: fulfillment.toString('hex'), conditionHex: condition.toString('hex') })
}
const rawPlain = Buffer.from('foo bar')
const rawEncrypted = await C.encrypt(pskKey, rawPlain)

const out = {
  generatedWith: { 'ilp-protocol-stream': version },
  packets,
  decodeOnly,
  invalid,
  crypto: {
    sharedSecretHex: sharedSecret.toString('hex'),
    pskKeyHex: pskKey.toString('hex'),
    fulfillmentKeyHex: fulfillmentKey.toString('hex'),
    ivHex: fixedIV.toString('hex'),
    encrypt: { plaintextHex: rawPlain.toString('hex'), dataHex: rawEncrypted.toString('hex') },
    paddedDataKeyHex: Buffer.alloc(32, 7).toString('hex'),
    paddedDataHex: padded.toString('hex'),
    encrypted
  }
}
writeFileSync(join(root, 'connector', 'stream', 'testdata', 'vectors.json'), JSON.stringify(out, null, 2) + '\n')
