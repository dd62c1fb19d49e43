/**
 * The Double Ratchet (Signal's specification) for one chat: root, sending and receiving chains, an
 * X25519 DH step whenever the speaking direction changes, bounded skipped keys. Message keys are
 * used once and wiped. The header is authenticated (AEAD additional data), not encrypted: the server
 * already sees who talks to whom and when, so hiding the ratchet key and counters would cost a header
 * key chain and gain little. Pure: no I/O, randomness injected; never logs keys. docs/protocol.md §8.3.
 */
import { Data, Result } from "effect"
import {
  AEAD_TAG_BYTES,
  aeadOpenInPlace,
  aeadSealInPlace,
  type Random,
  wipe,
  type X25519KeyPair,
  x25519,
  x25519KeyPair,
} from "./primitives.ts"
import {
  deriveMessageAead,
  hkdf32,
  kdfChain,
  kdfRoot as kdfRootWith,
  wipeMessageAead,
} from "./ratchet-kdf.ts"
import { type RatchetState, type SkippedKey, skippedId } from "./ratchet-state.ts"

/** `dh[32] ‖ u32 pn ‖ u32 n`, big-endian. */
export const RATCHET_HEADER_BYTES = 40
/** Most message keys one step may skip (in one chain). */
export const MAX_SKIP = 256
/** Most skipped message keys kept in all; the oldest are evicted (and wiped) first. */
export const MAX_SKIPPED_KEYS = 1_024
/** Earlier peer ratchet keys remembered (public values only) so that a replay is named as one. */
export const MAX_RETIRED_KEYS = 16
const MAX_COUNT = 0xffff_ffff

export type RatchetErrorReason =
  | "Malformed"
  | "Replayed"
  | "TooFarAhead"
  | "Tampered"
  | "LowOrderKey"
  | "LimitReached"

const sentences: Record<RatchetErrorReason, string> = {
  Malformed: "The chat message is malformed.",
  Replayed: "The chat message was already received or is too old to decrypt (a replay).",
  TooFarAhead: `The chat message claims more than ${MAX_SKIP} missing messages before it.`,
  Tampered: "The chat message failed authentication (altered, forged or under other keys).",
  LowOrderKey: "The peer sent an invalid ratchet key.",
  LimitReached: "The chat's message counter is exhausted; start a new chat.",
}

export class RatchetError extends Data.TaggedError("RatchetError")<{ readonly reason: RatchetErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/** Called with each message key after its message is sealed or opened (tests cross-check them). */
export type MessageKeyObserver = (messageKey: Uint8Array) => void

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "ascii"))
const ROOT_INFO = ascii("onechat v3 ratchet root")
const MESSAGE_INFO = ascii("onechat v3 ratchet message")
const INITIAL_INFO = ascii("onechat v3 ratchet initial b2a chain")

const fail = (reason: RatchetErrorReason) => Result.fail(new RatchetError({ reason }))

/** KDF_RK: HKDF(salt = rk, IKM = dh, "onechat v3 ratchet root", 64) → (rk', ck); `dh` is wiped. */
const kdfRoot = (rootKey: Uint8Array, dh: Uint8Array): readonly [Uint8Array, Uint8Array] => {
  const keys = kdfRootWith(rootKey, dh, ROOT_INFO)
  wipe(dh)
  return keys
}

/** The chain B sends on before it hears from A, and A receives on for DHr = EB. */
const initialChain = (rootKey: Uint8Array): Uint8Array => hkdf32(rootKey, INITIAL_INFO)

const emptyState = (rootKey: Uint8Array, sendingKey: X25519KeyPair, sendingChain: Uint8Array) => ({
  rootKey,
  sendingKey,
  sendingChain,
  sent: 0,
  received: 0,
  previousSent: 0,
  skipped: new Map<string, SkippedKey>(),
  retired: [],
})

/**
 * Alice, the requester: a fresh ratchet key, one DH step towards B's ratchet key EB, and the initial
 * chain as receiving chain for EB. Copies its inputs (the caller wipes its own).
 */
export const initRatchetRequester = (
  rootKey: Uint8Array,
  accepterRatchetKey: Uint8Array,
  random: Random,
): Result.Result<RatchetState, RatchetError> => {
  const sendingKey = x25519KeyPair(random)
  const dh = x25519(sendingKey.secretKey, accepterRatchetKey)
  if (dh === undefined) {
    wipe(sendingKey.secretKey)
    return fail("LowOrderKey")
  }
  const [nextRoot, sendingChain] = kdfRoot(rootKey, dh)
  return Result.succeed({
    ...emptyState(nextRoot, sendingKey, sendingChain),
    remoteKey: Uint8Array.from(accepterRatchetKey),
    receivingChain: initialChain(rootKey),
  })
}

