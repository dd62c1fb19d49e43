/**
 * ML-KEM-768 (FIPS 203) over node:crypto (Node 24, OpenSSL 3.5): key generation from an injected
 * 64-byte seed d ‖ z, import of a peer's raw encapsulation key, encapsulation, decapsulation.
 * Must not log or return key bytes beyond what the caller asked for; bad peer input is a typed
 * MlKemError, never a throw. Encapsulation draws its 32-byte message from OpenSSL's CSPRNG:
 * node:crypto offers no way to inject it (the one deviation from "randomness is injected").
 * docs/protocol.md §3.1, §3.2, §4.2 (the login's hybrid key agreement) and §8 (chats).
 */
import { createPrivateKey, createPublicKey, decapsulate, encapsulate, type KeyObject } from "node:crypto"
import { Data, Result } from "effect"
import { KEM_CIPHERTEXT_BYTES, KEM_ENCAPSULATION_KEY_BYTES } from "../protocol/constants.ts"
import { type Random, wipe } from "./primitives.ts"

/** Raw encapsulation (public) key: 384·k + 32 bytes with k = 3. */
export const MLKEM768_ENCAPSULATION_KEY_BYTES = KEM_ENCAPSULATION_KEY_BYTES
/** Ciphertext: 32·(d_u·k + d_v) bytes = 32·(10·3 + 4). */
export const MLKEM768_CIPHERTEXT_BYTES = KEM_CIPHERTEXT_BYTES
export const MLKEM768_SHARED_SECRET_BYTES = 32
/** The key generation seed d ‖ z (FIPS 203 §7.1, ML-KEM.KeyGen_internal). */
export const MLKEM768_SEED_BYTES = 64

export type MlKemErrorReason = "BadSeed" | "BadEncapsulationKey" | "BadCiphertext"

const sentences: Record<MlKemErrorReason, string> = {
  BadSeed: "An ML-KEM-768 key generation seed must be 64 bytes.",
  BadEncapsulationKey: "The ML-KEM-768 encapsulation key is malformed.",
  BadCiphertext: "The ML-KEM-768 ciphertext is malformed.",
}

/** Bad ML-KEM input. Carries sizes only, never key or secret bytes. */
export class MlKemError extends Data.TaggedError("MlKemError")<{
  readonly reason: MlKemErrorReason
  readonly detail?: string
}> {
  override get message(): string {
    return this.detail === undefined ? sentences[this.reason] : `${sentences[this.reason]} ${this.detail}`
  }
}

/** A key pair: the raw encapsulation key to send, the decapsulation key kept in native memory. */
export interface MlKemKeyPair {
  /** 1,184 bytes, as sent on the wire. */
  readonly encapsulationKey: Uint8Array
  /** OpenSSL holds it; it cannot be wiped from JavaScript, only dropped. Never printed by Node. */
  readonly decapsulationKey: KeyObject
}

/** A peer's encapsulation key, checked (length and FIPS 203 §7.2 modulus check) and imported. */
export interface MlKemPublicKey {
  readonly bytes: Uint8Array
  readonly key: KeyObject
}

/** What encapsulation produced: the ciphertext to send and the secret to mix into the key schedule. */
export interface MlKemEncapsulation {
  /** 1,088 bytes. */
  readonly ciphertext: Uint8Array
  /** 32 bytes; the caller wipes it once used. */
  readonly sharedSecret: Uint8Array
}

/**
 * DER prefix of a seed-only PKCS#8 PrivateKeyInfo for ML-KEM-768 (IETF LAMPS
 * draft-ietf-lamps-kyber-certificates, "seed" choice): SEQUENCE { INTEGER 0, SEQUENCE { OID 2.16.840.1.101.3.4.4.2 },
 * OCTET STRING { [0] IMPLICIT OCTET STRING (64) seed } }. Checked against the Wycheproof and FIPS
 * 203 vectors in test/crypto/mlkem.test.ts; OpenSSL imports it about twice as fast as `raw-seed`.
 */
