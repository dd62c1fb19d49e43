/**
 * Long-term Ed25519 identity keys for users and servers, and their PEM files: encrypted PKCS#8
 * (PBES2 with scrypt, ./pbes2.ts) for private keys, SPKI for public keys. Pure: no file I/O
 * (callers read and write the strings; src/store/key-file.ts checks permissions), randomness
 * injected. Never puts seeds, secret keys or passphrases in errors or logs, and never accepts an
 * unencrypted private key file. No docs/protocol.md section: key files never cross the wire.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto"
import { Data, Result } from "effect"
import { decodePem, derToPemBlock } from "./der.ts"
import {
  DEFAULT_SCRYPT_LOG_N,
  decryptPrivateKeyInfo,
  encryptPrivateKeyInfo,
  isStrongProtection,
  type KeyFileProtection,
  readProtection,
} from "./pbes2.ts"
import { ed25519PrivateKeyInfo, ed25519SeedOf } from "./pkcs8-ed25519.ts"
import { ED25519_SEED_BYTES, ed25519FromSeed, type Random, systemRandom, wipe } from "./primitives.ts"
import { SecretBytes } from "./secret.ts"

// The PEM/DER helpers and key-file parameters other modules import from here.
export {
  type DerElement,
  decodePem,
  derToPemBlock,
  MAX_PEM_CHARS,
  type PemBlock,
  readDerSequence,
} from "./der.ts"
export { DEFAULT_SCRYPT_LOG_N, type KeyFileProtection, MIN_SCRYPT_LOG_N } from "./pbes2.ts"

export interface IdentityKeyPair {
  /** 32 raw bytes (RFC 8032). */
  readonly publicKey: Uint8Array
  /** The 32-byte seed: the RFC 8032 private key, and what the key file stores. */
  readonly seed: SecretBytes
  /** libsodium's 64-byte form (seed ‖ public key), for `ed25519Sign`. */
  readonly secretKey: SecretBytes
}

export type KeyFileErrorReason =
  | "WrongPassphrase"
  | "Malformed"
  | "NotEd25519"
  | "Unencrypted"
  | "Unsupported"
  | "Damaged"

const sentences: Record<KeyFileErrorReason, string> = {
  WrongPassphrase: "The passphrase does not unlock this private key.",
  Malformed: "The key file is not a valid PEM-encoded PKCS#8 or SPKI key.",
  NotEd25519: "The key file holds a key that is not Ed25519.",
  Unencrypted:
    "The private key file is not encrypted; onechat only accepts passphrase-encrypted private keys.",
  Unsupported:
    "The private key file uses an encryption onechat does not read (it reads PBES2 with scrypt or PBKDF2 and AES-CBC, within memory and work limits).",
  Damaged:
    "The private key file is damaged: it decrypts, but its key does not match the public key stored in it.",
}

/** A key file that cannot be used. Carries no key bytes and no passphrase. */
export class KeyFileError extends Data.TaggedError("KeyFileError")<{ readonly reason: KeyFileErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

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

/** Options for writing a key file. Only test fixtures lower `scryptLogN`; the CLI and store never do. */
export interface KeyFileWriteOptions {
  /** Salt and IV source; the OS CSPRNG when absent. */
  readonly random?: Random
  /** log2 of scrypt's N: 10..17, default 17 (N = 2^17, r = 8, p = 1). */
  readonly scryptLogN?: number
}

/**
 * The private key as a passphrase-encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"): PBES2 with scrypt
 * (N = 2^17, r = 8, p = 1) and AES-256-CBC (./pbes2.ts). The encrypted PrivateKeyInfo carries the
 * public key as a PKCS#9 localKeyID attribute, so a damaged file is detected on import. Throws
 * `RangeError` for an empty passphrase (storing a key unprotected is a bug) or a bad `scryptLogN`.
 */
export const exportEncryptedPrivateKeyPem = (
  key: IdentityKeyPair,
  passphrase: string,
  options: KeyFileWriteOptions = {},
): string => {
  if (passphrase.length === 0) {
    throw new RangeError("A private key must be exported with a non-empty passphrase")
  }
  const privateKeyInfo = ed25519PrivateKeyInfo(key.seed.expose(), key.publicKey)
  try {
    const der = encryptPrivateKeyInfo(privateKeyInfo, passphrase, {
      random: options.random ?? systemRandom,
      scryptLogN: options.scryptLogN ?? DEFAULT_SCRYPT_LOG_N,
    })
    return derToPemBlock(der, "ENCRYPTED PRIVATE KEY")
  } finally {
    wipe(privateKeyInfo)
  }
}

/** A decrypted key file: the key, and how the file was protected. */
export interface DecryptedKeyFile {
  readonly key: IdentityKeyPair
  readonly protection: KeyFileProtection
  /** False for files that should be re-encrypted: PBKDF2 (files before onechat v3) or a cheap scrypt. */
  readonly strong: boolean
}

/**
 * Reads a passphrase-encrypted PKCS#8 PEM written by `exportEncryptedPrivateKeyPem`, by older
 * onechat versions (PBES2 with PBKDF2, reported with `strong: false`) or by OpenSSL (`openssl pkcs8
 * -topk8 -scrypt`). The structure is checked before decryption and the plaintext after it: a
 * wrong passphrase whose CBC padding checks out by chance still reads as "WrongPassphrase", and a
 * key that does not match the public key stored with it as "Damaged".
 */
export const readEncryptedPrivateKeyPem = (
  pem: string,
  passphrase: string,
): Result.Result<DecryptedKeyFile, KeyFileError> => {
  const block = decodePem(pem)
  if (block === undefined) return fail("Malformed")
  if (block.label === "PRIVATE KEY") return fail("Unencrypted")
  if (block.label === "RSA PRIVATE KEY" || block.label === "EC PRIVATE KEY") return fail("NotEd25519")
  if (block.label !== "ENCRYPTED PRIVATE KEY") return fail("Malformed")
  const decrypted = decryptPrivateKeyInfo(block.der, passphrase)
  if (Result.isFailure(decrypted)) return fail(decrypted.failure)
  const { plaintext, protection } = decrypted.success
  try {
    const seed = ed25519SeedOf(plaintext)
    if (typeof seed === "string") return fail(seed)
    return Result.succeed({ key: identityFromSeed(seed), protection, strong: isStrongProtection(protection) })
  } finally {
    wipe(plaintext)
  }
}

/** `readEncryptedPrivateKeyPem`, keeping only the key. */
export const importEncryptedPrivateKeyPem = (
  pem: string,
  passphrase: string,
): Result.Result<IdentityKeyPair, KeyFileError> =>
  Result.map(readEncryptedPrivateKeyPem(pem, passphrase), (file) => file.key)

/** How an encrypted key file is protected (no passphrase needed, nothing decrypted). */
export const encryptedPrivateKeyProtection = (
  pem: string,
): Result.Result<KeyFileProtection, KeyFileError> => {
  const block = decodePem(pem)
  if (block?.label !== "ENCRYPTED PRIVATE KEY") return fail("Malformed")
  const protection = readProtection(block.der)
  return Result.isFailure(protection) ? fail(protection.failure) : Result.succeed(protection.success)
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

const fail = (reason: KeyFileErrorReason) => Result.fail(new KeyFileError({ reason }))

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
