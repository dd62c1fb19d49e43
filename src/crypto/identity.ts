/**
 * Long-term Ed25519 identity keys for users and servers, and their PEM files (encrypted PKCS#8 for
 * private keys, SPKI for public keys). Pure: no file I/O (callers read and write the strings),
 * randomness injected. Never puts seeds, secret keys or passphrases in errors or logs, and never
 * accepts an unencrypted private key file.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto"
import { Data, Result } from "effect"
import { bytesEqual, ED25519_SEED_BYTES, ed25519FromSeed, type Random, wipe } from "./primitives.ts"
import { SecretBytes } from "./secret.ts"

export interface IdentityKeyPair {
  /** 32 raw bytes (RFC 8032). */
  readonly publicKey: Uint8Array
  /** The 32-byte seed: the RFC 8032 private key, and what the key file stores. */
  readonly seed: SecretBytes
  /** libsodium's 64-byte form (seed ‖ public key), for `ed25519Sign`. */
  readonly secretKey: SecretBytes
}

export type KeyFileErrorReason = "WrongPassphrase" | "Malformed" | "NotEd25519" | "Unencrypted"

const sentences: Record<KeyFileErrorReason, string> = {
  WrongPassphrase: "The passphrase does not unlock this private key.",
  Malformed: "The key file is not a valid PEM-encoded PKCS#8 or SPKI key.",
  NotEd25519: "The key file holds a key that is not Ed25519.",
  Unencrypted:
    "The private key file is not encrypted; onechat only accepts passphrase-encrypted private keys.",
}

/** A key file that cannot be used. Carries no key bytes and no passphrase. */
export class KeyFileError extends Data.TaggedError("KeyFileError")<{ readonly reason: KeyFileErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/** Key files are small; anything larger is refused before parsing. */
export const MAX_PEM_CHARS = 16 * 1024

// Fixed DER prefixes of RFC 8410 Ed25519 keys: PKCS#8 v1 (then the 32-byte seed) and SPKI (then the
// 32-byte public key). Building/reading these avoids JWK, whose base64url strings cannot be wiped.
const PKCS8_ED25519_PREFIX = Uint8Array.from(Buffer.from("302e020100300506032b657004220420", "hex"))
const SPKI_ED25519_PREFIX = Uint8Array.from(Buffer.from("302a300506032b6570032100", "hex"))

/** A fresh identity from 32 bytes of `random`. */
export const generateIdentity = (random: Random): IdentityKeyPair => {
  const seed = random(ED25519_SEED_BYTES)
  const identity = identityFromSeed(seed)
  wipe(seed)
  return identity
}

/** The identity whose RFC 8032 private key is `seed` (copied; the caller keeps ownership). */
export const identityFromSeed = (seed: Uint8Array): IdentityKeyPair => {
  if (seed.length !== ED25519_SEED_BYTES) {
    throw new RangeError(`An Ed25519 seed is ${ED25519_SEED_BYTES} bytes, got ${seed.length}`)
  }
  const { publicKey, secretKey } = ed25519FromSeed(seed)
  return { publicKey, seed: SecretBytes.copyOf(seed), secretKey: new SecretBytes(secretKey) }
}

/**
 * The private key as a passphrase-encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY", PBES2 with
 * AES-256-CBC). Throws `RangeError` for an empty passphrase: storing a key unprotected is a bug.
 */
export const exportEncryptedPrivateKeyPem = (key: IdentityKeyPair, passphrase: string): string => {
  if (passphrase.length === 0) {
    throw new RangeError("A private key must be exported with a non-empty passphrase")
  }
  const keyObject = ed25519PrivateKeyObject(key.seed)
  return keyObject.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }).toString()
}

/**
 * Reads a passphrase-encrypted PKCS#8 PEM written by `exportEncryptedPrivateKeyPem` (or OpenSSL).
 * The file's structure is checked before decryption so that a failed decryption means a wrong
 * passphrase. (CBC has no integrity tag: a file whose *ciphertext* was damaged also reads as
 * "WrongPassphrase"; no tool can tell those apart.)
 */