/** Bob, the accepter: his agreement ephemeral is his first ratchet key; he sends on the initial chain. */
export const initRatchetAccepter = (rootKey: Uint8Array, ownRatchetKey: X25519KeyPair): RatchetState => ({
  ...emptyState(Uint8Array.from(rootKey), copyPair(ownRatchetKey), initialChain(rootKey)),
  remoteKey: undefined,
  receivingChain: undefined,
})

const copyPair = (pair: X25519KeyPair): X25519KeyPair => ({
  publicKey: Uint8Array.from(pair.publicKey),
  secretKey: Uint8Array.from(pair.secretKey),
})

/** Seals `plaintext`: returns `header ‖ ciphertext ‖ tag`; AD = `ad ‖ header`. Advances the state. */
export const ratchetEncrypt = (
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  onMessageKey?: MessageKeyObserver,
): Result.Result<Uint8Array, RatchetError> => {
  if (state.sent >= MAX_COUNT) return fail("LimitReached")
  const [nextChain, messageKey] = kdfChain(state.sendingChain)
  wipe(state.sendingChain)
  state.sendingChain = nextChain
  const envelope = new Uint8Array(RATCHET_HEADER_BYTES + plaintext.length + AEAD_TAG_BYTES)
  envelope.set(state.sendingKey.publicKey)
  const view = new DataView(envelope.buffer)
  view.setUint32(32, state.previousSent)
  view.setUint32(36, state.sent)
  envelope.set(plaintext, RATCHET_HEADER_BYTES)
  state.sent += 1
  const aead = deriveMessageAead(messageKey, MESSAGE_INFO)
  const additional = withHeader(ad, envelope)
  aeadSealInPlace(aead.key, aead.nonce, additional, envelope.subarray(RATCHET_HEADER_BYTES), plaintext.length)
  wipeMessageAead()
  onMessageKey?.(messageKey)
  wipe(messageKey)
  return Result.succeed(envelope)
}

const withHeader = (ad: Uint8Array, envelope: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ad.length + RATCHET_HEADER_BYTES)
  out.set(ad)
  out.set(envelope.subarray(0, RATCHET_HEADER_BYTES), ad.length)
  return out
}

/** Opens with a message key (not wiped here); the plaintext is a fresh buffer, or undefined. */
const openWith = (messageKey: Uint8Array, ad: Uint8Array, envelope: Uint8Array): Uint8Array | undefined => {
  const aead = deriveMessageAead(messageKey, MESSAGE_INFO)
  // A copy: libsodium zeroes the output on a failed tag, and the caller's envelope must survive.
  const sealed = envelope.slice(RATCHET_HEADER_BYTES)
  const plaintext = aeadOpenInPlace(aead.key, aead.nonce, withHeader(ad, envelope), sealed)
  wipeMessageAead()
  return plaintext
}

const sameKey = (a: Uint8Array, b: Uint8Array): boolean => {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false
  return true
}

/** Derives the keys of messages `from..until-1` into `out`; returns the chain key after them (new buffer). */
const skipKeys = (
  chain: Uint8Array,
  remoteKey: Uint8Array,
  from: number,
  until: number,
  out: SkippedKey[],
) => {
  let current: Uint8Array = Uint8Array.from(chain)
  for (let index = from; index < until; index++) {
    const [next, messageKey] = kdfChain(current)
    wipe(current)
    current = next
    out.push({ remoteKey, index, messageKey })
  }
  return current
}

/** What a decryption would change, applied only once the tag verifies. */
interface Step {
  readonly skipped: SkippedKey[]
  readonly receivingChain: Uint8Array
  readonly received: number
  readonly turn?: {
    rootKey: Uint8Array
    sendingKey: X25519KeyPair
    sendingChain: Uint8Array
    remoteKey: Uint8Array
  }
}

const discard = (step: Step, messageKey: Uint8Array): void => {
  for (const key of step.skipped) wipe(key.messageKey)
  wipe(step.receivingChain, messageKey)
  if (step.turn !== undefined) wipe(step.turn.rootKey, step.turn.sendingKey.secretKey, step.turn.sendingChain)
}

