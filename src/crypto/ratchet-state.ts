/**
 * The Double Ratchet's state (./ratchet.ts): its shape, the skipped-key index, wiping, and a byte
 * form that tests use to clone a party (a simulated compromise). Secrets only in `Uint8Array`s the
 * wipe reaches; never logged. Pure: no I/O. docs/protocol.md §8.3.
 */
import { wipe, type X25519KeyPair } from "./primitives.ts"

/** A skipped message key, kept until its message arrives or it is evicted. */
export interface SkippedKey {
  readonly remoteKey: Uint8Array
  readonly index: number
  readonly messageKey: Uint8Array
}

/**
 * One side's ratchet, mutated in place by `ratchetEncrypt`/`ratchetDecrypt`; a decryption that fails
 * changes nothing (every new key is computed aside and committed only after the tag verifies).
 * `sendingChain` always exists: A derives it at start, B starts on the initial chain.
 */
export interface RatchetState {
  rootKey: Uint8Array
  sendingKey: X25519KeyPair
  remoteKey: Uint8Array | undefined
  sendingChain: Uint8Array
  receivingChain: Uint8Array | undefined
  sent: number
  received: number
  previousSent: number
  /** By `skippedId`, oldest first (Map insertion order). */
  readonly skipped: Map<string, SkippedKey>
  /** Earlier `remoteKey`s, oldest first. */
  readonly retired: Uint8Array[]
}

/** The skipped-key store's index: the peer's ratchet key and the message number. */
export const skippedId = (remoteKey: Uint8Array, index: number): string =>
  `${Buffer.from(remoteKey.buffer, remoteKey.byteOffset, 32).toString("base64")}/${index}`

/** Zeroes every key the state holds (root, chains, own ratchet secret, skipped keys). */
export const wipeRatchet = (state: RatchetState): void => {
  wipe(state.rootKey, state.sendingKey.secretKey, state.sendingChain)
  if (state.receivingChain !== undefined) wipe(state.receivingChain)
  for (const key of state.skipped.values()) wipe(key.messageKey)
  state.skipped.clear()
}

const STATE_VERSION = 1

/**
 * The state as bytes (tests clone a party with it to simulate a compromise): `u8 1 ‖ rk ‖ DHs.pub ‖
 * DHs.priv ‖ CKs ‖ u32 Ns ‖ u32 Nr ‖ u32 PN ‖ u8 hasPeer ‖ [DHr ‖ CKr] ‖ u16 count ‖ (dh ‖ u32 n ‖ mk)*
 * ‖ u8 count ‖ dh*`. The bytes are secret: wipe them after use.
 */
export const serialiseRatchet = (state: RatchetState): Uint8Array => {
  const parts: Uint8Array[] = [Uint8Array.of(STATE_VERSION), state.rootKey, state.sendingKey.publicKey]
  parts.push(state.sendingKey.secretKey, state.sendingChain, u32(state.sent), u32(state.received))
  parts.push(u32(state.previousSent), Uint8Array.of(state.remoteKey === undefined ? 0 : 1))
  if (state.remoteKey !== undefined) parts.push(state.remoteKey, state.receivingChain!)
  parts.push(Uint8Array.of(state.skipped.size >> 8, state.skipped.size & 0xff))
  for (const key of state.skipped.values()) parts.push(key.remoteKey, u32(key.index), key.messageKey)
  parts.push(Uint8Array.of(state.retired.length), ...state.retired)
  return new Uint8Array(Buffer.concat(parts))
}

const u32 = (value: number): Uint8Array => {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}

/** The inverse of `serialiseRatchet` (fresh buffers); undefined for bytes it did not produce. */
export const deserialiseRatchet = (bytes: Uint8Array): RatchetState | undefined => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  let at = 0
  const take = (length: number): Uint8Array => {
    if (at + length > bytes.length) throw new RangeError("short")
    at += length
    return bytes.slice(at - length, at)
  }
  const number = (length: 1 | 2 | 4): number => {
    take(length)
    return length === 1
      ? view.getUint8(at - 1)
      : length === 2
        ? view.getUint16(at - 2)
        : view.getUint32(at - 4)
  }
  try {
    if (number(1) !== STATE_VERSION) return undefined
    const rootKey = take(32)
    const sendingKey = { publicKey: take(32), secretKey: take(32) }
    const sendingChain = take(32)
    const [sent, received, previousSent] = [number(4), number(4), number(4)]
    const hasPeer = number(1) === 1
    const remoteKey = hasPeer ? take(32) : undefined
    const receivingChain = hasPeer ? take(32) : undefined
    const skipped = new Map<string, SkippedKey>()
    for (let count = number(2); count > 0; count--) {
      const key = { remoteKey: take(32), index: number(4), messageKey: take(32) }
      skipped.set(skippedId(key.remoteKey, key.index), key)
    }
    const retired = Array.from({ length: number(1) }, () => take(32))
    if (at !== bytes.length) return undefined
    const state = {
      rootKey,
      sendingKey,
      sendingChain,
      remoteKey,
      receivingChain,
      sent,
      received,
      previousSent,
    }
    return { ...state, skipped, retired }
  } catch {
    return undefined
  }
}
