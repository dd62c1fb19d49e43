/**
 * HMAC/HKDF keys as KeyObjects (docs/performance.md #7): hmacSha256 and hkdfExpand give the same
 * bytes for a raw key and for a reused `createSecretKey` KeyObject (RFC 5869 vectors), and the login
 * key schedule still matches an independent HKDF (node:crypto's hkdfSync) label by label.
 */
import { createHmac, createSecretKey, hkdfSync } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  deriveApplicationKeys,
  deriveHandshakeSecrets,
  expandDirectionKeys,
  finishedMac,
} from "../../src/crypto/key-schedule.ts"
import { hkdfExpand, hkdfExtract, hmacSha256 } from "../../src/crypto/primitives.ts"
import { SecretBytes } from "../../src/crypto/secret.ts"
import { seededRandom } from "../../testkit/random.ts"

interface HkdfVector {
  readonly id: string
  readonly ikm: string
  readonly salt: string
  readonly info: string
  readonly length: number
  readonly prk: string
  readonly okm: string
}

const vectors = (
  JSON.parse(readFileSync(new URL("../vectors/hkdf-sha256-rfc5869.json", import.meta.url), "utf8")) as {
    readonly tests: ReadonlyArray<HkdfVector>
  }
).tests
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"))
const hex = (value: Uint8Array) => Buffer.from(value).toString("hex")
const ascii = (text: string) => new Uint8Array(Buffer.from(text, "ascii"))
const random = seededRandom("hmac-keyobject")

describe("hmacSha256 / hkdfExpand with a KeyObject", () => {
  it("has the RFC 5869 vectors to check", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3)
  })

  it.each(vectors)("$id: the same OKM from a raw PRK and from one KeyObject reused", (v) => {
    const prk = hkdfExtract(bytes(v.salt), bytes(v.ikm))
    expect(hex(prk)).toBe(v.prk)
    const key = createSecretKey(prk)
    expect(hex(hkdfExpand(key, bytes(v.info), v.length))).toBe(v.okm)
    expect(hex(hkdfExpand(prk, bytes(v.info), v.length))).toBe(v.okm)
    // Reused for a second expansion: still the same bytes as from raw.
    expect(hex(hkdfExpand(key, ascii("again"), 80))).toBe(hex(hkdfExpand(prk, ascii("again"), 80)))
  })

  it("matches createHmac with the raw key for every key length, empty included", () => {
    for (const length of [0, 1, 31, 32, 33, 64, 65, 200]) {
      const key = random(length)
      const parts = [random(5), new Uint8Array(0), random(100)]
      const expected = createHmac("sha256", key)
      for (const part of parts) expected.update(part)
      const digest = hex(expected.digest())
      expect(hex(hmacSha256(key, ...parts))).toBe(digest)
      expect(hex(hmacSha256(createSecretKey(key), ...parts))).toBe(digest)
    }
  })

  it("does not depend on the caller's buffer after the KeyObject is made", () => {
    const prk = random(32)
    const key = createSecretKey(prk)
    const before = hex(hkdfExpand(key, ascii("label"), 32))
    prk.fill(0)
    expect(hex(hkdfExpand(key, ascii("label"), 32))).toBe(before)
  })
})

describe("the login key schedule", () => {
  const hkdf = (ikm: Uint8Array, salt: Uint8Array, label: string, length: number) =>
    hex(new Uint8Array(hkdfSync("sha256", ikm, salt, ascii(label), length)))

  it("derives every handshake and application key as HKDF(salt = TH, label) says (§4.2, §4.3)", () => {
    const mlkem = random(32)
    const dh = random(32)
    const shared = Buffer.concat([mlkem, dh]) // §4.2: IKM = ss_mlkem ‖ dh
    const helloHash = random(32)
    const finalHash = random(32)
    const secrets = deriveHandshakeSecrets({ mlkem, x25519: dh }, helloHash)
    const hs = secrets.handshakeSecret.expose()
    expect(hex(hs)).toBe(hex(hkdfExtract(helloHash, shared)))
    const handshake = [
      [secrets.clientToServer.key, "onechat v3 c hs key", 32],
      [secrets.clientToServer.iv, "onechat v3 c hs iv", 12],
      [secrets.serverToClient.key, "onechat v3 s hs key", 32],
      [secrets.serverToClient.iv, "onechat v3 s hs iv", 12],
      [secrets.clientFinishedKey, "onechat v3 c finished", 32],
      [secrets.serverFinishedKey, "onechat v3 s finished", 32],
    ] as const
    for (const [secret, label, length] of handshake) {
      expect([label, hex(secret.expose())]).toEqual([label, hkdf(shared, helloHash, label, length)])
    }
    const mac = finishedMac(secrets.serverFinishedKey, finalHash)
    expect(hex(mac)).toBe(
      createHmac("sha256", secrets.serverFinishedKey.expose()).update(finalHash).digest("hex"),
    )
    const application = deriveApplicationKeys(new SecretBytes(Uint8Array.from(hs)), finalHash)
    const applicationKeys = [
      [application.clientToServer.key, "onechat v3 c ap key", 32],
      [application.clientToServer.iv, "onechat v3 c ap iv", 12],
      [application.serverToClient.key, "onechat v3 s ap key", 32],
      [application.serverToClient.iv, "onechat v3 s ap iv", 12],
    ] as const
    for (const [secret, label, length] of applicationKeys) {
      expect([label, hex(secret.expose())]).toEqual([label, hkdf(hs, finalHash, label, length)])
    }
  })

  it("expands direction keys the same from raw bytes, a KeyObject, string or byte labels", () => {
    const prk = random(32)
    const fromRaw = expandDirectionKeys(prk, "k", "i")
    const fromKey = expandDirectionKeys(createSecretKey(prk), ascii("k"), ascii("i"))
    expect(hex(fromKey.key.expose())).toBe(hex(fromRaw.key.expose()))
    expect(hex(fromKey.iv.expose())).toBe(hex(fromRaw.iv.expose()))
  })
})
