/**
 * Payload rejections of the v3 message codecs (docs/protocol.md §6.1, §2.3): wrong sizes, overruns,
 * trailing bytes, bad names and non-zero name fill, LIST count/total/padding, reason bytes,
 * certificate lengths (1..2,048) and ML-KEM field sizes. Inputs are hex built by hand from the spec;
 * the encoder is only asked to refuse, never used to produce the bytes under test.
 */
import type { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  type ClientMessage,
  decodeClientMessages,
  decodeHandshakeMessages,
  decodeServerMessages,
  type ErrorCode,
  encodeClientMessage,
  encodeHandshakeMessage,
  encodeServerMessage,
  MAX_MESSAGE_PAYLOAD,
  MAX_RECORD_PLAINTEXT,
  type NotifyReason,
  type ProtocolError,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import { ascii, fill, fromHex, h, nameHex, normalise, ok, reasonOf } from "./helpers.ts"

const bob = `03${ascii("bob")}${h("00", 29)}`
const alice = `05${ascii("alice")}${h("00", 27)}`
const u16 = (value: number): string => value.toString(16).padStart(4, "0")
const client = (hexText: string) => reasonOf(decodeClientMessages(fromHex(hexText)))
const server = (hexText: string) => reasonOf(decodeServerMessages(fromHex(hexText)))
const handshake = (hexText: string) => reasonOf(decodeHandshakeMessages(fromHex(hexText)))
const clientOk = (hexText: string) => ok(decodeClientMessages(fromHex(hexText)))
const serverOk = (hexText: string) => ok(decodeServerMessages(fromHex(hexText)))

describe("payload rejections", () => {
  it("rejects wrong fixed sizes as BadPayload", () => {
    expect(client("00000100")).toBe("BadPayload")
    expect(client("01000100")).toBe("BadPayload")
    expect(client(`0a0007${h("00", 7)}`)).toBe("BadPayload")
    expect(server(`0b0009${h("00", 9)}`)).toBe("BadPayload")
    expect(handshake(`11003f${h("55", 63)}`)).toBe("BadPayload")
    expect(handshake(`150021${h("66", 33)}`)).toBe("BadPayload")
  })

  it("rejects fields that overrun the payload as BadPayload and leftovers as TrailingBytes", () => {
    expect(client(`02002b${bob}${h("11", 10)}`)).toBe("BadPayload") // 33 + 10 bytes
    expect(client(`040022${bob}00`)).toBe("TrailingBytes")
    expect(server(`080023${bob}0100`)).toBe("TrailingBytes")
    expect(handshake(`130042${alice}${h("77", 33)}`)).toBe("TrailingBytes")
    expect(handshake("1000050003300102")).toBe("BadPayload")
  })

  it("rejects the v2 name field (no fill): it overruns the payload or reads bytes as fill", () => {
    expect(client(`040004${"03626f62"}`)).toBe("BadPayload")
    expect(server(`080005${"03626f62"}01`)).toBe("BadPayload")
    // Here the 32 key bytes land in the fill: non-zero, so BadName.
    expect(handshake(`130024${"03626f62"}${h("77", 32)}`)).toBe("BadName")
  })

  it("rejects invalid names as BadName", () => {
    const names = ["", "Alice", "a/b", "../x", "a".repeat(33), "_x", "-x", "a b", "a\u0000"]
    for (const name of names) {
      const field = nameHex(name)
      const length = u16(field.length / 2)
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
      expect(encodeClientMessage(message).length).toBe(3 + 33)
      expect(ok(decodeClientMessages(encodeClientMessage(message)))).toEqual([message])
    }
  })

  it("validates USER_NOT_FOUND (1..3) and NOTIFY (1..5) reasons", () => {
    expect(server(`070022${bob}00`)).toBe("BadPayload")
    expect(server(`070022${bob}04`)).toBe("BadPayload")
    expect(server(`080022${bob}00`)).toBe("BadPayload")
    expect(server(`080022${bob}06`)).toBe("BadPayload")
    for (const reason of [1, 2, 3]) serverOk(`070022${bob}0${reason}`)
    for (const reason of [1, 2, 3, 4, 5]) serverOk(`080022${bob}0${reason}`)
    expect(() => encodeServerMessage({ type: "Notify", peer: "bob", reason: 6 as NotifyReason })).toThrow(
      RangeError,
    )
  })

  it("validates the MESSAGE envelope size", () => {
    expect(client(`050057${h("ab", 87)}`)).toBe("BadPayload") // one byte short of MIN_ENVELOPE_BYTES (88)
    expect(client("050000")).toBe("BadPayload")
    expect(() => encodeClientMessage({ type: "Message", envelope: fill(87, 0) })).toThrow(RangeError)
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

  it("refuses to encode wrong-sized keys, nonces, KEM fields, signatures and out-of-range values", () => {
    const rtt = {
      type: "Rtt",
      to: "bob",
      nonce: fill(32, 0),
      ephemeralKey: fill(32, 0),
      kemKey: fill(1184, 0),
    }
    expect(() => encodeClientMessage({ ...rtt, type: "Rtt", nonce: fill(31, 0) })).toThrow(RangeError)
    expect(() => encodeClientMessage({ ...rtt, type: "Rtt", kemKey: fill(1183, 0) })).toThrow(RangeError)
    expect(() => encodeClientMessage({ ...rtt, type: "Rtt", kemKey: fill(1088, 0) })).toThrow(RangeError)
    const accept = {
      type: "Accept",
      requester: "alice",
      nonce: fill(32, 0),
      ephemeralKey: fill(32, 0),
      kemCiphertext: fill(1088, 0),
      signature: fill(64, 0),
      confirmation: fill(32, 0),
    } as const
    expect(encodeClientMessage(accept).length).toBe(3 + 1281)
    expect(() => encodeClientMessage({ ...accept, kemCiphertext: fill(1087, 0) })).toThrow(RangeError)
    expect(() => encodeClientMessage({ ...accept, kemCiphertext: fill(1184, 0) })).toThrow(RangeError)
    expect(() => encodeHandshakeMessage({ type: "ClientVerify", signature: fill(63, 0) })).toThrow(RangeError)
    expect(() => encodeClientMessage({ type: "Ping", value: -1n })).toThrow(RangeError)
    expect(() => encodeClientMessage({ type: "Ping", value: 2n ** 64n })).toThrow(RangeError)
    expect(() =>
      encodeServerMessage({ type: "Error", code: 77 as ErrorCode, fatal: true, text: "" }),
    ).toThrow(RangeError)
  })

  it("rejects ML-KEM fields one byte short or long (fixed 1,184 / 1,088 bytes)", () => {
    const rttBody = (kem: number) => `${bob}${h("11", 32)}${h("22", 32)}${h("88", kem)}`
    clientOk(`020501${rttBody(1184)}`)
    expect(client(`020500${rttBody(1183)}`)).toBe("BadPayload")
    expect(client(`020502${rttBody(1185)}`)).toBe("TrailingBytes")
    const acceptBody = (ct: number) => `${alice}${h("33", 64)}${h("99", ct)}${h("55", 64)}${h("66", 32)}`
    clientOk(`030501${acceptBody(1088)}`)
    expect(client(`030500${acceptBody(1087)}`)).toBe("BadPayload")
    expect(client(`030502${acceptBody(1089)}`)).toBe("TrailingBytes")
  })
})

describe("name fill (§2.3): the 29 bytes after `bob` must be zero", () => {
  type Decode = (plaintext: Uint8Array) => Result.Result<ReadonlyArray<unknown>, ProtocolError>
  /** Every message that carries a name, with `X` where the 33-byte field of "bob" goes. */
  const carriers: ReadonlyArray<readonly [Decode, string]> = [
    [decodeClientMessages, `020501X${h("11", 64)}${h("88", 1184)}`],
    [decodeClientMessages, `030501X${h("33", 64)}${h("99", 1088)}${h("55", 64)}${h("66", 32)}`],
    [decodeClientMessages, "040021X"],
    [decodeClientMessages, `060081X${h("55", 64)}${h("66", 32)}`],
    [decodeClientMessages, "080021X"],
    [decodeServerMessages, `01021400010001X${h("00", 15 * 33)}`],
    [decodeServerMessages, `020508X00053003020101${h("11", 64)}${h("88", 1184)}`],
    [decodeServerMessages, `030508X00053003020101${h("33", 64)}${h("99", 1088)}${h("55", 64)}${h("66", 32)}`],
    [decodeServerMessages, "040021X"],
    [decodeServerMessages, `060081X${h("55", 64)}${h("66", 32)}`],
    [decodeServerMessages, "070022X01"],
    [decodeServerMessages, "080022X01"],
    [decodeHandshakeMessages, `130041X${h("77", 32)}`],
  ]

  it("accepts zero fill and rejects a non-zero byte at the first, a middle and the last fill position", () => {
    for (const [decode, template] of carriers) {
      expect(ok(decode(fromHex(template.replace("X", bob))))).toHaveLength(1)
      for (const at of [0, 14, 28]) {
        for (const byte of ["01", "62", "ff"]) {
          const dirty = `03${ascii("bob")}${h("00", at)}${byte}${h("00", 28 - at)}`
          expect(reasonOf(decode(fromHex(template.replace("X", dirty))))).toBe("BadName")
        }
      }
    }
  })
})

describe("LIST padding (§6.1): names fill slots of 16, the rest of the slots zero", () => {
  const list = (total: number, count: number, body: string) =>
    `01${u16(4 + body.length / 2)}${u16(total)}${u16(count)}${body}`

  it("pads 0, 1, 15, 16, 17 and 1,000 names to 0, 16, 16, 16, 32 and 1,008 slots", () => {
    for (const [count, slots] of [
      [0, 0],
      [1, 16],
      [15, 16],
      [16, 16],
      [17, 32],
      [1000, 1008],
    ] as const) {
      const names = Array.from({ length: count }, (_, i) => `u${i}`)
      const message: ServerMessage = { type: "List", total: count, names }
      const encoded = encodeServerMessage(message)
      expect(encoded.length).toBe(3 + 4 + slots * 33)
      expect(encoded.subarray(3 + 4 + count * 33).every((b) => b === 0)).toBe(true)
      expect(ok(decodeServerMessages(encoded))).toEqual([message])
    }
  })

  it("accepts exactly the padding of the spec", () => {
    expect(normalise(serverOk(list(1, 1, `${bob}${h("00", 15 * 33)}`)))).toEqual([
      { type: "List", total: 1, names: ["bob"] },
    ])
    expect(serverOk(list(9, 0, ""))).toEqual([{ type: "List", total: 9, names: [] }])
  })

  it("rejects padding that is short, long, or present for an empty list", () => {
    expect(server(list(1, 1, bob))).toBe("BadPayload")
    expect(server(list(1, 1, `${bob}${h("00", 15 * 33 - 1)}`))).toBe("BadPayload")
    expect(server(list(1, 1, `${bob}${h("00", 15 * 33 + 1)}`))).toBe("BadPayload")
    expect(server(list(1, 1, `${bob}${h("00", 31 * 33)}`))).toBe("BadPayload")
    expect(server(list(0, 0, h("00", 16 * 33)))).toBe("BadPayload")
    expect(server(list(0, 0, "00"))).toBe("BadPayload")
    expect(server(list(16, 16, `${bob.repeat(16)}${h("00", 16 * 33)}`))).toBe("BadPayload")
  })

  it("rejects a non-zero padding byte anywhere, and a name hidden in the padding", () => {
    for (const at of [0, 1, 32, 33, 250, 15 * 33 - 1]) {
      const padding = `${h("00", at)}01${h("00", 15 * 33 - at - 1)}`
      expect(server(list(1, 1, `${bob}${padding}`))).toBe("BadPayload")
    }
    expect(server(list(2, 1, `${bob}${alice}${h("00", 14 * 33)}`))).toBe("BadPayload")
  })

  it("validates count ≤ 1000, total ≥ count and every name", () => {
    const pad14 = h("00", 14 * 33)
    expect(server("010004000003e9")).toBe("BadPayload")
    expect(server(list(1, 2, `${bob}${bob}${pad14}`))).toBe("BadPayload")
    expect(server(list(3, 2, `${alice}${bob.replace("62", "42")}${pad14}`))).toBe("BadName")
    expect(server(list(2, 2, bob))).toBe("BadPayload")
    const names = Array.from({ length: 1000 }, (_, i) => `u${i}`)
    const full: ServerMessage = { type: "List", total: 5000, names }
    expect(ok(decodeServerMessages(encodeServerMessage(full)))).toEqual([full])
    expect(() => encodeServerMessage({ type: "List", total: 1001, names: [...names, "x"] })).toThrow(
      RangeError,
    )
    expect(() => encodeServerMessage({ type: "List", total: 1, names: ["a", "b"] })).toThrow(RangeError)
    expect(() => encodeServerMessage({ type: "List", total: 1, names: ["Bob"] })).toThrow(RangeError)
  })
})

describe("certificate field (§6.1): u16 len ‖ DER of 1..2,048 bytes", () => {
  // RTT and ACCEPT both take 1,283 bytes besides the certificate.
  const rtt = (declared: number, der: string) =>
    `02${u16(1283 + der.length / 2)}${alice}${u16(declared)}${der}${h("11", 64)}${h("88", 1184)}`
  const accept = (declared: number, der: string) =>
    `03${u16(1283 + der.length / 2)}${bob}${u16(declared)}${der}${h("33", 64)}${h("99", 1088)}${h("55", 64)}${h("66", 32)}`

  it("accepts 1 and 2,048 bytes, rejects 0 and 2,049 as BadPayload", () => {
    for (const build of [rtt, accept]) {
      for (const length of [1, 2048]) {
        const [message] = serverOk(build(length, h("30", length)))
        expect(message?.type === "Rtt" || message?.type === "Accept").toBe(true)
        if (message?.type === "Rtt" || message?.type === "Accept")
          expect(message.certificate.length).toBe(length)
      }
      expect(server(build(0, ""))).toBe("BadPayload")
      expect(server(build(2049, h("30", 2049)))).toBe("BadPayload")
    }
  })

  it("rejects a length that disagrees with the bytes that follow", () => {
    for (const build of [rtt, accept]) {
      expect(server(build(6, "3003020101"))).toBe("BadPayload")
      expect(server(build(4, "3003020101"))).toBe("TrailingBytes")
      expect(server(build(0xffff, "3003020101"))).toBe("BadPayload")
    }
  })

  it("refuses to encode an empty or oversized certificate", () => {
    const base = {
      from: "alice",
      nonce: fill(32, 1),
      ephemeralKey: fill(32, 2),
      kemKey: fill(1184, 3),
    }
    for (const length of [0, 2049]) {
      expect(() => encodeServerMessage({ ...base, type: "Rtt", certificate: fill(length, 0x30) })).toThrow(
        RangeError,
      )
    }
    const largest = encodeServerMessage({ ...base, type: "Rtt", certificate: fill(2048, 0x30) })
    expect(largest.length).toBe(3 + 1283 + 2048)
    expect(() =>
      encodeServerMessage({ ...base, type: "Rtt", certificate: fill(5, 0), kemKey: fill(32, 0) }),
    ).toThrow(RangeError)
  })
})
