/**
 * The Double Ratchet's key derivations (KDF_RK, KDF_CK, a message key's AEAD key and nonce, the
 * initial chain): HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) written out over libsodium's
 * SHA-256, so a message costs no node:crypto KeyObject or HMAC object (several µs each on Node 24).
 * Byte-identical to createHmac/hkdfSync (test/crypto/ratchet-kdf.test.ts). Pure: no I/O; the scratch
 * buffers holding key material are wiped after every call. docs/protocol.md §8.3.
 */
import sodium from "sodium-native"
import { wipe } from "./primitives.ts"

const BLOCK_BYTES = 64
const HASH_BYTES = 32
/** The longest HMAC message here: T(1) ‖ info ‖ counter for the longest ratchet label, with room. */
const MAX_MESSAGE_BYTES = 96
const IPAD = 0x36
const OPAD = 0x5c

/** `key ⊕ pad ‖ message`, then `key ⊕ opad ‖ inner hash`: reused, wiped after each HMAC. */
const scratch = new Uint8Array(BLOCK_BYTES + MAX_MESSAGE_BYTES)
const innerHash = new Uint8Array(HASH_BYTES)
const outerInput = scratch.subarray(0, BLOCK_BYTES + HASH_BYTES)
/** T(1) of a two-block HKDF-Expand, kept while T(2) is computed; T(2) when it is truncated. */
const firstBlock = new Uint8Array(HASH_BYTES)
const innerBlock = new Uint8Array(HASH_BYTES)
const EMPTY = new Uint8Array(0)

const padKey = (key: Uint8Array, pad: number): void => {
  scratch.fill(pad, 0, BLOCK_BYTES)
  for (let i = 0; i < key.length; i++) scratch[i] = key[i]! ^ pad
}

/**
 * HMAC-SHA256(key, a ‖ b ‖ c) into `out` (32 bytes). Keys of at most 64 bytes only (every ratchet key
 * is 32) and messages of at most 96 bytes: anything longer is a defect, so it throws.
 */
export const hmacInto = (
  out: Uint8Array,
  key: Uint8Array,
  a: Uint8Array,
  b: Uint8Array = EMPTY,
  c: Uint8Array = EMPTY,
): void => {
  const length = a.length + b.length + c.length
  if (key.length > BLOCK_BYTES || length > MAX_MESSAGE_BYTES)
    throw new RangeError("ratchet HMAC input too long")
  padKey(key, IPAD)
  scratch.set(a, BLOCK_BYTES)
  if (b.length > 0) scratch.set(b, BLOCK_BYTES + a.length)
  if (c.length > 0) scratch.set(c, BLOCK_BYTES + a.length + b.length)
  sodium.crypto_hash_sha256(innerHash, scratch.subarray(0, BLOCK_BYTES + length))
  padKey(key, OPAD)
  scratch.set(innerHash, BLOCK_BYTES)
  sodium.crypto_hash_sha256(out, outerInput)
  // fill(0) rather than sodium_memzero: the same effect on a JS-owned buffer, without two native calls.
  scratch.fill(0)
  innerHash.fill(0)
}

const ONE = Uint8Array.of(0x01)
const TWO = Uint8Array.of(0x02)

/**
 * HKDF-Expand(prk, info, L) for 33 ≤ L ≤ 64 (RFC 5869 §2.3: T(1) = HMAC(prk, info ‖ 0x01),
 * T(2) = HMAC(prk, T(1) ‖ info ‖ 0x02)), written as T(1) into `first` and T(2)[0..L-32] into `second`.
 */
const expandTwoBlocks = (prk: Uint8Array, info: Uint8Array, first: Uint8Array, second: Uint8Array): void => {
  hmacInto(firstBlock, prk, info, ONE)
  first.set(firstBlock)
  if (second.length === HASH_BYTES) {
    hmacInto(second, prk, firstBlock, info, TWO)
  } else {
    hmacInto(innerBlock, prk, firstBlock, info, TWO)
    second.set(innerBlock.subarray(0, second.length))
    wipe(innerBlock)
  }
  wipe(firstBlock)
}

/** KDF_RK: HKDF(salt = rk, IKM = dh, info, 64) → (rk', ck), two fresh 32-byte keys. */
export const kdfRoot = (
  rootKey: Uint8Array,
  dh: Uint8Array,
  info: Uint8Array,
): readonly [Uint8Array, Uint8Array] => {
  const prk = new Uint8Array(HASH_BYTES)
  hmacInto(prk, rootKey, dh)
  const keys = [new Uint8Array(HASH_BYTES), new Uint8Array(HASH_BYTES)] as const
  expandTwoBlocks(prk, info, keys[0], keys[1])
  wipe(prk)
  return keys
}

/** KDF_CK: ck' = HMAC(ck, 0x02), mk = HMAC(ck, 0x01) → (ck', mk), two fresh 32-byte keys. */
export const kdfChain = (chainKey: Uint8Array): readonly [Uint8Array, Uint8Array] => {
  const next = new Uint8Array(HASH_BYTES)
  const messageKey = new Uint8Array(HASH_BYTES)
  hmacInto(next, chainKey, TWO)
  hmacInto(messageKey, chainKey, ONE)
  return [next, messageKey]
}

/** The AEAD key (32) and nonce (12) of one message: HKDF-Expand(mk, info, 44), split. */
export interface MessageAead {
  readonly key: Uint8Array
  readonly nonce: Uint8Array
}

const aeadKey = new Uint8Array(HASH_BYTES)
const aeadNonce = new Uint8Array(12)
const messageAead: MessageAead = { key: aeadKey, nonce: aeadNonce }

/**
 * Derives the message's AEAD key and nonce into buffers shared by every call: use them at once,
 * then `wipeMessageAead()`. (One pair of buffers, no allocation per message; calls never overlap.)
 */
export const deriveMessageAead = (messageKey: Uint8Array, info: Uint8Array): MessageAead => {
  expandTwoBlocks(messageKey, info, aeadKey, aeadNonce)
  return messageAead
}

export const wipeMessageAead = (): void => wipe(aeadKey, aeadNonce)

const ZERO_SALT = new Uint8Array(HASH_BYTES)

/** HKDF(salt = 32 zero bytes, IKM = key, info, 32): one Extract and one Expand block. */
export const hkdf32 = (key: Uint8Array, info: Uint8Array): Uint8Array => {
  const prk = new Uint8Array(HASH_BYTES)
  hmacInto(prk, ZERO_SALT, key)
  const out = new Uint8Array(HASH_BYTES)
  hmacInto(out, prk, info, ONE)
  wipe(prk)
  return out
}