export const importEncryptedPrivateKeyPem = (
  pem: string,
  passphrase: string,
): Result.Result<IdentityKeyPair, KeyFileError> => {
  const block = decodePem(pem)
  if (block === undefined) return fail("Malformed")
  if (block.label === "PRIVATE KEY") return fail("Unencrypted")
  if (block.label === "RSA PRIVATE KEY" || block.label === "EC PRIVATE KEY") return fail("NotEd25519")
  if (block.label !== "ENCRYPTED PRIVATE KEY") return fail("Malformed")
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
  const fields = readDerSequence(block.der)
  const [algorithm, encrypted] = fields ?? []
  if (fields?.length !== 2 || algorithm?.tag !== 0x30 || encrypted?.tag !== 0x04) return fail("Malformed")
  if (!isWellFormedDer(algorithm.encoded)) return fail("Malformed")
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey({ key: Buffer.from(block.der), format: "der", type: "pkcs8", passphrase })
  } catch (error) {
    return fail(isWrongPassphrase(error) ? "WrongPassphrase" : "Malformed")
  }
  if (keyObject.asymmetricKeyType !== "ed25519") return fail("NotEd25519")
  const pkcs8 = keyObject.export({ type: "pkcs8", format: "der" })
  try {
    const prefix = pkcs8.subarray(0, PKCS8_ED25519_PREFIX.length)
    if (
      pkcs8.length !== PKCS8_ED25519_PREFIX.length + ED25519_SEED_BYTES ||
      !bytesEqual(prefix, PKCS8_ED25519_PREFIX)
    ) {
      return fail("Malformed")
    }
    return Result.succeed(identityFromSeed(pkcs8.subarray(PKCS8_ED25519_PREFIX.length)))
  } finally {
    wipe(pkcs8)
  }
}

/** The public key as an SPKI PEM ("PUBLIC KEY", RFC 8410). */
export const exportPublicKeyPem = (publicKey: Uint8Array): string => {
  if (publicKey.length !== 32) {
    throw new RangeError(`An Ed25519 public key is 32 bytes, got ${publicKey.length}`)
  }
  return derToPemBlock(concat(SPKI_ED25519_PREFIX, publicKey), "PUBLIC KEY")
}

/**
 * Reads an SPKI PEM and returns the raw 32-byte Ed25519 public key. The usual file, exactly the
 * RFC 8410 prefix and 32 key bytes, is read directly (OpenSSL accepts any 32 bytes there, so this
 * changes no verdict); anything else goes through OpenSSL, which tells Malformed from NotEd25519.
 */
export const importPublicKeyPem = (pem: string): Result.Result<Uint8Array, KeyFileError> => {
  const block = decodePem(pem)
  if (block?.label !== "PUBLIC KEY") return fail("Malformed")
  const raw = rawEd25519PublicKey(block.der)
  if (raw !== undefined) return Result.succeed(raw)
  let keyObject: KeyObject
  try {
    keyObject = createPublicKey({ key: Buffer.from(block.der), format: "der", type: "spki" })
  } catch {
    return fail("Malformed")
  }
  if (keyObject.asymmetricKeyType !== "ed25519") return fail("NotEd25519")
  return Result.succeed(keyObjectRawPublicKey(keyObject))
}

/** The 32 key bytes (a copy) when `spki` is exactly an Ed25519 SubjectPublicKeyInfo, else `undefined`. */
export const rawEd25519PublicKey = (spki: Uint8Array): Uint8Array | undefined => {
  if (spki.length !== SPKI_ED25519_PREFIX.length + 32) return undefined
  for (let i = 0; i < SPKI_ED25519_PREFIX.length; i++) {
    if (spki[i] !== SPKI_ED25519_PREFIX[i]) return undefined
  }
  return spki.slice(SPKI_ED25519_PREFIX.length)
}

/** Short, log-friendly fingerprint: SHA-256 of the raw key, first 8 bytes, as "ab12 cd34 ef56 7890". */
export const publicKeyFingerprint = (publicKey: Uint8Array): string => {
  const hex = createHash("sha256").update(publicKey).digest("hex").slice(0, 16)
  return hex.match(/.{4}/g)?.join(" ") ?? hex
}

/** The raw 32-byte Ed25519 public key of a Node `KeyObject` (caller checked the key type). */
export const keyObjectRawPublicKey = (keyObject: KeyObject): Uint8Array => {
  const spki = keyObject.export({ type: "spki", format: "der" })
  return Uint8Array.from(spki.subarray(SPKI_ED25519_PREFIX.length))
}

/**
 * A Node `KeyObject` for the Ed25519 private key with this seed. The temporary PKCS#8 buffer is
 * wiped; the `KeyObject` itself lives in OpenSSL memory until garbage-collected.
 */
