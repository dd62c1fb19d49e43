/**
 * Tests of the message codecs (docs/protocol.md §6, §3.3): exact v3 layouts hand-written from the
 * spec (33-byte name fields, padded LIST, certificates and ML-KEM fields in RTT/ACCEPT), round
 * trips, and record-level rejections. Payload rejections are in messages-rejections.test.ts.
 */
import { describe, expect, it } from "vitest"
import {
  type ClientMessage,
  decodeClientMessages,
  decodeHandshakeMessages,
  decodeServerMessages,
  ErrorCode,
  encodeClientMessage,
  encodedClientMessageLength,
  encodedServerMessageLength,
  encodeHandshakeMessage,
  encodeServerMessage,
  type HandshakeMessage,
  MAX_RECORD_PLAINTEXT,
  NotFoundReason,
  NotifyReason,
  type ServerMessage,
  writeServerMessage,
} from "../../src/protocol/index.ts"
import { ascii, failure, fill, fromHex, h, hex, normalise, ok, reasonOf } from "./helpers.ts"

const n11 = fill(32, 0x11)
const e22 = fill(32, 0x22)
const n33 = fill(32, 0x33)
const e44 = fill(32, 0x44)
const sig55 = fill(64, 0x55)
const conf66 = fill(32, 0x66)
const id77 = fill(32, 0x77)
const kem88 = fill(1184, 0x88)
const ct99 = fill(1088, 0x99)
/** Any 5 bytes stand for a certificate here: the codec carries DER opaquely (§6.1). */
const cert = fromHex("3003020101")
const envelope = fill(88, 0xab)
// Name fields are 33 bytes: u8 len ‖ ASCII ‖ zero fill (§2.3).
const alice = `05${ascii("alice")}${h("00", 27)}`
const bob = `03${ascii("bob")}${h("00", 29)}`
/** LIST pads to 16 name slots: 2 names leave 14 empty slots of 33 zero bytes (§6.1). */
const listPad14 = h("00", 14 * 33)

/** Every client message with its expected encoding (hand-written from docs/protocol.md §6.1). */
const clientCases: ReadonlyArray<readonly [ClientMessage, string]> = [
  [{ type: "Quit" }, "000000"],
  [{ type: "List" }, "010000"],
  [
    // 33 + 32 + 32 + 1184 = 1281 = 0x0501
    { type: "Rtt", to: "bob", nonce: n11, ephemeralKey: e22, kemKey: kem88 },
    `020501${bob}${h("11", 32)}${h("22", 32)}${h("88", 1184)}`,
  ],
  [
    // 33 + 32 + 32 + 1088 + 64 + 32 = 1281 = 0x0501
    {
      type: "Accept",
      requester: "alice",
      nonce: n33,
      ephemeralKey: e44,
      kemCiphertext: ct99,
      signature: sig55,
      confirmation: conf66,
    },
    `030501${alice}${h("33", 32)}${h("44", 32)}${h("99", 1088)}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Refuse", requester: "alice" }, `040021${alice}`],
  [{ type: "Message", envelope }, `050058${h("ab", 88)}`],
  [
    // 33 + 64 + 32 = 129 = 0x81
    { type: "CcSessionEstablishment", accepter: "bob", signature: sig55, confirmation: conf66 },
    `060081${bob}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Notify", peer: "bob" }, `080021${bob}`],
  [{ type: "Error", code: ErrorCode.Timeout, fatal: true, text: "Bye." }, `090008000a0104${ascii("Bye.")}`],
  [{ type: "Ping", value: 0x0102_0304_0506_0708n }, "0a00080102030405060708"],
  [{ type: "Pong", value: 2n ** 64n - 1n }, `0b0008${h("ff", 8)}`],
]

const serverCases: ReadonlyArray<readonly [ServerMessage, string]> = [
  // 4 + 16 × 33 = 532 = 0x0214
  [{ type: "List", total: 3, names: ["alice", "bob"] }, `01021400030002${alice}${bob}${listPad14}`],
  [{ type: "List", total: 0, names: [] }, "01000400000000"],
  [
    // 33 + (2 + 5) + 32 + 32 + 1184 = 1288 = 0x0508
    { type: "Rtt", from: "alice", certificate: cert, nonce: n11, ephemeralKey: e22, kemKey: kem88 },
    `020508${alice}00053003020101${h("11", 32)}${h("22", 32)}${h("88", 1184)}`,
  ],
  [
    // 33 + (2 + 5) + 32 + 32 + 1088 + 64 + 32 = 1288 = 0x0508
    {
      type: "Accept",
      from: "bob",
      certificate: cert,
      nonce: n33,
      ephemeralKey: e44,
      kemCiphertext: ct99,
      signature: sig55,
      confirmation: conf66,
    },
    `030508${bob}00053003020101${h("33", 32)}${h("44", 32)}${h("99", 1088)}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Refuse", from: "bob" }, `040021${bob}`],
  [{ type: "Message", envelope }, `050058${h("ab", 88)}`],
  [
    { type: "CcSessionEstablishment", from: "alice", signature: sig55, confirmation: conf66 },
    `060081${alice}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "UserNotFound", user: "bob", reason: NotFoundReason.Busy }, `070022${bob}02`],
  [{ type: "Notify", peer: "bob", reason: NotifyReason.Cancelled }, `080022${bob}03`],
  [
    { type: "Error", code: ErrorCode.IllegalState, fatal: false, text: "No." },
    `09000700020003${ascii("No.")}`,
  ],
  [{ type: "Ping", value: 0n }, `0a0008${h("00", 8)}`],
  [{ type: "Pong", value: 7n }, `0b0008${h("00", 7)}07`],
]

