/**
 * Login key schedule: the running transcript hash and the HKDF-SHA256 derivations of handshake
 * keys, finished keys and application keys, one key and IV per direction.
 * Pure: bytes in, bytes out. docs/protocol.md §4.
 */
import { createHash, type Hash } from "node:crypto"
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, hkdfExpand, hkdfExtract, hmacSha256 } from "./primitives.ts"
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

/** Expands `label` into a fresh key and IV for one direction. */
export const expandDirectionKeys = (
  secret: Uint8Array,
  keyLabel: string,
  ivLabel: string,
): DirectionKeys => ({
  key: new SecretBytes(hkdfExpand(secret, ascii(keyLabel), AEAD_KEY_BYTES)),
  iv: new SecretBytes(hkdfExpand(secret, ascii(ivLabel), AEAD_NONCE_BYTES)),
})

export interface HandshakeSecrets {
  readonly handshakeSecret: SecretBytes
  readonly clientToServer: DirectionKeys
  readonly serverToClient: DirectionKeys
  readonly clientFinishedKey: SecretBytes
  readonly serverFinishedKey: SecretBytes
}

/** §4.2: HS = HKDF-Extract(TH(…SERVER_HELLO), dh) and everything expanded from it. */
export const deriveHandshakeSecrets = (sharedSecret: Uint8Array, helloHash: Uint8Array): HandshakeSecrets => {
  const hs = hkdfExtract(helloHash, sharedSecret)
  return {
    handshakeSecret: new SecretBytes(hs),
    clientToServer: expandDirectionKeys(hs, "onechat v2 c hs key", "onechat v2 c hs iv"),
    serverToClient: expandDirectionKeys(hs, "onechat v2 s hs key", "onechat v2 s hs iv"),
    clientFinishedKey: new SecretBytes(hkdfExpand(hs, ascii("onechat v2 c finished"), 32)),
    serverFinishedKey: new SecretBytes(hkdfExpand(hs, ascii("onechat v2 s finished"), 32)),
  }
}

/** §4.3: AS = HKDF-Extract(TH(…CLIENT_FINISHED), HS); application keys per direction. */
export const deriveApplicationKeys = (
  handshakeSecret: SecretBytes,
  finalHash: Uint8Array,
): { readonly clientToServer: DirectionKeys; readonly serverToClient: DirectionKeys } => {
  const as = hkdfExtract(finalHash, handshakeSecret.expose())
  const keys = {
    clientToServer: expandDirectionKeys(as, "onechat v2 c ap key", "onechat v2 c ap iv"),
    serverToClient: expandDirectionKeys(as, "onechat v2 s ap key", "onechat v2 s ap iv"),
  }
  as.fill(0)
  return keys
}

/** FINISHED = HMAC-SHA256(finished key, TH). */
export const finishedMac = (finishedKey: SecretBytes, transcriptHash: Uint8Array): Uint8Array =>
  hmacSha256(finishedKey.expose(), transcriptHash)

/** The bytes a handshake signature covers: label ‖ 0x00 ‖ TH. */
export const signedContent = (label: string, transcriptHash: Uint8Array): Uint8Array =>
  Buffer.concat([ascii(label), Uint8Array.of(0), transcriptHash])

export const SERVER_VERIFY_LABEL = "onechat v2 server verify"
export const CLIENT_VERIFY_LABEL = "onechat v2 client verify"

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
