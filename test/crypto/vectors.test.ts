/**
 * Known-answer tests for src/crypto/primitives.ts, driven by the published vectors in test/vectors/
 * (RFC 7748, RFC 8032, RFC 5869, RFC 8439 and a Wycheproof subset; provenance in its README.md).
 * Valid vectors must reproduce the published bytes exactly; invalid, low-order and tampered inputs
 * must be rejected. Only reads the vector files; docs/protocol.md §4–§9 build on these primitives.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  aeadOpen,
  aeadSeal,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  hkdfExpand,
  hkdfExtract,
  x25519,
  x25519PublicKey,
} from "../../src/crypto/primitives.ts"

// ── decoding: JSON (unknown) → typed vectors, failing loudly on any malformed field ──────────────

type Fields = Readonly<Record<string, unknown>>

const fields = (value: unknown, where: string): Fields => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: expected an object`)
  }
  return value as Fields
}

const list = (value: unknown, where: string): ReadonlyArray<unknown> => {
  if (!Array.isArray(value)) throw new TypeError(`${where}: expected an array`)
  return value
}

const text = (o: Fields, key: string, where: string): string => {
  const value = o[key]
  if (typeof value !== "string") throw new TypeError(`${where}.${key}: expected a string`)
  return value
}

const integer = (o: Fields, key: string, where: string): number => {
  const value = o[key]
  if (!Number.isSafeInteger(value)) throw new TypeError(`${where}.${key}: expected an integer`)
  return value as number
}

/** Lower-case hex of exactly `length` bytes when `length` is given. */
const hex = (o: Fields, key: string, where: string, length?: number): Uint8Array => {
  const value = text(o, key, where)
  if (!/^(?:[0-9a-f]{2})*$/.test(value)) throw new TypeError(`${where}.${key}: not lower-case hex`)
  const bytes = new Uint8Array(Buffer.from(value, "hex"))
  if (length !== undefined && bytes.length !== length) {
    throw new TypeError(`${where}.${key}: ${bytes.length} bytes, expected ${length}`)
  }
  return bytes
}

const load = (file: string): Fields =>
  fields(JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), "utf8")), file)

const eachOf = <T>(o: Fields, key: string, where: string, decode: (v: Fields, at: string) => T): T[] =>
  list(o[key], `${where}.${key}`).map((v, i) => {
    const at = `${where}.${key}[${i}]`
    return decode(fields(v, at), at)
  })

// ── byte helpers ─────────────────────────────────────────────────────────────────────────────────

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => new Uint8Array(Buffer.concat([a, b]))

/** A copy of `bytes` with `mask` xored into the byte at `index`. */
const xorAt = (bytes: Uint8Array, index: number, mask: number): Uint8Array => {
  const copy = bytes.slice()
  const byte = copy.at(index)
  if (byte === undefined) throw new RangeError(`index ${index} outside ${copy.length} bytes`)
  copy.set([byte ^ mask], index)
  return copy
}
const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => xorAt(bytes, bit >> 3, 1 << (bit & 7))
const bitsOf = (bytes: Uint8Array): number[] => Array.from({ length: bytes.length * 8 }, (_, bit) => bit)

// ── X25519 (RFC 7748) ────────────────────────────────────────────────────────────────────────────

describe("X25519: RFC 7748 and low-order points", () => {
  const file = load("x25519-rfc7748.json")
  const where = "x25519-rfc7748.json"
  const multiplications = eachOf(file, "scalarMultiplication", where, (v, at) => ({
    id: text(v, "id", at),
    scalar: hex(v, "scalar", at, 32),
    u: hex(v, "u", at, 32),
    output: hex(v, "output", at, 32),
  }))
  const iterated = fields(file.iterated, `${where}.iterated`)
  const start = hex(iterated, "start", `${where}.iterated`, 32)
  const checkpoints = eachOf(iterated, "results", `${where}.iterated`, (v, at) => ({
    iterations: integer(v, "iterations", at),
    k: hex(v, "k", at, 32),
  }))
  const dh = fields(file.diffieHellman, `${where}.diffieHellman`)
  const key = (name: string) => hex(dh, name, `${where}.diffieHellman`, 32)
  const lowOrder = eachOf(file, "lowOrder", where, (v, at) => ({
    name: `${text(v, "id", at)} (${text(v, "comment", at)})`,
    u: hex(v, "u", at, 32),
  }))

  it.each(multiplications)("$id", ({ scalar, u, output }) => {
    expect(toHex(x25519(scalar, u) ?? new Uint8Array())).toBe(toHex(output))
  })

  // The 1,000,000-iteration checkpoint of §5.2 is left out: it takes minutes.
  it("RFC 7748 §5.2 iterated: checkpoints after 1 and 1,000 iterations", () => {
    let k = start
    let u = start
    for (let iteration = 1; iteration <= 1000; iteration++) {
      const next = x25519(k, u)
      if (next === undefined) throw new Error(`iteration ${iteration} hit a low-order point`)
      u = k
      k = next
      const checkpoint = checkpoints.find((c) => c.iterations === iteration)
      if (checkpoint) expect(toHex(k), `after ${iteration} iterations`).toBe(toHex(checkpoint.k))
    }
    expect(checkpoints.map((c) => c.iterations)).toEqual([1, 1000])
  })

  it("RFC 7748 §6.1: Alice and Bob derive the published public keys and the same shared secret", () => {
    expect(toHex(x25519PublicKey(key("alicePrivate")))).toBe(toHex(key("alicePublic")))
    expect(toHex(x25519PublicKey(key("bobPrivate")))).toBe(toHex(key("bobPublic")))
    const shared = toHex(key("shared"))
    expect(toHex(x25519(key("alicePrivate"), key("bobPublic")) ?? new Uint8Array())).toBe(shared)
    expect(toHex(x25519(key("bobPrivate"), key("alicePublic")) ?? new Uint8Array())).toBe(shared)
  })

  it.each(lowOrder)("rejects low-order peer key: $name", ({ u }) => {
    for (const secret of [key("alicePrivate"), key("bobPrivate"), ...multiplications.map((m) => m.scalar)]) {
      expect(x25519(secret, u), `secret ${toHex(secret)}`).toBeUndefined()
    }
  })
})