const handshakeCases: ReadonlyArray<readonly [HandshakeMessage, string]> = [
  [
    { type: "ServerCertificate", certificate: fromHex("300102"), crl: new Uint8Array(0) },
    "1000070003300102" + "0000",
  ],
  [
    { type: "ServerCertificate", certificate: fromHex("30"), crl: fromHex("3031") },
    "100007000130" + "00023031",
  ],
  [{ type: "ServerVerify", signature: sig55 }, `110040${h("55", 64)}`],
  [{ type: "ServerFinished", mac: conf66 }, `120020${h("66", 32)}`],
  // 33 + 32 = 65 = 0x41
  [{ type: "ClientIdentity", name: "alice", publicKey: id77 }, `130041${alice}${h("77", 32)}`],
  [{ type: "ClientVerify", signature: sig55 }, `140040${h("55", 64)}`],
  [{ type: "ClientFinished", mac: conf66 }, `150020${h("66", 32)}`],
]

/** Test titles name the message type only (the byte fields would make them kilobytes long). */
const titled = <M extends { readonly type: string }>(cases: ReadonlyArray<readonly [M, string]>) =>
  cases.map(([message, expected]) => [message.type, message, expected] as const)

describe("exact layouts and round trips", () => {
  it.each(titled(clientCases))("client %s", (_, message, expected) => {
    const encoded = encodeClientMessage(message)
    expect(hex(encoded)).toBe(expected)
    expect(encodedClientMessageLength(message)).toBe(encoded.length)
    expect(normalise(ok(decodeClientMessages(encoded)))).toEqual([normalise(message)])
  })

  it.each(titled(serverCases))("server %s", (_, message, expected) => {
    const encoded = encodeServerMessage(message)
    expect(hex(encoded)).toBe(expected)
    expect(encodedServerMessageLength(message)).toBe(encoded.length)
    expect(normalise(ok(decodeServerMessages(encoded)))).toEqual([normalise(message)])
  })

  it.each(titled(handshakeCases))("handshake %s", (_, message, expected) => {
    const encoded = encodeHandshakeMessage(message)
    expect(hex(encoded)).toBe(expected)
    expect(normalise(ok(decodeHandshakeMessages(encoded)))).toEqual([normalise(message)])
  })

  it("decodes several messages of one record in order, byte fields as views", () => {
    const plaintext = fromHex(clientCases.map(([, encoded]) => encoded).join(""))
    const messages = ok(decodeClientMessages(plaintext))
    expect(messages.map((m) => m.type)).toEqual(clientCases.map(([m]) => m.type))
    const message = messages.find((m) => m.type === "Message")
    expect(message?.type === "Message" && message.envelope.buffer).toBe(plaintext.buffer)
  })

  it("writeServerMessage writes in place and returns the end offset", () => {
    const target = new Uint8Array(100).fill(0xee)
    const end = writeServerMessage(target, 2, { type: "Message", envelope })
    expect(end).toBe(2 + 3 + 88)
    expect(hex(target.subarray(0, end + 1))).toBe(`eeee050058${h("ab", 88)}ee`)
    expect(() => writeServerMessage(target, 20, { type: "Message", envelope })).toThrow(RangeError)
  })
})

