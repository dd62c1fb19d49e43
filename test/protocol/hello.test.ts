/**
 * Tests of CLIENT_HELLO, SERVER_HELLO and ALERT (docs/protocol.md §3.1, §3.2, §2.4): exact v3
 * layouts with the ML-KEM-768 fields, legacy (v1) and older-version (v2) detection, every
 * truncation, text validation.
 */
import { describe, expect, it } from "vitest"
import {
  CLIENT_HELLO_BYTES,
  clientHelloVersion,
  decodeAlert,
  decodeClientHello,
  decodeServerHello,
  ErrorCode,
  type ErrorCode as ErrorCodeType,
  encodeAlert,
  encodeClientHello,
  encodeServerHello,
  MAX_REASON_TEXT,
  SERVER_HELLO_BYTES,
} from "../../src/protocol/index.ts"
import { ascii, failure, fill, fromHex, hex, ok, reasonOf } from "./helpers.ts"

const nonce = fill(32, 0x11)
const ephemeralKey = fill(32, 0x22)
const kemEncapsulationKey = fill(1184, 0x33)
const kemCiphertext = fill(1088, 0x44)

describe("CLIENT_HELLO", () => {
  const body = encodeClientHello({ nonce, ephemeralKey, kemEncapsulationKey })

  it("has the exact layout 01 'onechat' 03 nonce eph kem_ek (1,257 bytes)", () => {
    expect(CLIENT_HELLO_BYTES).toBe(1257)
    expect(body.length).toBe(CLIENT_HELLO_BYTES)
    expect(hex(body)).toBe(`01${ascii("onechat")}03${"11".repeat(32)}${"22".repeat(32)}${"33".repeat(1184)}`)
    expect(hex(body.subarray(0, 9))).toBe("016f6e656368617403")
  })

  it("round-trips with zero-copy views", () => {
    const hello = ok(decodeClientHello(body))
    expect(hex(hello.nonce)).toBe(hex(nonce))
    expect(hex(hello.ephemeralKey)).toBe(hex(ephemeralKey))
    expect(hex(hello.kemEncapsulationKey)).toBe(hex(kemEncapsulationKey))
    expect(hello.nonce.buffer).toBe(body.buffer)
    expect(hello.kemEncapsulationKey.buffer).toBe(body.buffer)
  })

  it("recognises a v2 client's 73-byte hello as another version, and names it", () => {
    const v2 = fromHex(`01${ascii("onechat")}02${"11".repeat(32)}${"22".repeat(32)}`)
    expect(v2.length).toBe(73)
    expect(reasonOf(decodeClientHello(v2))).toBe("UnsupportedVersion")
    expect(failure(decodeClientHello(v2)).code).toBe(ErrorCode.UnsupportedVersion)
    expect(clientHelloVersion(v2)).toBe(2)
    expect(clientHelloVersion(body)).toBe(3)
    expect(clientHelloVersion(v2.subarray(0, 8))).toBeUndefined()
    expect(clientHelloVersion(fromHex(`00010000${"ab".repeat(80)}`))).toBeUndefined()
  })

  it("recognises a v1 client by its 00 01 00 00 prefix", () => {
    const error = failure(decodeClientHello(fromHex(`00010000${"ab".repeat(300)}`)))
    expect(error.reason).toBe("LegacyClient")
    expect(error.code).toBe(ErrorCode.UnsupportedVersion)
    expect(error.message).toContain("v1")
  })

  it("rejects another protocol as BadMagic", () => {
    const other = Uint8Array.from(body)
    other[3] = 0x45
    expect(failure(decodeClientHello(other)).code).toBe(ErrorCode.UnsupportedVersion)
    expect(reasonOf(decodeClientHello(other))).toBe("BadMagic")
    expect(reasonOf(decodeClientHello(fromHex("17 02 01")))).toBe("BadMagic")
    expect(reasonOf(decodeClientHello(fromHex("00 01 00")))).toBe("BadMagic")
  })

  it("rejects another version as UnsupportedVersion, whatever its length", () => {
    for (const version of [0, 1, 2, 4, 255]) {
      const other = Uint8Array.from(body)
      other[8] = version
      expect(reasonOf(decodeClientHello(other))).toBe("UnsupportedVersion")
      expect(reasonOf(decodeClientHello(other.subarray(0, 9)))).toBe("UnsupportedVersion")
    }
  })

  it("rejects every truncation and any extension as BadLength", () => {
    for (let length = 0; length < body.length; length++) {
      expect(reasonOf(decodeClientHello(body.subarray(0, length)))).toBe("BadLength")
    }
    expect(reasonOf(decodeClientHello(Uint8Array.from([...body, 0])))).toBe("BadLength")
  })

  it("refuses to encode wrong-sized nonces or keys", () => {
    expect(() => encodeClientHello({ nonce: fill(31, 0), ephemeralKey, kemEncapsulationKey })).toThrow(
      RangeError,
    )
    expect(() => encodeClientHello({ nonce, ephemeralKey: fill(33, 0), kemEncapsulationKey })).toThrow(
      RangeError,
    )
    for (const length of [0, 1183, 1185]) {
      expect(() => encodeClientHello({ nonce, ephemeralKey, kemEncapsulationKey: fill(length, 0) })).toThrow(
        RangeError,
      )
    }
  })
})

