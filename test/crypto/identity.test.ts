/**
 * Tests for src/crypto/identity.ts, src/crypto/pbes2.ts and src/crypto/secret.ts: Ed25519
 * identities, their encrypted PKCS#8 (PBES2 + scrypt, and the older PBKDF2 files) and SPKI PEM
 * files, the refusal of every bad file with its own reason, and that no seed or passphrase ever
 * shows up in printed output. Deterministic: seeded Random and fixed fixtures, at the cheapest
 * scrypt cost (2^10); the default cost and other tools' files are tested in pbes2.test.ts.
 */
import { createHash, createPrivateKey, generateKeyPairSync } from "node:crypto"
import { inspect } from "node:util"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decodePem,
  derToPemBlock,
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  generateIdentity,
  type IdentityKeyPair,
  identityFromSeed,
  importEncryptedPrivateKeyPem,
  importPublicKeyPem,
  type KeyFileErrorReason,
  publicKeyFingerprint,
  readEncryptedPrivateKeyPem,
} from "../../src/crypto/identity.ts"
import { ed25519Sign, ed25519Verify, type Random } from "../../src/crypto/primitives.ts"
import { SecretBytes } from "../../src/crypto/secret.ts"

/** SHA-256(label ‖ counter) blocks: reproducible "randomness" for tests only. */
const seededRandom = (label: string): Random => {
  let counter = 0
  return (length) => {
    const out = new Uint8Array(length)
    for (let offset = 0; offset < length; offset += 32) {
      const block = createHash("sha256").update(`${label}/${counter++}`).digest()
      out.set(block.subarray(0, Math.min(32, length - offset)), offset)
    }
    return out
  }
}

const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"))

// RFC 8032 §7.1, TEST 1.
const RFC8032_SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
const RFC8032_PUBLIC = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")

// The RFC 8032 seed, written once by onechat v2's exportEncryptedPrivateKeyPem (Node 24.21, PBES2:
// PBKDF2-HMAC-SHA256 × 2048 + AES-256-CBC) with the passphrase below: the files users have today.
// Fixed, so that the "padding happens to verify" passphrases listed after it stay valid.
const PASSPHRASE = "correct horse battery staple"
const FIXTURE_PEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGjMF8GCSqGSIb3DQEFDTBSMDEGCSqGSIb3DQEFDDAkBBDIdd/ENZMwl+90ammR
9/LzAgIIADAMBggqhkiG9w0CCQUAMB0GCWCGSAFlAwQBKgQQVa94Pcq9npIK0rGW
JTQT3ARAut8KClv9kFarba/T29veTOP9wnL77uvIw6e4fgaKmNiyVwNepgrQ9kfR
yjMUM8QXhq+WmUFomJul02DQioHFrA==
-----END ENCRYPTED PRIVATE KEY-----
`
// Wrong passphrases for which the CBC padding still checks out, so OpenSSL fails later with an
// ASN.1 error instead of "bad decrypt" (found by trying "wrong-0", "wrong-1", ... on the fixture).
const PADDING_ACCIDENTS = ["wrong-342", "wrong-894", "wrong-1083"]

// The RFC 8032 seed, written by this version's exportEncryptedPrivateKeyPem with scrypt N = 2^10
// (the cheapest allowed), seededRandom("scrypt fixture") and PASSPHRASE; `openssl pkey` (3.0.19)
// decrypts it to the RFC 8032 public key. Its own padding accidents follow it.
const SCRYPT_FIXTURE_PEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHOMFoGCSqGSIb3DQEFDTBNMCwGCSsGAQQB2kcECzAfBBBOJaQKL8f3Srs+VD17
TEC0AgIEAAIBCAIBAQIBIDAdBglghkgBZQMEASoEEK6v9w1MSyydjcioycko+uIE
cLMo23OtAvEkif1aVuOaPFfX9KHVtX146q+gffDoXsQRaezE0eRbdvLVL8WhKrWV
aT6uN9MeW3a1ha3yTdQwDPlwCpKKOn0IbvnJLJHK/xCzq8XRbmRY9t54ALhJj9aq
t0+s8njik2Zb49AyFIB/1rA=
-----END ENCRYPTED PRIVATE KEY-----
`
const SCRYPT_PADDING_ACCIDENTS = ["wrong-195", "wrong-384", "wrong-1475"]
const CHEAP = { scryptLogN: 10 } as const