// ── Ed25519 (RFC 8032) ───────────────────────────────────────────────────────────────────────────

describe("Ed25519: RFC 8032 §7.1", () => {
  const where = "ed25519-rfc8032.json"
  const vectors = eachOf(load(where), "tests", where, (v, at) => ({
    id: text(v, "id", at),
    seed: hex(v, "secretKey", at, 32),
    publicKey: hex(v, "publicKey", at, 32),
    message: hex(v, "message", at),
    signature: hex(v, "signature", at, 64),
  }))

  it.each(vectors)("$id: seed gives the public key and the exact signature, which verifies", (v) => {
    const keys = ed25519FromSeed(v.seed)
    expect(toHex(keys.publicKey)).toBe(toHex(v.publicKey))
    expect(toHex(ed25519Sign(keys.secretKey, v.message))).toBe(toHex(v.signature))
    expect(ed25519Verify(v.publicKey, v.message, v.signature)).toBe(true)
  })

  it.each(vectors)("$id: every changed signature byte is rejected", (v) => {
    for (let index = 0; index < v.signature.length; index++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const forged = xorAt(v.signature, index, mask)
        expect(ed25519Verify(v.publicKey, v.message, forged), `byte ${index} ^ ${mask}`).toBe(false)
      }
    }
  })

  it.each(vectors)("$id: every changed message byte, an extra byte and a lost byte are rejected", (v) => {
    for (let index = 0; index < v.message.length; index++) {
      const tampered = xorAt(v.message, index, 0x01)
      expect(ed25519Verify(v.publicKey, tampered, v.signature), `byte ${index}`).toBe(false)
    }
    expect(ed25519Verify(v.publicKey, concat(v.message, Uint8Array.of(0)), v.signature)).toBe(false)
    if (v.message.length > 0) {
      expect(ed25519Verify(v.publicKey, v.message.subarray(0, -1), v.signature)).toBe(false)
    }
  })

  it.each(vectors)("$id: another vector's public key, a truncated signature or key are rejected", (v) => {
    for (const other of vectors.filter((o) => o.id !== v.id)) {
      expect(ed25519Verify(other.publicKey, v.message, v.signature), other.id).toBe(false)
    }
    expect(ed25519Verify(v.publicKey, v.message, v.signature.subarray(0, 63))).toBe(false)
    expect(ed25519Verify(v.publicKey.subarray(0, 31), v.message, v.signature)).toBe(false)
  })
})

// ── HKDF-SHA256 (RFC 5869) ───────────────────────────────────────────────────────────────────────

describe("HKDF-SHA256: RFC 5869 Appendix A", () => {
  const where = "hkdf-sha256-rfc5869.json"
  const vectors = eachOf(load(where), "tests", where, (v, at) => ({
    id: text(v, "id", at),
    ikm: hex(v, "ikm", at),
    salt: hex(v, "salt", at),
    info: hex(v, "info", at),
    length: integer(v, "length", at),
    prk: hex(v, "prk", at, 32),
    okm: hex(v, "okm", at),
  }))

  it.each(vectors)("$id: Extract gives the PRK and Expand the OKM", (v) => {
    expect(toHex(hkdfExtract(v.salt, v.ikm))).toBe(toHex(v.prk))
    expect(v.okm.length).toBe(v.length)
    expect(toHex(hkdfExpand(v.prk, v.info, v.length))).toBe(toHex(v.okm))
  })
})

// ── ChaCha20-Poly1305-IETF (RFC 8439, Wycheproof) ────────────────────────────────────────────────

interface AeadVector {
  readonly name: string
  readonly key: Uint8Array
  readonly nonce: Uint8Array
  readonly aad: Uint8Array
  readonly plaintext: Uint8Array
  readonly ciphertext: Uint8Array
  readonly tag: Uint8Array
}

