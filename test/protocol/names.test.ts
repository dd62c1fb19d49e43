/**
 * Tests of user names and the 33-byte name field `u8 len ‖ ASCII ‖ zero fill` (docs/protocol.md
 * §2.3): expected bytes are written by hand from the spec, never taken from the encoder.
 */
import { describe, expect, it } from "vitest"
import {
  decodeName,
  encodedNameLength,
  encodeName,
  isValidUserName,
  isValidUserNameBytes,
  MAX_NAME_BYTES,
  writeName,
} from "../../src/protocol/index.ts"
import { ascii, fromHex, h, hex, nameHex, ok, reasonOf } from "./helpers.ts"

const valid = ["a", "0", "alice", "bob_2", "x-y", "a".repeat(MAX_NAME_BYTES), "9lives"]
const invalid = [
  "",
  "Alice",
  "a/b",
  "../x",
  "a".repeat(33),
  "_a",
  "-a",
  "a b",
  "a.b",
  "é",
  "a\n",
  "a\\b",
  "bob\u0000",
]

describe("user names", () => {
  it("accepts exactly the names of §2.3", () => {
    for (const name of valid) expect(isValidUserName(name)).toBe(true)
    for (const name of invalid) expect(isValidUserName(name)).toBe(false)
  })

  it("checks raw bytes the same way as strings", () => {
    for (const name of [...valid, ...invalid]) {
      expect(isValidUserNameBytes(Buffer.from(name, "utf8"))).toBe(isValidUserName(name))
    }
  })

  it("encodes u8 len ‖ ASCII ‖ zero fill, always 33 bytes, and decodes it back", () => {
    // 1 length byte + 3 name bytes + 29 zero bytes = 33.
    expect(hex(encodeName("bob"))).toBe(`03626f62${h("00", 29)}`)
    expect(hex(encodeName("a"))).toBe(`0161${h("00", 31)}`)
    expect(hex(encodeName("a".repeat(32)))).toBe(`20${h("61", 32)}`)
    for (const name of valid) expect(encodedNameLength(name)).toBe(33)
    // The fill is written, not left over from the target's old contents.
    const target = new Uint8Array(35).fill(0xee)
    expect(writeName(target, 1, "bob")).toBe(34)
    expect(hex(target)).toBe(`ee03626f62${h("00", 29)}ee`)
    expect(ok(decodeName(fromHex(`ff03626f62${h("00", 29)}ff`), 1, 34))).toEqual({ name: "bob", next: 34 })
    for (const name of valid) expect(ok(decodeName(encodeName(name)))).toEqual({ name, next: 33 })
  })

  it("rejects invalid names on both sides", () => {
    for (const name of invalid) {
      expect(() => encodeName(name)).toThrow(RangeError)
      expect(reasonOf(decodeName(fromHex(nameHex(name))))).toBe("BadName")
    }
    expect(reasonOf(decodeName(fromHex("05 616c")))).toBe("BadLength")
    expect(reasonOf(decodeName(new Uint8Array(0)))).toBe("BadLength")
    expect(() => writeName(new Uint8Array(32), 0, "bob")).toThrow(RangeError)
    expect(() => writeName(new Uint8Array(33), 1, "bob")).toThrow(RangeError)
  })

  it("rejects a field shorter than 33 bytes as BadLength, including the v2 form without fill", () => {
    expect(reasonOf(decodeName(fromHex("03 626f62")))).toBe("BadLength")
    expect(reasonOf(decodeName(fromHex(`03626f62${h("00", 28)}`)))).toBe("BadLength")
    expect(reasonOf(decodeName(fromHex(`03626f62${h("00", 29)}`), 0, 32))).toBe("BadLength")
    expect(reasonOf(decodeName(fromHex(`20${h("61", 31)}`)))).toBe("BadLength")
  })

  it("rejects a non-zero fill byte at every position as BadName", () => {
    for (let at = 4; at < 33; at++) {
      for (const value of [0x01, 0x61, 0x80, 0xff]) {
        const field = fromHex(nameHex("bob"))
        field[at] = value
        expect(reasonOf(decodeName(field))).toBe("BadName")
      }
    }
    // A valid longer name cannot hide behind a shorter length byte.
    expect(reasonOf(decodeName(fromHex(`03${ascii("bobby")}${h("00", 27)}`)))).toBe("BadName")
  })
})