const expectFailure = <A>(
  result: Result.Result<A, { reason: string; message: string }>,
  reason: KeyFileErrorReason,
) => {
  if (!Result.isFailure(result)) throw new Error(`expected ${reason}, but the key file was accepted`)
  expect(result.failure.reason).toBe(reason)
  expect(result.failure.message).toMatch(/^[A-Z][^\n]{15,}\.$/)
  return result.failure
}

const load = (pem: string, passphrase = PASSPHRASE): IdentityKeyPair => {
  const result = importEncryptedPrivateKeyPem(pem, passphrase)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

const message = new TextEncoder().encode("onechat identity test")

describe("identities", () => {
  it("derives the RFC 8032 public key from its seed", () => {
    const key = identityFromSeed(RFC8032_SEED)
    expect(key.publicKey).toEqual(RFC8032_PUBLIC)
    expect(key.seed.expose()).toEqual(RFC8032_SEED)
    expect(key.secretKey.length).toBe(64)
  })

  it("generates from the injected Random, deterministically", () => {
    const one = generateIdentity(seededRandom("identity"))
    const two = generateIdentity(seededRandom("identity"))
    expect(one.publicKey).toEqual(two.publicKey)
    expect(generateIdentity(seededRandom("other")).publicKey).not.toEqual(one.publicKey)
  })

  it("refuses a seed of the wrong length", () => {
    expect(() => identityFromSeed(new Uint8Array(31))).toThrow(RangeError)
  })
})

describe("encrypted private key PEM", () => {
  it("round-trips: the loaded key signs what the original public key verifies", () => {
    const original = generateIdentity(seededRandom("round trip"))
    const pem = exportEncryptedPrivateKeyPem(original, PASSPHRASE, CHEAP)
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/)
    const loaded = load(pem)
    expect(loaded.publicKey).toEqual(original.publicKey)
    expect(ed25519Verify(original.publicKey, message, ed25519Sign(loaded.secretKey.expose(), message))).toBe(
      true,
    )
  })

  it("reads the fixed fixtures: today's scrypt file, and the PBKDF2 files users already have (as weak)", () => {
    expect(load(SCRYPT_FIXTURE_PEM).publicKey).toEqual(RFC8032_PUBLIC)
    const old = readEncryptedPrivateKeyPem(FIXTURE_PEM, PASSPHRASE)
    if (Result.isFailure(old)) throw new Error(old.failure.message)
    expect(old.success.key.publicKey).toEqual(RFC8032_PUBLIC)
    expect(old.success.strong).toBe(false)
    expect(old.success.protection).toEqual({
      kdf: "pbkdf2",
      iterations: 2048,
      prf: "sha256",
      cipher: "aes-256-cbc",
    })
    const cheap = readEncryptedPrivateKeyPem(SCRYPT_FIXTURE_PEM, PASSPHRASE)
    expect(Result.isSuccess(cheap) && cheap.success.strong).toBe(false) // 2^10 is for tests only
  })

  it("writes the same bytes for the same Random (the writer is deterministic given its randomness)", () => {
    const again = exportEncryptedPrivateKeyPem(identityFromSeed(RFC8032_SEED), PASSPHRASE, {
      ...CHEAP,
      random: seededRandom("scrypt fixture"),
    })
    expect(again).toBe(SCRYPT_FIXTURE_PEM)
  })

  it("refuses a scrypt cost outside 2^10..2^17 when writing", () => {
    const key = identityFromSeed(RFC8032_SEED)
    for (const scryptLogN of [9, 18, 12.5]) {
      expect(() => exportEncryptedPrivateKeyPem(key, PASSPHRASE, { scryptLogN })).toThrow(RangeError)
    }
  })

  it("refuses to export with an empty passphrase", () => {
    expect(() => exportEncryptedPrivateKeyPem(identityFromSeed(RFC8032_SEED), "")).toThrow(RangeError)
  })

  it("reports a wrong passphrase as WrongPassphrase", () => {
    const error = expectFailure(importEncryptedPrivateKeyPem(FIXTURE_PEM, "hunter2"), "WrongPassphrase")
    expect(error.message).toBe("The passphrase does not unlock this private key.")
    expectFailure(importEncryptedPrivateKeyPem(FIXTURE_PEM, ""), "WrongPassphrase")
    expectFailure(importEncryptedPrivateKeyPem(SCRYPT_FIXTURE_PEM, "hunter2"), "WrongPassphrase")
    expectFailure(importEncryptedPrivateKeyPem(SCRYPT_FIXTURE_PEM, `${PASSPHRASE} `), "WrongPassphrase")
  })

  it("reports a wrong scrypt passphrase as WrongPassphrase when the padding happens to verify", () => {
    for (const passphrase of SCRYPT_PADDING_ACCIDENTS) {
      expectFailure(importEncryptedPrivateKeyPem(SCRYPT_FIXTURE_PEM, passphrase), "WrongPassphrase")
    }
  })

  it("never accepts a file with one flipped byte, anywhere (the public key stored inside catches the rest)", () => {
    const der = decodePem(SCRYPT_FIXTURE_PEM)?.der ?? new Uint8Array(0)
    const reasons = new Map<string, number>()
    for (let offset = 0; offset < der.length; offset++) {
      const flipped = Uint8Array.from(der)
      flipped[offset] = (flipped[offset] ?? 0) ^ 0x01
      const result = importEncryptedPrivateKeyPem(derToPemBlock(flipped, "ENCRYPTED PRIVATE KEY"), PASSPHRASE)
      if (Result.isSuccess(result)) throw new Error(`a flip at byte ${offset} was accepted`)
      reasons.set(result.failure.reason, (reasons.get(result.failure.reason) ?? 0) + 1)
    }
    // Flips in the ciphertext blocks holding the seed decrypt to a valid structure with another
    // seed: only the stored public key reveals them.
    expect(reasons.get("Damaged") ?? 0).toBeGreaterThanOrEqual(16)
    expect([...reasons.keys()].sort()).toEqual([
      "Damaged",
      "Malformed",
      "NotEd25519", // the IV flips a byte of the algorithm's OID
      "Unsupported",
      "WrongPassphrase",
    ])
  })

  it("reports a wrong passphrase as WrongPassphrase even when the CBC padding happens to verify", () => {
    const der = Buffer.from(decodePem(FIXTURE_PEM)?.der ?? [])
    for (const passphrase of PADDING_ACCIDENTS) {
      // Node itself reports these as ASN.1 errors, not "bad decrypt": the case is really exercised.
      expect(() => createPrivateKey({ key: der, format: "der", type: "pkcs8", passphrase })).toThrow(/asn1/i)
      expectFailure(importEncryptedPrivateKeyPem(FIXTURE_PEM, passphrase), "WrongPassphrase")
    }
  })

  it("reports damaged files as Malformed", () => {
    const der = decodePem(FIXTURE_PEM)?.der ?? new Uint8Array(0)
    const badLength = Uint8Array.from(der)
    badLength[4] = 0x7f // the AlgorithmIdentifier's length (0x5f) now overruns the structure
    const cases = [
      "",
      "not a key at all",
      FIXTURE_PEM.replace("yjMUM8QXhq+WmUFomJul02DQioHFrA==\n", ""), // truncated
      FIXTURE_PEM.replace("MIGjMF8G", "MIGjM!8G"), // not base64
      FIXTURE_PEM.replace("-----END ENCRYPTED PRIVATE KEY-----", "-----END PRIVATE KEY-----"),
      derToPemBlock(badLength, "ENCRYPTED PRIVATE KEY"),
      derToPemBlock(der.subarray(0, der.length - 16), "ENCRYPTED PRIVATE KEY"),
      derToPemBlock(der, "CERTIFICATE"),
      `${FIXTURE_PEM}${" ".repeat(20_000)}`, // oversized
    ]
    for (const pem of cases) expectFailure(importEncryptedPrivateKeyPem(pem, PASSPHRASE), "Malformed")
  })

  it("refuses an unencrypted PKCS#8 file", () => {
    const plain = createPrivateKey({
      key: Buffer.from(decodePem(FIXTURE_PEM)?.der ?? []),
      format: "der",
      type: "pkcs8",
      passphrase: PASSPHRASE,
    })
      .export({ type: "pkcs8", format: "pem" })
      .toString()
    expect(plain).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expectFailure(importEncryptedPrivateKeyPem(plain, PASSPHRASE), "Unencrypted")
  })

  it("refuses RSA and X25519 keys, encrypted or traditional, as NotEd25519", () => {
    const encrypted = { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE } as const
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey
    const x25519 = generateKeyPairSync("x25519").privateKey
    expectFailure(importEncryptedPrivateKeyPem(rsa.export(encrypted).toString(), PASSPHRASE), "NotEd25519")
    expectFailure(importEncryptedPrivateKeyPem(x25519.export(encrypted).toString(), PASSPHRASE), "NotEd25519")
    const pkcs1 = rsa.export({ type: "pkcs1", format: "pem" }).toString()
    expectFailure(importEncryptedPrivateKeyPem(pkcs1, PASSPHRASE), "NotEd25519")
  })
})