describe("record-level rejections", () => {
  it("rejects an empty record", () => {
    expect(reasonOf(decodeClientMessages(new Uint8Array(0)))).toBe("EmptyRecord")
    expect(reasonOf(decodeServerMessages(new Uint8Array(0)))).toBe("EmptyRecord")
    expect(reasonOf(decodeHandshakeMessages(new Uint8Array(0)))).toBe("EmptyRecord")
  })

  it("rejects unassigned opcodes", () => {
    for (const opcode of [12, 13, 14, 15, 22, 0x80, 0xff]) {
      const plaintext = Uint8Array.of(opcode, 0, 0)
      expect(reasonOf(decodeClientMessages(plaintext))).toBe("UnknownOpcode")
      expect(reasonOf(decodeServerMessages(plaintext))).toBe("UnknownOpcode")
      expect(reasonOf(decodeHandshakeMessages(plaintext))).toBe("UnknownOpcode")
    }
  })

  it("rejects handshake opcodes in application records and vice versa", () => {
    for (const [message] of handshakeCases) {
      const encoded = encodeHandshakeMessage(message)
      expect(reasonOf(decodeClientMessages(encoded))).toBe("OpcodeNotAllowed")
      expect(reasonOf(decodeServerMessages(encoded))).toBe("OpcodeNotAllowed")
    }
    for (const [message] of clientCases) {
      expect(reasonOf(decodeHandshakeMessages(encodeClientMessage(message)))).toBe("OpcodeNotAllowed")
    }
  })

  it("rejects opcodes of the other direction", () => {
    const notFound = encodeServerMessage({
      type: "UserNotFound",
      user: "bob",
      reason: NotFoundReason.NotOnline,
    })
    expect(reasonOf(decodeClientMessages(notFound))).toBe("OpcodeNotAllowed")
    expect(reasonOf(decodeServerMessages(encodeClientMessage({ type: "Quit" })))).toBe("OpcodeNotAllowed")
  })

  it("rejects a header or payload that overruns the record as BadLength", () => {
    expect(reasonOf(decodeClientMessages(fromHex("05 00")))).toBe("BadLength")
    expect(reasonOf(decodeClientMessages(fromHex(`050020${h("ab", 31)}`)))).toBe("BadLength")
    expect(reasonOf(decodeClientMessages(fromHex(`000000 0a`)))).toBe("BadLength")
    expect(reasonOf(decodeClientMessages(new Uint8Array(MAX_RECORD_PLAINTEXT + 1)))).toBe("BadLength")
  })

  it("error details carry sizes and opcodes, never payload bytes", () => {
    // One byte past RTT's 1,281: 1,282 = 0x0502.
    const error = failure(
      decodeClientMessages(fromHex(`020502${bob}${h("11", 32)}${h("22", 32)}${h("88", 1184)}22`)),
    )
    expect(error.reason).toBe("TrailingBytes")
    expect(error.code).toBe(ErrorCode.Malformed)
    expect(error.message).toMatch(/Rtt \(opcode 2\)/)
    expect(error.message).not.toContain("bob")
    expect(error.message).not.toContain("22")
  })
})
