/**
 * Tests of the message codecs (docs/protocol.md §6, §3): exact layouts hand-written from the spec,
 * round trips, and every rejection reason.
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
  MAX_MESSAGE_PAYLOAD,
  MAX_RECORD_PLAINTEXT,
  NotFoundReason,
  NotifyReason,
  type ServerMessage,
  writeServerMessage,
} from "../../src/protocol/index.ts"
import { ascii, failure, fill, fromHex, hex, normalise, ok, reasonOf } from "./helpers.ts"

const n11 = fill(32, 0x11)
const e22 = fill(32, 0x22)
const n33 = fill(32, 0x33)
const e44 = fill(32, 0x44)
const sig55 = fill(64, 0x55)
const conf66 = fill(32, 0x66)
const id77 = fill(32, 0x77)
const envelope = fill(24, 0xab)
const h = (byte: string, count: number): string => byte.repeat(count)
const alice = `05${ascii("alice")}`
const bob = `03${ascii("bob")}`

/** Every client message with its expected encoding (hand-written from docs/protocol.md §6.1). */
const clientCases: ReadonlyArray<readonly [ClientMessage, string]> = [
  [{ type: "Quit" }, "000000"],
  [{ type: "List" }, "010000"],
  [{ type: "Rtt", to: "bob", nonce: n11, ephemeralKey: e22 }, `020044${bob}${h("11", 32)}${h("22", 32)}`],
  [
    {
      type: "Accept",
      requester: "alice",
      nonce: n33,
      ephemeralKey: e44,
      signature: sig55,
      confirmation: conf66,
    },
    `0300a6${alice}${h("33", 32)}${h("44", 32)}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Refuse", requester: "alice" }, `040006${alice}`],
  [{ type: "Message", envelope }, `050018${h("ab", 24)}`],
  [
    { type: "CcSessionEstablishment", accepter: "bob", signature: sig55, confirmation: conf66 },
    `060064${bob}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Notify", peer: "bob" }, `080004${bob}`],
  [{ type: "Error", code: ErrorCode.Timeout, fatal: true, text: "Bye." }, `090008000a0104${ascii("Bye.")}`],
  [{ type: "Ping", value: 0x0102_0304_0506_0708n }, "0a00080102030405060708"],
  [{ type: "Pong", value: 2n ** 64n - 1n }, `0b0008${h("ff", 8)}`],
]

const serverCases: ReadonlyArray<readonly [ServerMessage, string]> = [
  [{ type: "List", total: 3, names: ["alice", "bob"] }, `01000e00030002${alice}${bob}`],
  [{ type: "List", total: 0, names: [] }, "01000400000000"],
  [
    { type: "Rtt", from: "alice", identityKey: id77, nonce: n11, ephemeralKey: e22 },
    `020066${alice}${h("77", 32)}${h("11", 32)}${h("22", 32)}`,
  ],
  [
    {
      type: "Accept",
      from: "bob",
      identityKey: id77,
      nonce: n33,
      ephemeralKey: e44,
      signature: sig55,
      confirmation: conf66,
    },
    `0300c4${bob}${h("77", 32)}${h("33", 32)}${h("44", 32)}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "Refuse", from: "bob" }, `040004${bob}`],
  [{ type: "Message", envelope }, `050018${h("ab", 24)}`],
  [
    { type: "CcSessionEstablishment", from: "alice", signature: sig55, confirmation: conf66 },
    `060066${alice}${h("55", 64)}${h("66", 32)}`,
  ],
  [{ type: "UserNotFound", user: "bob", reason: NotFoundReason.Busy }, `070005${bob}02`],
  [{ type: "Notify", peer: "bob", reason: NotifyReason.Cancelled }, `080005${bob}03`],
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
  [{ type: "ClientIdentity", name: "alice", publicKey: id77 }, `130026${alice}${h("77", 32)}`],
  [{ type: "ClientVerify", signature: sig55 }, `140040${h("55", 64)}`],
  [{ type: "ClientFinished", mac: conf66 }, `150020${h("66", 32)}`],
]

describe("exact layouts and round trips", () => {
  it.each(clientCases)("client %o", (message, expected) => {
    const encoded = encodeClientMessage(message)
    expect(hex(encoded)).toBe(expected)
    expect(encodedClientMessageLength(message)).toBe(encoded.length)
    expect(normalise(ok(decodeClientMessages(encoded)))).toEqual([normalise(message)])
  })

  it.each(serverCases)("server %o", (message, expected) => {
    const encoded = encodeServerMessage(message)
    expect(hex(encoded)).toBe(expected)
    expect(encodedServerMessageLength(message)).toBe(encoded.length)
    expect(normalise(ok(decodeServerMessages(encoded)))).toEqual([normalise(message)])
  })

  it.each(handshakeCases)("handshake %o", (message, expected) => {
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
    const target = new Uint8Array(40).fill(0xee)
    const end = writeServerMessage(target, 2, { type: "Message", envelope })
    expect(end).toBe(2 + 3 + 24)
    expect(hex(target.subarray(0, end + 1))).toBe(`eeee050018${h("ab", 24)}ee`)
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
    const error = failure(decodeClientMessages(fromHex(`020045${bob}${h("11", 32)}${h("22", 33)}`)))
    expect(error.reason).toBe("TrailingBytes")
    expect(error.code).toBe(ErrorCode.Malformed)
    expect(error.message).toMatch(/Rtt \(opcode 2\)/)
    expect(error.message).not.toContain("bob")
    expect(error.message).not.toContain("22")
  })
})

describe("payload rejections", () => {
  const client = (hexText: string) => reasonOf(decodeClientMessages(fromHex(hexText)))
  const server = (hexText: string) => reasonOf(decodeServerMessages(fromHex(hexText)))
  const handshake = (hexText: string) => reasonOf(decodeHandshakeMessages(fromHex(hexText)))

  it("rejects wrong fixed sizes as BadPayload", () => {
    expect(client("00000100")).toBe("BadPayload")
    expect(client("01000100")).toBe("BadPayload")
    expect(client(`0a0007${h("00", 7)}`)).toBe("BadPayload")
    expect(server(`0b0009${h("00", 9)}`)).toBe("BadPayload")
    expect(handshake(`11003f${h("55", 63)}`)).toBe("BadPayload")
    expect(handshake(`150021${h("66", 33)}`)).toBe("BadPayload")
  })

  it("rejects fields that overrun the payload as BadPayload and leftovers as TrailingBytes", () => {
    expect(client(`02000e${bob}${h("11", 10)}`)).toBe("BadPayload")
    expect(client(`040005${bob}00`)).toBe("TrailingBytes")
    expect(server(`080006${bob}0100`)).toBe("TrailingBytes")
    expect(handshake(`130027${alice}${h("77", 33)}`)).toBe("TrailingBytes")
    expect(handshake("1000050003300102")).toBe("BadPayload")
  })

  it("rejects invalid names as BadName", () => {
    const names = ["", "Alice", "a/b", "../x", "a".repeat(33), "_x", "-x", "a b", "a\u0000"]
    for (const name of names) {
      const field = `${name.length.toString(16).padStart(2, "0")}${ascii(name)}`
      const length = (1 + name.length).toString(16).padStart(4, "0")
      expect(client(`04${length}${field}`)).toBe("BadName")
      expect(server(`04${length}${field}`)).toBe("BadName")
      expect(() => encodeClientMessage({ type: "Refuse", requester: name })).toThrow(RangeError)
      expect(() => encodeServerMessage({ type: "Refuse", from: name })).toThrow(RangeError)
    }
    expect(client(`040001ff`)).toBe("BadName")
  })

  it("accepts boundary names", () => {
    for (const name of ["a", "0", "a".repeat(32), "z9_-", "9-_z"]) {
      const message: ClientMessage = { type: "Notify", peer: name }
      expect(ok(decodeClientMessages(encodeClientMessage(message)))).toEqual([message])
    }
  })

  it("validates USER_NOT_FOUND (1..3) and NOTIFY (1..5) reasons", () => {
    expect(server(`070005${bob}00`)).toBe("BadPayload")
    expect(server(`070005${bob}04`)).toBe("BadPayload")
    expect(server(`080005${bob}00`)).toBe("BadPayload")
    expect(server(`080005${bob}06`)).toBe("BadPayload")
    for (const reason of [1, 2, 3]) ok(decodeServerMessages(fromHex(`070005${bob}0${reason}`)))
    for (const reason of [1, 2, 3, 4, 5]) ok(decodeServerMessages(fromHex(`080005${bob}0${reason}`)))
    expect(() => encodeServerMessage({ type: "Notify", peer: "bob", reason: 6 as NotifyReason })).toThrow(
      RangeError,
    )
  })

  it("validates LIST: count ≤ 1000, total ≥ count, every name valid", () => {
    expect(server("010004000003e9")).toBe("BadPayload")
    expect(server(`01000c00010002${bob}${bob}`)).toBe("BadPayload")
    expect(server(`01000e00030002${alice}${bob.replace("62", "42")}`)).toBe("BadName")
    expect(server(`01000800020002${bob}`)).toBe("BadPayload")
    const names = Array.from({ length: 1000 }, (_, i) => `u${i}`)
    const full: ServerMessage = { type: "List", total: 5000, names }
    expect(ok(decodeServerMessages(encodeServerMessage(full)))).toEqual([full])
    expect(() => encodeServerMessage({ type: "List", total: 1001, names: [...names, "x"] })).toThrow(
      RangeError,
    )
    expect(() => encodeServerMessage({ type: "List", total: 1, names: ["a", "b"] })).toThrow(RangeError)
  })

  it("validates the MESSAGE envelope size", () => {
    expect(client(`050017${h("ab", 23)}`)).toBe("BadPayload")
    expect(client("050000")).toBe("BadPayload")
    expect(() => encodeClientMessage({ type: "Message", envelope: fill(23, 0) })).toThrow(RangeError)
    const largest: ClientMessage = { type: "Message", envelope: fill(MAX_MESSAGE_PAYLOAD, 1) }
    expect(encodeClientMessage(largest).length).toBe(MAX_RECORD_PLAINTEXT)
    expect(() =>
      encodeClientMessage({ type: "Message", envelope: fill(MAX_MESSAGE_PAYLOAD + 1, 1) }),
    ).toThrow(RangeError)
  })

  it("validates ERROR: known code, 0/1 flag, printable text of at most 200 bytes", () => {
    expect(client("0900040063" + "0000")).toBe("BadPayload")
    expect(client("0900040001" + "0200")).toBe("BadPayload")
    expect(client("09000500010101" + "07")).toBe("BadText")
    expect(client(`0900cd000101c9${h("41", 201)}`)).toBe("BadText")
    expect(client("09000500010102" + "41")).toBe("BadPayload")
    const sanitized = ok(
      decodeClientMessages(
        encodeClientMessage({ type: "Error", code: 1, fatal: true, text: `é\n${"y".repeat(250)}` }),
      ),
    )
    expect(sanitized[0]).toEqual({ type: "Error", code: 1, fatal: true, text: `??${"y".repeat(198)}` })
  })

  it("validates SERVER_CERTIFICATE lengths", () => {
    expect(handshake("10000400000000")).toBe("BadPayload")
    expect(handshake("100006000130000230")).toBe("BadPayload")
    expect(() =>
      encodeHandshakeMessage({
        type: "ServerCertificate",
        certificate: new Uint8Array(0),
        crl: new Uint8Array(0),
      }),
    ).toThrow(RangeError)
  })

  it("refuses to encode wrong-sized keys, nonces, signatures and out-of-range values", () => {
    expect(() =>
      encodeClientMessage({ type: "Rtt", to: "bob", nonce: fill(31, 0), ephemeralKey: e22 }),
    ).toThrow(RangeError)
    expect(() => encodeHandshakeMessage({ type: "ClientVerify", signature: fill(63, 0) })).toThrow(RangeError)
    expect(() => encodeClientMessage({ type: "Ping", value: -1n })).toThrow(RangeError)
    expect(() => encodeClientMessage({ type: "Ping", value: 2n ** 64n })).toThrow(RangeError)
    expect(() =>
      encodeServerMessage({ type: "Error", code: 77 as ErrorCode, fatal: true, text: "" }),
    ).toThrow(RangeError)
  })
})