describe("public key PEM and fingerprint", () => {
  it("round-trips the raw key through SPKI", () => {
    const pem = exportPublicKeyPem(RFC8032_PUBLIC)
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    const result = importPublicKeyPem(pem)
    expect(Result.isSuccess(result) && result.success).toEqual(RFC8032_PUBLIC)
  })

  it("refuses non-Ed25519 and malformed public keys", () => {
    const x25519 = generateKeyPairSync("x25519").publicKey.export({ type: "spki", format: "pem" }).toString()
    expectFailure(importPublicKeyPem(x25519), "NotEd25519")
    expectFailure(
      importPublicKeyPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
      "Malformed",
    )
    expectFailure(importPublicKeyPem(FIXTURE_PEM), "Malformed")
  })

  it("gives a short grouped hex fingerprint that differs between keys", () => {
    const fingerprint = publicKeyFingerprint(RFC8032_PUBLIC)
    expect(fingerprint).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/)
    expect(fingerprint.replaceAll(" ", "")).toBe(
      createHash("sha256").update(RFC8032_PUBLIC).digest("hex").slice(0, 16),
    )
    expect(publicKeyFingerprint(generateIdentity(seededRandom("fp")).publicKey)).not.toBe(fingerprint)
  })
})

describe("secrets never print", () => {
  const key = identityFromSeed(RFC8032_SEED)
  const forbidden = [
    PASSPHRASE,
    Buffer.from(RFC8032_SEED).toString("hex"),
    Buffer.from(RFC8032_SEED).toString("base64"),
    Buffer.from(RFC8032_SEED).toString("base64url"),
    Array.from(RFC8032_SEED).join(","),
  ]
  const expectClean = (printed: string) => {
    for (const secret of forbidden) expect(printed).not.toContain(secret)
  }

  it("redacts SecretBytes and identities in String, JSON and util.inspect", () => {
    expect(String(key.seed)).toBe("SecretBytes(<redacted>, 32 bytes)")
    expect(`${key.secretKey}`).toBe("SecretBytes(<redacted>, 64 bytes)")
    for (const printed of [
      String(key.seed),
      JSON.stringify(key),
      inspect(key, { depth: 10 }),
      inspect(key.seed),
    ]) {
      expectClean(printed)
    }
    expect(JSON.stringify(key)).toContain("SecretBytes(<redacted>, 32 bytes)")
  })

  it("keeps passphrases and key bytes out of errors", () => {
    const damaged = decodePem(SCRYPT_FIXTURE_PEM)?.der.slice() ?? new Uint8Array(0)
    damaged[120] = (damaged[120] ?? 0) ^ 1 // a ciphertext byte of the seed
    const errors = [
      importEncryptedPrivateKeyPem(FIXTURE_PEM, `${PASSPHRASE}!`),
      importEncryptedPrivateKeyPem(SCRYPT_FIXTURE_PEM, `${PASSPHRASE}!`),
      importEncryptedPrivateKeyPem(derToPemBlock(damaged, "ENCRYPTED PRIVATE KEY"), PASSPHRASE),
      importEncryptedPrivateKeyPem(FIXTURE_PEM.replace("MIGjMF8G", "MIGjM!8G"), PASSPHRASE),
    ].map((result) => (Result.isFailure(result) ? result.failure : undefined))
    for (const error of errors) {
      expect(error).toBeDefined()
      for (const printed of [
        String(error),
        JSON.stringify(error),
        inspect(error, { depth: 10 }),
        error?.message ?? "",
      ]) {
        expectClean(printed)
        expect(printed).not.toContain(`${PASSPHRASE}!`)
      }
    }
  })

  it("wipes SecretBytes in place", () => {
    const bytes = Uint8Array.from(RFC8032_SEED)
    const secret = new SecretBytes(bytes)
    secret.wipe()
    expect(bytes.every((byte) => byte === 0)).toBe(true)
    expect(secret.length).toBe(32)
  })
})