const expectSealAndOpen = (v: AeadVector): void => {
  const sealed = concat(v.ciphertext, v.tag)
  expect(toHex(aeadSeal(v.key, v.nonce, v.aad, v.plaintext))).toBe(toHex(sealed))
  expect(toHex(aeadOpen(v.key, v.nonce, v.aad, sealed) ?? Uint8Array.of(0xde, 0xad))).toBe(toHex(v.plaintext))
}

describe("ChaCha20-Poly1305-IETF: RFC 8439 §2.8.2 and A.5", () => {
  const where = "chacha20poly1305-rfc8439.json"
  const vectors: AeadVector[] = eachOf(load(where), "tests", where, (v, at) => ({
    name: text(v, "id", at),
    key: hex(v, "key", at, 32),
    nonce: hex(v, "nonce", at, 12),
    aad: hex(v, "aad", at),
    plaintext: hex(v, "plaintext", at),
    ciphertext: hex(v, "ciphertext", at),
    tag: hex(v, "tag", at, 16),
  }))

  it.each(vectors)("$name: seal gives ciphertext ‖ tag, open gives the plaintext", expectSealAndOpen)

  it.each(vectors)("$name: every single-bit flip of ciphertext ‖ tag is rejected", (v) => {
    const sealed = concat(v.ciphertext, v.tag)
    for (const bit of bitsOf(sealed)) {
      expect(aeadOpen(v.key, v.nonce, v.aad, flipBit(sealed, bit)), `bit ${bit}`).toBeUndefined()
    }
  })

  it.each(vectors)("$name: every single-bit flip of the AAD or the nonce is rejected", (v) => {
    const sealed = concat(v.ciphertext, v.tag)
    for (const bit of bitsOf(v.aad)) {
      expect(aeadOpen(v.key, v.nonce, flipBit(v.aad, bit), sealed), `AAD bit ${bit}`).toBeUndefined()
    }
    for (const bit of bitsOf(v.nonce)) {
      expect(aeadOpen(v.key, flipBit(v.nonce, bit), v.aad, sealed), `nonce bit ${bit}`).toBeUndefined()
    }
  })

  it.each(vectors)("$name: every truncation and an appended byte are rejected", (v) => {
    const sealed = concat(v.ciphertext, v.tag)
    for (let length = 0; length < sealed.length; length++) {
      expect(aeadOpen(v.key, v.nonce, v.aad, sealed.subarray(0, length)), `length ${length}`).toBeUndefined()
    }
    expect(aeadOpen(v.key, v.nonce, v.aad, concat(sealed, Uint8Array.of(0)))).toBeUndefined()
  })
})

describe("ChaCha20-Poly1305-IETF: Wycheproof chacha20_poly1305_test.json (12-byte nonces)", () => {
  const where = "chacha20poly1305-wycheproof.json"
  const file = load(where)
  const cases = eachOf(file, "tests", where, (v, at) => {
    const tcId = integer(v, "tcId", at)
    const comment = text(v, "comment", at)
    const flags = list(v.flags, `${at}.flags`).map((flag) => String(flag))
    const result = text(v, "result", at)
    if (result !== "valid" && result !== "invalid") throw new TypeError(`${at}.result: ${result}`)
    const vector: AeadVector = {
      name: `Wycheproof tcId ${tcId} [${flags.join(", ")}]${comment === "" ? "" : ` ${comment}`}`,
      key: hex(v, "key", at, 32),
      nonce: hex(v, "iv", at, 12),
      aad: hex(v, "aad", at),
      plaintext: hex(v, "msg", at),
      ciphertext: hex(v, "ct", at),
      tag: hex(v, "tag", at, 16),
    }
    const expectedTag = /expected tag:([0-9a-f]{32})$/.exec(comment)?.[1]
    return { ...vector, result, expectedTag }
  })
  const valid = cases.filter((c) => c.result === "valid")
  const invalid = cases.filter((c) => c.result === "invalid")

  it("keeps at least 40 cases, valid and invalid, and says how many", () => {
    expect(integer(file, "numberOfTests", where)).toBe(cases.length)
    expect(cases.length).toBeGreaterThanOrEqual(40)
    expect(valid.length).toBeGreaterThan(0)
    expect(invalid.length).toBeGreaterThan(0)
  })

  it.each(valid)("$name: seal and open reproduce the vector", expectSealAndOpen)

  it.each(invalid)("$name: open rejects it", (c) => {
    expect(aeadOpen(c.key, c.nonce, c.aad, concat(c.ciphertext, c.tag))).toBeUndefined()
  })

  // Proves each invalid case differs from a valid encryption only where its comment says.
  it.each(invalid.filter((c) => c.expectedTag !== undefined))("$name: the unmodified tag opens", (c) => {
    const tag = new Uint8Array(Buffer.from(c.expectedTag ?? "", "hex"))
    expectSealAndOpen({ ...c, tag })
  })
})
