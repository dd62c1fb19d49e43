/**
 * Login key schedule: the running transcript hash and the HKDF-SHA256 derivations of handshake
 * keys (from the hybrid ML-KEM-768 + X25519 secret), finished keys and application keys, one key
 * and IV per direction. Pure: bytes in, bytes out; no randomness. docs/protocol.md §4.
 */
import { createHash, createSecretKey, type Hash, type KeyObject } from "node:crypto"
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, hkdfExpand, hkdfExtract, hmacSha256, wipe } from "./primitives.ts"
import type { DirectionKeys } from "./record.ts"
import { SecretBytes } from "./secret.ts"

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "ascii"))

/** Running SHA-256 over the handshake transcript (§4.1); `hash()` returns TH so far. */
export class Transcript {
  readonly #hash: Hash = createHash("sha256")

  add(bytes: Uint8Array): this {
    this.#hash.update(bytes)
    return this
  }

  hash(): Uint8Array {
    return new Uint8Array(this.#hash.copy().digest())
  }
}

// The HKDF labels of §4, encoded once.
const C_HS_KEY = ascii("onechat v3 c hs key")
const C_HS_IV = ascii("onechat v3 c hs iv")
const S_HS_KEY = ascii("onechat v3 s hs key")
const S_HS_IV = ascii("onechat v3 s hs iv")
const C_FINISHED = ascii("onechat v3 c finished")
const S_FINISHED = ascii("onechat v3 s finished")
const C_AP_KEY = ascii("onechat v3 c ap key")
const C_AP_IV = ascii("onechat v3 c ap iv")
const S_AP_KEY = ascii("onechat v3 s ap key")
const S_AP_IV = ascii("onechat v3 s ap iv")

/**
 * Expands `label` into a fresh key and IV for one direction. `secret` is the PRK, raw or as a
 * `KeyObject` made once for every expansion from it (docs/performance.md #7).
 */
export const expandDirectionKeys = (
  secret: Uint8Array | KeyObject,
  keyLabel: string | Uint8Array,
  ivLabel: string | Uint8Array,
): DirectionKeys => ({
  key: new SecretBytes(hkdfExpand(secret, labelBytes(keyLabel), AEAD_KEY_BYTES)),
  iv: new SecretBytes(hkdfExpand(secret, labelBytes(ivLabel), AEAD_NONCE_BYTES)),
})

const labelBytes = (text: string | Uint8Array): Uint8Array => (typeof text === "string" ? ascii(text) : text)

/**
 * The two shared secrets of the login's hybrid key agreement. Breaking either primitive alone
 * reveals nothing: HS depends on both (§4.2).
 */
export interface HybridSharedSecrets {
  /** ML-KEM-768 shared secret, 32 bytes. */
  readonly mlkem: Uint8Array
  /** X25519 shared secret, 32 bytes (never all zero: checked by `x25519`). */
  readonly x25519: Uint8Array
}

/**
 * The IKM of HS: `ss_mlkem ‖ dh_x25519`, ML-KEM first as in X25519MLKEM768
 * (draft-ietf-tls-ecdhe-mlkem). The caller wipes the result.
 */
export const hybridInputKeyMaterial = (shared: HybridSharedSecrets): Uint8Array => {
  const ikm = new Uint8Array(shared.mlkem.length + shared.x25519.length)
  ikm.set(shared.mlkem, 0)
  ikm.set(shared.x25519, shared.mlkem.length)
  return ikm
}

export interface HandshakeSecrets {
  readonly handshakeSecret: SecretBytes
  readonly clientToServer: DirectionKeys
  readonly serverToClient: DirectionKeys
  readonly clientFinishedKey: SecretBytes
  readonly serverFinishedKey: SecretBytes
}

/**
 * §4.2: HS = HKDF-Extract(salt = TH(…SERVER_HELLO), IKM = ss_mlkem ‖ dh) and everything expanded
 * from it. The caller still owns (and wipes) both shared secrets.
 */
export const deriveHandshakeSecrets = (
  shared: HybridSharedSecrets,
  helloHash: Uint8Array,
): HandshakeSecrets => {
  const ikm = hybridInputKeyMaterial(shared)
  const hs = hkdfExtract(helloHash, ikm)
  wipe(ikm)
  // One KeyObject for the six expansions; it holds a copy of HS that is dropped, not wiped.
  const prk = createSecretKey(hs)
  return {
    handshakeSecret: new SecretBytes(hs),
    clientToServer: expandDirectionKeys(prk, C_HS_KEY, C_HS_IV),
    serverToClient: expandDirectionKeys(prk, S_HS_KEY, S_HS_IV),
    clientFinishedKey: new SecretBytes(hkdfExpand(prk, C_FINISHED, 32)),
    serverFinishedKey: new SecretBytes(hkdfExpand(prk, S_FINISHED, 32)),
  }
}

/** §4.3: AS = HKDF-Extract(TH(…CLIENT_FINISHED), HS); application keys per direction. */
export const deriveApplicationKeys = (
  handshakeSecret: SecretBytes,
  finalHash: Uint8Array,
): { readonly clientToServer: DirectionKeys; readonly serverToClient: DirectionKeys } => {
  const as = hkdfExtract(finalHash, handshakeSecret.expose())
  const prk = createSecretKey(as)
  as.fill(0)
  return {
    clientToServer: expandDirectionKeys(prk, C_AP_KEY, C_AP_IV),
    serverToClient: expandDirectionKeys(prk, S_AP_KEY, S_AP_IV),
  }
}

/** FINISHED = HMAC-SHA256(finished key, TH). */
export const finishedMac = (finishedKey: SecretBytes, transcriptHash: Uint8Array): Uint8Array =>
  hmacSha256(finishedKey.expose(), transcriptHash)

/** The bytes a handshake signature covers: label ‖ 0x00 ‖ TH. */
export const signedContent = (label: string, transcriptHash: Uint8Array): Uint8Array =>
  Buffer.concat([ascii(label), Uint8Array.of(0), transcriptHash])

export const SERVER_VERIFY_LABEL = "onechat v3 server verify"
export const CLIENT_VERIFY_LABEL = "onechat v3 client verify"

/** Wipes every secret of a handshake once application keys exist or the handshake failed. */
export const wipeHandshakeSecrets = (secrets: HandshakeSecrets): void => {
  secrets.handshakeSecret.wipe()
  secrets.clientFinishedKey.wipe()
  secrets.serverFinishedKey.wipe()
  for (const keys of [secrets.clientToServer, secrets.serverToClient]) {
    keys.key.wipe()
    keys.iv.wipe()
  }
}