export const ed25519PrivateKeyObject = (seed: SecretBytes): KeyObject => {
  const pkcs8 = Buffer.from(concat(PKCS8_ED25519_PREFIX, seed.expose()))
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })
  } finally {
    wipe(pkcs8)
  }
}

/** An Ed25519 private key as PKCS#8 DER, for WebCrypto `importKey("pkcs8", ...)`. Wipe it after use. */
export const ed25519Pkcs8Der = (seed: SecretBytes): Uint8Array => concat(PKCS8_ED25519_PREFIX, seed.expose())

export interface PemBlock {
  readonly label: string
  readonly der: Uint8Array
}

/**
 * The first PEM block of `text` (RFC 7468, lax: text around the block and line breaks anywhere in
 * the base64 are allowed; headers such as "Proc-Type:" are not). `undefined` when there is none.
 */
export const decodePem = (text: string): PemBlock | undefined => {
  if (text.length > MAX_PEM_CHARS) return undefined
  const match = /-----BEGIN ([A-Z0-9 ]{1,64})-----([A-Za-z0-9+/=\s]*)-----END \1-----/.exec(text)
  const label = match?.[1]
  const body = match?.[2]?.replace(/\s+/g, "")
  if (label === undefined || body === undefined || body.length === 0) return undefined
  if (body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined
  return { label, der: Uint8Array.from(Buffer.from(body, "base64")) }
}

/** DER bytes as a PEM block with the given label, 64 base64 characters per line. */
export const derToPemBlock = (der: Uint8Array, label: string): string => {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}

export interface DerElement {
  readonly tag: number
  /** The whole element: tag, length and contents. */
  readonly encoded: Uint8Array
}

/**
 * The children of a DER SEQUENCE that spans all of `der`, or `undefined` when `der` is not exactly
 * one well-formed SEQUENCE of well-formed elements (low tag numbers, definite lengths ≤ 2^24).
 */
export const readDerSequence = (der: Uint8Array): ReadonlyArray<DerElement> | undefined => {
  const outer = readDerElement(der, 0, der.length)
  if (outer === undefined || outer.tag !== 0x30 || outer.end !== der.length) return undefined
  return readDerChildren(der, outer.contentStart, outer.end)
}

/** Whether `der` is exactly one element whose constructed parts, at every depth, are well formed. */
const isWellFormedDer = (der: Uint8Array, depth = 0): boolean => {
  const element = readDerElement(der, 0, der.length)
  if (element === undefined || element.end !== der.length || depth > 8) return false
  if ((element.tag & 0x20) === 0) return true
  const children = readDerChildren(der, element.contentStart, element.end)
  return children?.every((child) => isWellFormedDer(child.encoded, depth + 1)) ?? false
}

const readDerChildren = (der: Uint8Array, start: number, end: number): DerElement[] | undefined => {
  const children: DerElement[] = []
  for (let offset = start; offset < end; ) {
    const child = readDerElement(der, offset, end)
    if (child === undefined) return undefined
    children.push({ tag: child.tag, encoded: der.subarray(offset, child.end) })
    offset = child.end
  }
  return children
}

const readDerElement = (
  der: Uint8Array,
  offset: number,
  limit: number,
): { tag: number; contentStart: number; end: number } | undefined => {
  const tag = der[offset]
  const first = der[offset + 1]
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined
  let length = first
  let contentStart = offset + 2
  if (first & 0x80) {
    const count = first & 0x7f
    if (count === 0 || count > 3) return undefined // indefinite or absurd lengths
    length = 0
    for (let i = 0; i < count; i++) {
      const byte = der[contentStart + i]
      if (byte === undefined) return undefined
      length = length * 256 + byte
    }
    contentStart += count
  }
  const end = contentStart + length
  return end <= limit ? { tag, contentStart, end } : undefined
}

/**
 * Once the outer structure is known to be sound, a failure to decrypt or to parse the decrypted
 * PrivateKeyInfo means the wrong key: with a wrong passphrase the CBC padding still checks out
 * about once in 256 tries, and OpenSSL then reports an ASN.1 error for the garbage plaintext.
 */
const isWrongPassphrase = (error: unknown): boolean => {
  if (!(error instanceof Error)) return false
  const code = "code" in error && typeof error.code === "string" ? error.code : ""
  return (
    code === "ERR_OSSL_BAD_DECRYPT" || code.startsWith("ERR_OSSL_ASN1_") || /bad decrypt/i.test(error.message)
  )
}

const fail = (reason: KeyFileErrorReason) => Result.fail(new KeyFileError({ reason }))

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