const SEED_PKCS8_PREFIX = Buffer.from("3054020100300b06096086480165030404020442" + "8040", "hex") // … OCTET STRING(66) ‖ [0](64)

const view = (buffer: Buffer): Uint8Array => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)

/** ML-KEM.KeyGen_internal(d, z) from `seed` = d ‖ z (64 bytes). The caller owns (and wipes) `seed`. */
export const mlKemKeyPairFromSeed = (seed: Uint8Array): Result.Result<MlKemKeyPair, MlKemError> => {
  if (seed.length !== MLKEM768_SEED_BYTES) {
    return Result.fail(new MlKemError({ reason: "BadSeed", detail: `Got ${seed.length} bytes.` }))
  }
  const der = Buffer.alloc(SEED_PKCS8_PREFIX.length + MLKEM768_SEED_BYTES)
  SEED_PKCS8_PREFIX.copy(der)
  der.set(seed, SEED_PKCS8_PREFIX.length)
  try {
    const decapsulationKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" })
    const encapsulationKey = view(createPublicKey(decapsulationKey).export({ format: "raw-public" }))
    return Result.succeed({ encapsulationKey, decapsulationKey })
  } finally {
    wipe(der)
  }
}

/** A fresh key pair from 64 bytes of `random`; the seed is wiped once imported. */
export const mlKemKeyPair = (random: Random): MlKemKeyPair => {
  const seed = random(MLKEM768_SEED_BYTES)
  try {
    return Result.getOrThrow(mlKemKeyPairFromSeed(seed)) // cannot fail: the seed has the right size
  } finally {
    wipe(seed)
  }
}

/**
 * Imports a peer's raw encapsulation key. Fails with BadEncapsulationKey on a wrong length or a
 * key whose coefficients are not reduced modulo q (the FIPS 203 §7.2 input check, done by OpenSSL).
 */
export const importEncapsulationKey = (bytes: Uint8Array): Result.Result<MlKemPublicKey, MlKemError> => {
  if (bytes.length !== MLKEM768_ENCAPSULATION_KEY_BYTES) {
    return Result.fail(
      new MlKemError({
        reason: "BadEncapsulationKey",
        detail: `Got ${bytes.length} bytes, expected ${MLKEM768_ENCAPSULATION_KEY_BYTES}.`,
      }),
    )
  }
  try {
    const key = createPublicKey({
      key: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
      format: "raw-public",
      asymmetricKeyType: "ml-kem-768",
    })
    return Result.succeed({ bytes, key })
  } catch {
    return Result.fail(
      new MlKemError({ reason: "BadEncapsulationKey", detail: "It fails the modulus check." }),
    )
  }
}

/** ML-KEM.Encaps(ek): a ciphertext for the holder of the decapsulation key, and the shared secret. */
export const mlKemEncapsulate = (peer: MlKemPublicKey): MlKemEncapsulation => {
  const { ciphertext, sharedKey } = encapsulate(peer.key)
  return { ciphertext: view(ciphertext), sharedSecret: view(sharedKey) }
}

/**
 * ML-KEM.Decaps(dk, c). A ciphertext of the right length always yields 32 bytes: a tampered one
 * yields the implicit-rejection secret (unrelated to the sender's), so the login or chat keys simply
 * differ and key confirmation fails. A wrong length is BadCiphertext.
 */
export const mlKemDecapsulate = (
  decapsulationKey: KeyObject,
  ciphertext: Uint8Array,
): Result.Result<Uint8Array, MlKemError> => {
  if (ciphertext.length !== MLKEM768_CIPHERTEXT_BYTES) {
    return Result.fail(
      new MlKemError({
        reason: "BadCiphertext",
        detail: `Got ${ciphertext.length} bytes, expected ${MLKEM768_CIPHERTEXT_BYTES}.`,
      }),
    )
  }
  try {
    return Result.succeed(view(decapsulate(decapsulationKey, ciphertext)))
  } catch {
    return Result.fail(new MlKemError({ reason: "BadCiphertext", detail: "Decapsulation failed." }))
  }
}
