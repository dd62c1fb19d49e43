/**
 * Tests of user names and the name field codec (docs/protocol.md §2.3).
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
import { fromHex, hex, ok, reasonOf } from "./helpers.ts"

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

  it("encodes u8 len ‖ ASCII and decodes it back", () => {
    expect(hex(encodeName("bob"))).toBe("03626f62")
    expect(encodedNameLength("alice")).toBe(6)
    const target = new Uint8Array(6)
    expect(writeName(target, 1, "bob")).toBe(5)
    expect(hex(target)).toBe("0003626f6200")
    expect(ok(decodeName(fromHex("ff 03626f62 ff"), 1, 5))).toEqual({ name: "bob", next: 5 })
  })

  it("rejects invalid names on both sides", () => {
    for (const name of invalid) {
      expect(() => encodeName(name)).toThrow(RangeError)
      const field = Uint8Array.from([name.length, ...Buffer.from(name, "latin1")])
      expect(reasonOf(decodeName(field))).toBe("BadName")
    }
    expect(reasonOf(decodeName(fromHex("05 616c")))).toBe("BadLength")
    expect(reasonOf(decodeName(fromHex("03 626f62"), 0, 3))).toBe("BadLength")
    expect(reasonOf(decodeName(new Uint8Array(0)))).toBe("BadLength")
    expect(() => writeName(new Uint8Array(3), 0, "bob")).toThrow(RangeError)
  })
})
