/**
 * Thin, typed wrappers over the primitives onechat uses: X25519, Ed25519, ChaCha20-Poly1305-IETF
 * (libsodium via sodium-native), SHA-256, HMAC-SHA256 and HKDF-SHA256 (node:crypto).
 * Pure: no I/O; randomness comes from an injected `Random`. docs/protocol.md §2.
 */
import {
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes as nodeRandomBytes,
  timingSafeEqual,
} from "node:crypto"
import sodium from "sodium-native"

/** A source of random bytes. Production uses the OS CSPRNG; tests inject a seeded one. */
export type Random = (length: number) => Uint8Array

export const systemRandom: Random = (length) => new Uint8Array(nodeRandomBytes(length))

export const X25519_KEY_BYTES = 32
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SEED_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
export const AEAD_KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16
export const SHA256_BYTES = 32

export interface X25519KeyPair {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/** Fresh ephemeral X25519 key pair (RFC 7748) from 32 random bytes. */
export const x25519KeyPair = (random: Random): X25519KeyPair => {
  const secretKey = random(X25519_KEY_BYTES)
  return { publicKey: x25519PublicKey(secretKey), secretKey }
}

export const x25519PublicKey = (secretKey: Uint8Array): Uint8Array => {
  const publicKey = new Uint8Array(X25519_KEY_BYTES)
  sodium.crypto_scalarmult_base(publicKey, secretKey)
  return publicKey
}

/**
 * X25519 shared secret. Returns `undefined` when the peer's key is a low-order point (the result
 * would be all zeros): such a key must end the handshake.
 */
export const x25519 = (secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | undefined => {
  if (secretKey.length !== X25519_KEY_BYTES || peerPublicKey.length !== X25519_KEY_BYTES) return undefined
  const shared = new Uint8Array(X25519_KEY_BYTES)
  try {
    sodium.crypto_scalarmult(shared, secretKey, peerPublicKey)
  } catch {
    return undefined // libsodium refuses low-order points
  }
  return isAllZero(shared) ? undefined : shared
}

export interface Ed25519KeyPair {
  /** 32 bytes */
  readonly publicKey: Uint8Array
  /** libsodium's 64-byte form: seed ‖ public key */
  readonly secretKey: Uint8Array
}

/** Ed25519 key pair (RFC 8032) from its 32-byte seed (the "private key" of the RFC). */
export const ed25519FromSeed = (seed: Uint8Array): Ed25519KeyPair => {
  const publicKey = new Uint8Array(ED25519_PUBLIC_KEY_BYTES)
  const secretKey = new Uint8Array(64)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  return { publicKey, secretKey }
}

export const ed25519Sign = (secretKey: Uint8Array, message: Uint8Array): Uint8Array => {
  const signature = new Uint8Array(ED25519_SIGNATURE_BYTES)
  sodium.crypto_sign_detached(signature, message, secretKey)
  return signature
}

/** Strict verification; any malformed key or signature is simply "not valid". */
export const ed25519Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean => {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES)
    return false
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey)
  } catch {
    return false
  }
}

/** ChaCha20-Poly1305-IETF (RFC 8439) seal: returns ciphertext ‖ 16-byte tag. */
export const aeadSeal = (
  key: Uint8Array,
  nonce: Uint8Array,
  additionalData: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array => {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES)
  out.set(plaintext)
  aeadSealInPlace(key, nonce, additionalData, out, plaintext.length)
  return out
}

/** ChaCha20-Poly1305-IETF open; `undefined` when the tag does not verify. */
export const aeadOpen = (
  key: Uint8Array,
  nonce: Uint8Array,
  additionalData: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined => aeadOpenInPlace(key, nonce, additionalData, Uint8Array.from(sealed))

/**
 * `aeadSeal` in place: `buffer` holds the plaintext in its first `plaintextLength` bytes and has
 * room for the tag after it; on return it holds ciphertext ‖ tag (libsodium allows c == m).
 */
export const aeadSealInPlace = (
  key: Uint8Array,
  nonce: Uint8Array,
  additionalData: Uint8Array,
  buffer: Uint8Array,
  plaintextLength: number,
): void => {
  if (buffer.length !== plaintextLength + AEAD_TAG_BYTES) throw new RangeError("no room for the tag")
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
    buffer,
    buffer.subarray(0, plaintextLength),
    additionalData,
    null,
    nonce,
    key,
  )
}

/**
 * `aeadOpen` in place: on success the plaintext is the first `sealed.length - 16` bytes of
 * `sealed` (returned as a view); `undefined` when the tag does not verify (the bytes are then
 * meaningless and must be dropped).
 */
export const aeadOpenInPlace = (
  key: Uint8Array,
  nonce: Uint8Array,
  additionalData: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | undefined => {
  if (sealed.length < AEAD_TAG_BYTES) return undefined
  const plaintext = sealed.subarray(0, sealed.length - AEAD_TAG_BYTES)
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, sealed, additionalData, nonce, key)
  } catch {
    return undefined
  }
  return plaintext
}

export const sha256 = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part)
  return new Uint8Array(hash.digest())
}

/**
 * HMAC-SHA256. `key` is raw bytes or a secret `KeyObject` (`createSecretKey`) to reuse across calls.
 * Raw bytes are wrapped in a `KeyObject` first: on Node 24, `createHmac` with raw bytes costs ~13 µs
 * (its `isKeyObject` check throws and catches), with a `KeyObject` ~3 µs, and making one ~1.5 µs.
 * A `KeyObject` keeps a copy of the key in native memory that cannot be wiped, only dropped.
 */
export const hmacSha256 = (key: Uint8Array | KeyObject, ...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const mac = createHmac("sha256", key instanceof Uint8Array ? createSecretKey(key) : key)
  for (const part of parts) mac.update(part)
  return new Uint8Array(mac.digest())
}

/** HKDF-Extract (RFC 5869 §2.2) with SHA-256. An empty salt means 32 zero bytes. */
export const hkdfExtract = (salt: Uint8Array, inputKeyMaterial: Uint8Array): Uint8Array =>
  hmacSha256(salt.length === 0 ? new Uint8Array(SHA256_BYTES) : salt, inputKeyMaterial)

/**
 * HKDF-Expand (RFC 5869 §2.3) with SHA-256; at most 255 × 32 bytes. Pass the PRK as a `KeyObject`
 * (`createSecretKey(prk)`) when expanding several labels from it: it is then made only once.
 */
export const hkdfExpand = (
  pseudoRandomKey: Uint8Array | KeyObject,
  info: Uint8Array,
  length: number,
): Uint8Array => {
  if (!Number.isInteger(length) || length < 0 || length > 255 * SHA256_BYTES) {
    throw new RangeError(`HKDF-Expand length ${length} is outside 0..${255 * SHA256_BYTES}`)
  }
  const key = pseudoRandomKey instanceof Uint8Array ? createSecretKey(pseudoRandomKey) : pseudoRandomKey
  const out = new Uint8Array(length)
  let block: Uint8Array = new Uint8Array(0)
  for (let i = 0, offset = 0; offset < length; i++) {
    block = hmacSha256(key, block, info, Uint8Array.of(i + 1))
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset)
    offset += block.length
  }
  return out
}

/** Constant-time comparison of two byte strings (false when lengths differ). */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && timingSafeEqual(a, b)

/** Overwrite key material in place. */
export const wipe = (...buffers: ReadonlyArray<Uint8Array>): void => {
  for (const buffer of buffers) sodium.sodium_memzero(buffer)
}

const isAllZero = (bytes: Uint8Array): boolean => {
  let acc = 0
  for (const byte of bytes) acc |= byte
  return acc === 0
}