const commit = (state: RatchetState, step: Step): void => {
  const { turn } = step
  if (turn !== undefined) {
    wipe(state.rootKey, state.sendingKey.secretKey, state.sendingChain)
    if (state.remoteKey !== undefined) state.retired.push(state.remoteKey)
    if (state.retired.length > MAX_RETIRED_KEYS) state.retired.shift()
    Object.assign(state, turn, { previousSent: state.sent, sent: 0 })
  }
  if (state.receivingChain !== undefined) wipe(state.receivingChain)
  state.receivingChain = step.receivingChain
  state.received = step.received
  for (const key of step.skipped) state.skipped.set(skippedId(key.remoteKey, key.index), key)
  for (const [id, key] of state.skipped) {
    if (state.skipped.size <= MAX_SKIPPED_KEYS) break
    wipe(key.messageKey)
    state.skipped.delete(id)
  }
}

/**
 * Opens `header ‖ ciphertext ‖ tag` from the peer (AD = `ad ‖ header`): a skipped key, the current
 * receiving chain, or a DH step for a new peer key (a fresh own key from `random`). On failure the
 * state is unchanged; on success the used message key is gone (a replay fails).
 */
export const ratchetDecrypt = (
  state: RatchetState,
  envelope: Uint8Array,
  ad: Uint8Array,
  random: Random,
  onMessageKey?: MessageKeyObserver,
): Result.Result<Uint8Array, RatchetError> => {
  if (envelope.length < RATCHET_HEADER_BYTES + AEAD_TAG_BYTES) return fail("Malformed")
  const remoteKey = envelope.subarray(0, 32)
  const view = new DataView(envelope.buffer, envelope.byteOffset, RATCHET_HEADER_BYTES)
  const previous = view.getUint32(32)
  const index = view.getUint32(36)
  if (state.skipped.size > 0) {
    const id = skippedId(remoteKey, index)
    const skipped = state.skipped.get(id)
    if (skipped !== undefined) {
      const plaintext = openWith(skipped.messageKey, ad, envelope)
      if (plaintext === undefined) return fail("Tampered")
      onMessageKey?.(skipped.messageKey)
      state.skipped.delete(id)
      wipe(skipped.messageKey)
      return Result.succeed(plaintext)
    }
  }
  const step = planStep(state, Uint8Array.from(remoteKey), previous, index, random)
  if (Result.isFailure(step)) return Result.fail(step.failure)
  const [chain, messageKey] = kdfChain(step.success.receivingChain)
  wipe(step.success.receivingChain)
  const planned: Step = { ...step.success, receivingChain: chain }
  const plaintext = openWith(messageKey, ad, envelope)
  if (plaintext === undefined) {
    discard(planned, messageKey)
    return fail("Tampered")
  }
  onMessageKey?.(messageKey)
  wipe(messageKey)
  commit(state, planned)
  return Result.succeed(plaintext)
}

/** The chain (and skipped keys) that lead to message `index` of `remoteKey`, computed aside. */
const planStep = (
  state: RatchetState,
  remoteKey: Uint8Array,
  previous: number,
  index: number,
  random: Random,
): Result.Result<Step, RatchetError> => {
  const skipped: SkippedKey[] = []
  const current = state.remoteKey
  if (current !== undefined && state.receivingChain !== undefined && sameKey(remoteKey, current)) {
    if (index < state.received) return fail("Replayed")
    if (index - state.received > MAX_SKIP) return fail("TooFarAhead")
    const chain = skipKeys(state.receivingChain, current, state.received, index, skipped)
    return Result.succeed({ skipped, receivingChain: chain, received: index + 1 })
  }
  if (state.retired.some((key) => sameKey(key, remoteKey))) return fail("Replayed")
  const oldChain = current !== undefined ? state.receivingChain : undefined
  if (oldChain !== undefined && previous > state.received && previous - state.received > MAX_SKIP) {
    return fail("TooFarAhead")
  }
  if (index > MAX_SKIP) return fail("TooFarAhead")
  const received = x25519(state.sendingKey.secretKey, remoteKey)
  if (received === undefined) return fail("LowOrderKey")
  if (oldChain !== undefined) wipe(skipKeys(oldChain, current!, state.received, previous, skipped))
  const [middleRoot, receivingChain] = kdfRoot(state.rootKey, received)
  const sendingKey = x25519KeyPair(random)
  const [rootKey, sendingChain] = kdfRoot(middleRoot, x25519(sendingKey.secretKey, remoteKey)!)
  wipe(middleRoot)
  const chain = skipKeys(receivingChain, remoteKey, 0, index, skipped)
  wipe(receivingChain)
  return Result.succeed({
    skipped,
    receivingChain: chain,
    received: index + 1,
    turn: { rootKey, sendingKey, sendingChain, remoteKey },
  })
}
