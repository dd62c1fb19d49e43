/**
 * The ratchet's hand-written HMAC-SHA256 / HKDF-SHA256 (src/crypto/ratchet-kdf.ts) against the RFC 5869
 * vectors (test/vectors/) and against node:crypto (createHmac, hkdfSync) for every key length 0..64
 * and message lengths up to the 96-byte bound, split into one to three parts. docs/protocol.md §8.3.
 */
import { createHmac, hkdfSync } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { hkdfExpand } from "../../src/crypto/primitives.ts"
import {
  deriveMessageAead,
  hkdf32,
  hmacInto,
  kdfChain,
  kdfRoot,
  wipeMessageAead,
} from "../../src/crypto/ratchet-kdf.ts"
import { seededRandom } from "../../testkit/random.ts"

interface HkdfVector {
  readonly id: string
  readonly ikm: string
  readonly salt: string
  readonly info: string
  readonly okm: string
}

const vectors = (
  JSON.parse(readFileSync(new URL("../vectors/hkdf-sha256-rfc5869.json", import.meta.url), "utf8")) as {
    readonly tests: ReadonlyArray<HkdfVector>
  }
).tests
const vector = (id: string) => vectors.find((test) => test.id.endsWith(id))!
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"))
const hex = (value: Uint8Array) => Buffer.from(value).toString("hex")
const nodeHmac = (key: Uint8Array, message: Uint8Array) =>
  hex(createHmac("sha256", key).update(message).digest())
const random = seededRandom("ratchet-kdf")

describe("ratchet KDF (hand-written HMAC / HKDF over libsodium SHA-256)", () => {
  it("KDF_RK is HKDF with salt = root key: RFC 5869 A.1 (the 42-byte OKM is a prefix of its 64 bytes)", () => {
    const test = vector("Test Case 1")
    const [first, second] = kdfRoot(bytes(test.salt), bytes(test.ikm), bytes(test.info))
    expect(hex(new Uint8Array([...first, ...second])).slice(0, test.okm.length)).toBe(test.okm)
  })

  it("the initial chain is HKDF with a zero salt: RFC 5869 A.3 (empty salt and info)", () => {
    const test = vector("Test Case 3")
    expect(hex(hkdf32(bytes(test.ikm), new Uint8Array(0)))).toBe(test.okm.slice(0, 64))
  })

  it("hmacInto equals createHmac for keys of 0..64 bytes and messages of up to 96 bytes in parts", () => {
    const out = new Uint8Array(32)
    for (let keyLength = 0; keyLength <= 64; keyLength++) {
      const key = random(keyLength)
      const message = random(keyLength + 32)
      const cut1 = keyLength % (message.length + 1)
      const cut2 = Math.min(message.length, cut1 + 7)
      hmacInto(out, key, message.subarray(0, cut1), message.subarray(cut1, cut2), message.subarray(cut2))
      expect(hex(out), `key ${keyLength}`).toBe(nodeHmac(key, message))
    }
  })

  it("KDF_CK gives (HMAC(ck, 0x02), HMAC(ck, 0x01))", () => {
    const chainKey = random(32)
    const [next, messageKey] = kdfChain(chainKey)
    expect(hex(next)).toBe(nodeHmac(chainKey, Uint8Array.of(2)))
    expect(hex(messageKey)).toBe(nodeHmac(chainKey, Uint8Array.of(1)))
  })

  it("KDF_RK and the message keys equal node:crypto's HKDF byte for byte", () => {
    const info = new Uint8Array(Buffer.from("onechat v3 ratchet root"))
    for (let i = 0; i < 20; i++) {
      const [rootKey, dh] = [random(32), random(32)]
      const [first, second] = kdfRoot(rootKey, dh, info)
      expect(hex(new Uint8Array([...first, ...second]))).toBe(
        hex(new Uint8Array(hkdfSync("sha256", dh, rootKey, info, 64))),
      )
      const messageInfo = new Uint8Array(Buffer.from("onechat v3 ratchet message"))
      const aead = deriveMessageAead(first, messageInfo)
      expect(hex(aead.key) + hex(aead.nonce)).toBe(hex(hkdfExpand(first, messageInfo, 44)))
      wipeMessageAead()
      expect(aead.key.every((byte) => byte === 0) && aead.nonce.every((byte) => byte === 0)).toBe(true)
    }
  })

  it("refuses a key longer than a block or a message longer than its bound (a defect, not input)", () => {
    const out = new Uint8Array(32)
    expect(() => hmacInto(out, new Uint8Array(65), new Uint8Array(1))).toThrow(RangeError)
    expect(() => hmacInto(out, new Uint8Array(32), new Uint8Array(97))).toThrow(RangeError)
  })
})