describe("SERVER_HELLO", () => {
  const body = encodeServerHello({ nonce, ephemeralKey, kemCiphertext })

  it("has the exact layout 02 03 nonce eph kem_ct (1,154 bytes) and round-trips", () => {
    expect(SERVER_HELLO_BYTES).toBe(1154)
    expect(body.length).toBe(SERVER_HELLO_BYTES)
    expect(hex(body)).toBe(`0203${"11".repeat(32)}${"22".repeat(32)}${"44".repeat(1088)}`)
    const hello = ok(decodeServerHello(body))
    expect(hex(hello.nonce)).toBe(hex(nonce))
    expect(hex(hello.ephemeralKey)).toBe(hex(ephemeralKey))
    expect(hex(hello.kemCiphertext)).toBe(hex(kemCiphertext))
  })

  it("refuses to encode a ciphertext of the wrong size", () => {
    for (const length of [0, 1087, 1089]) {
      expect(() => encodeServerHello({ nonce, ephemeralKey, kemCiphertext: fill(length, 0) })).toThrow(
        RangeError,
      )
    }
  })

  it("rejects other frame types, versions and lengths", () => {
    expect(reasonOf(decodeServerHello(fromHex("03 0001 00")))).toBe("UnexpectedFrameType")
    expect(reasonOf(decodeServerHello(fromHex("42")))).toBe("UnknownFrameType")
    expect(reasonOf(decodeServerHello(new Uint8Array(0)))).toBe("EmptyFrame")
    for (const version of [2, 4]) {
      const other = Uint8Array.from(body)
      other[1] = version
      expect(reasonOf(decodeServerHello(other))).toBe("UnsupportedVersion")
    }
    expect(reasonOf(decodeServerHello(fromHex(`0202${"11".repeat(64)}`)))).toBe("UnsupportedVersion")
    for (let length = 1; length < body.length; length++) {
      expect(reasonOf(decodeServerHello(body.subarray(0, length)))).toBe("BadLength")
    }
    expect(reasonOf(decodeServerHello(Uint8Array.from([...body, 0])))).toBe("BadLength")
  })
})

describe("ALERT", () => {
  it("has the exact layout 03 u16 code u8 len text and round-trips", () => {
    const body = encodeAlert({ code: ErrorCode.ServerBusy, text: "Busy." })
    expect(hex(body)).toBe(`03000e05${ascii("Busy.")}`)
    expect(ok(decodeAlert(body))).toEqual({ code: ErrorCode.ServerBusy, text: "Busy." })
    expect(ok(decodeAlert(encodeAlert({ code: ErrorCode.Timeout, text: "" })))).toEqual({
      code: ErrorCode.Timeout,
      text: "",
    })
  })

  it("encodes any text as valid: non-printables replaced, cut to 200", () => {
    const body = encodeAlert({ code: ErrorCode.Internal, text: `bad\u001b[31m\u00e9\n${"x".repeat(300)}` })
    const alert = ok(decodeAlert(body))
    expect(alert.text.length).toBe(MAX_REASON_TEXT)
    expect(alert.text.startsWith("bad?[31m??xxx")).toBe(true)
    expect(() => encodeAlert({ code: 99 as ErrorCodeType, text: "" })).toThrow(RangeError)
  })

  it("rejects non-printable or too long text as BadText", () => {
    expect(reasonOf(decodeAlert(fromHex("03 0001 02 41 07")))).toBe("BadText")
    expect(reasonOf(decodeAlert(fromHex("03 0001 01 7f")))).toBe("BadText")
    expect(reasonOf(decodeAlert(fromHex("03 0001 01 c3")))).toBe("BadText")
    expect(reasonOf(decodeAlert(Uint8Array.from([3, 0, 1, 201, ...fill(201, 0x41)])))).toBe("BadText")
    ok(decodeAlert(Uint8Array.from([3, 0, 1, 200, ...fill(200, 0x41)])))
  })

  it("rejects bad lengths, unknown codes and other frame types", () => {
    const body = encodeAlert({ code: ErrorCode.RateLimited, text: "Slow down." })
    for (let length = 1; length < body.length; length++) {
      expect(reasonOf(decodeAlert(body.subarray(0, length)))).toBe("BadLength")
    }
    expect(reasonOf(decodeAlert(Uint8Array.from([...body, 0x41])))).toBe("BadLength")
    expect(reasonOf(decodeAlert(fromHex("03 0063 00")))).toBe("BadPayload")
    expect(reasonOf(decodeAlert(fromHex("03 0000 00")))).toBe("BadPayload")
    expect(reasonOf(decodeAlert(fromHex("02 0001 00")))).toBe("UnexpectedFrameType")
  })
})
