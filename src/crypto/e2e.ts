/**
 * End-to-end key agreement between two clients (RTT → ACCEPT → CC_SESSION_ESTABLISHMENT) and the
 * chat channel that seals chat text with directional keys and per-chat counters. The server only
 * relays these values. Pure: randomness injected, no I/O. docs/protocol.md §8.
 */
import { Data, Result } from "effect"
import { AEAD_TAG_BYTES, MAX_TEXT_BYTES, NONCE_BYTES, RECORD_LIMIT } from "../protocol/constants.ts"
import type { IdentityKeyPair } from "./identity.ts"
import { expandDirectionKeys } from "./key-schedule.ts"
import {
  aeadOpen,
  aeadSeal,
  bytesEqual,
  ed25519Sign,
  ed25519Verify,
  hkdfExpand,
  hkdfExtract,
  hmacSha256,
  type Random,
  sha256,
  wipe,
  type X25519KeyPair,
  x25519,
  x25519KeyPair,
} from "./primitives.ts"
import type { DirectionKeys } from "./record.ts"
import type { SecretBytes } from "./secret.ts"

export type E2eErrorReason =
  | "LowOrderKey"
  | "BadSignature"
  | "BadConfirmation"
  | "Replayed"
  | "Gap"
  | "Tampered"
  | "Malformed"
  | "LimitReached"
  | "Closed"

const sentences: Record<E2eErrorReason, string> = {
  LowOrderKey: "The peer sent an invalid ephemeral key.",
  BadSignature: "The peer's signature over the chat key agreement is invalid (wrong key or tampering).",
  BadConfirmation: "The peer's key confirmation did not match (tampering).",
  Replayed: "A chat message arrived with a counter already used (replay).",
  Gap: "A chat message arrived ahead of its turn (dropped or reordered).",
  Tampered: "A chat message failed its authentication check (tampering).",
  Malformed: "A chat message was malformed.",
  LimitReached: "The chat reached its message limit; start a new chat.",
  Closed: "The chat has ended.",
}

export class E2eError extends Data.TaggedError("E2eError")<{ readonly reason: E2eErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/** One participant as the other sees it: name and long-term Ed25519 key. */
export interface Party {
  readonly name: string
  readonly identityKey: Uint8Array
}

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "ascii"))
const nameField = (name: string): Uint8Array => Buffer.concat([Uint8Array.of(name.length), ascii(name)])

/** T = SHA-256("onechat v2 e2e" ‖ name(A) ‖ idA ‖ name(B) ‖ idB ‖ nA ‖ EA ‖ nB ‖ EB). */
export const chatTranscriptHash = (
  requester: Party,
  accepter: Party,
  requesterHello: { readonly nonce: Uint8Array; readonly ephemeralKey: Uint8Array },
  accepterHello: { readonly nonce: Uint8Array; readonly ephemeralKey: Uint8Array },
): Uint8Array =>
  sha256(
    ascii("onechat v2 e2e"),
    nameField(requester.name),
    requester.identityKey,
    nameField(accepter.name),
    accepter.identityKey,
    requesterHello.nonce,
    requesterHello.ephemeralKey,
    accepterHello.nonce,
    accepterHello.ephemeralKey,
  )

const ACCEPT_LABEL = "onechat v2 e2e accept"
const ESTABLISH_LABEL = "onechat v2 e2e establish"
const signed = (label: string, hash: Uint8Array) => Buffer.concat([ascii(label), Uint8Array.of(0), hash])

interface ChatSecrets {
  readonly requesterToAccepter: DirectionKeys
  readonly accepterToRequester: DirectionKeys
  readonly requesterConfirmation: Uint8Array
  readonly accepterConfirmation: Uint8Array
}

const deriveChatSecrets = (shared: Uint8Array, hash: Uint8Array): ChatSecrets => {
  const k = hkdfExtract(hash, shared)
  const confirm = (label: string) => hmacSha256(hkdfExpand(k, ascii(label), 32), hash)
  const secrets = {
    requesterToAccepter: expandDirectionKeys(k, "onechat v2 e2e a2b key", "onechat v2 e2e a2b iv"),
    accepterToRequester: expandDirectionKeys(k, "onechat v2 e2e b2a key", "onechat v2 e2e b2a iv"),
    requesterConfirmation: confirm("onechat v2 e2e a confirm"),
    accepterConfirmation: confirm("onechat v2 e2e b confirm"),
  }
  wipe(k)
  return secrets
}

/** The requester's first step: the nonce and ephemeral key that RTT carries. */
export interface ChatRequest {
  readonly nonce: Uint8Array
  readonly ephemeral: X25519KeyPair
}

export const startChatRequest = (random: Random): ChatRequest => ({
  nonce: random(NONCE_BYTES),
  ephemeral: x25519KeyPair(random),
})

/** What ACCEPT carries, plus the accepter's state until CC_SESSION_ESTABLISHMENT arrives. */
export interface ChatAcceptance {
  readonly nonce: Uint8Array
  readonly ephemeralKey: Uint8Array
  readonly signature: Uint8Array
  readonly confirmation: Uint8Array
  readonly pending: { readonly hash: Uint8Array; readonly requester: Party; readonly secrets: ChatSecrets }
}

/** The accepter answers an RTT: signs T, derives the chat keys, confirms them. */
export const acceptChatRequest = (input: {
  readonly random: Random
  readonly me: { readonly name: string; readonly key: IdentityKeyPair }
  readonly requester: Party
  readonly requesterNonce: Uint8Array
  readonly requesterEphemeralKey: Uint8Array
}): Result.Result<ChatAcceptance, E2eError> => {
  const nonce = input.random(NONCE_BYTES)
  const ephemeral = x25519KeyPair(input.random)
  const shared = x25519(ephemeral.secretKey, input.requesterEphemeralKey)
  wipe(ephemeral.secretKey)
  if (shared === undefined) return Result.fail(new E2eError({ reason: "LowOrderKey" }))
  const me: Party = { name: input.me.name, identityKey: input.me.key.publicKey }
  const hash = chatTranscriptHash(
    input.requester,
    me,
    { nonce: input.requesterNonce, ephemeralKey: input.requesterEphemeralKey },
    { nonce, ephemeralKey: ephemeral.publicKey },
  )
  const secrets = deriveChatSecrets(shared, hash)
  wipe(shared)
  return Result.succeed({
    nonce,
    ephemeralKey: ephemeral.publicKey,
    signature: ed25519Sign(input.me.key.secretKey.expose(), signed(ACCEPT_LABEL, hash)),
    confirmation: secrets.accepterConfirmation,
    pending: { hash, requester: input.requester, secrets },
  })
}

/**
 * The requester receives ACCEPT: verifies the accepter's signature (with the key the caller has
 * checked against its pin) and confirmation, then produces CC_SESSION_ESTABLISHMENT's values and
 * the open chat.
 */
export const completeChatRequest = (input: {
  readonly request: ChatRequest
  readonly me: { readonly name: string; readonly key: IdentityKeyPair }
  readonly accepter: Party
  readonly accept: {
    readonly nonce: Uint8Array
    readonly ephemeralKey: Uint8Array
    readonly signature: Uint8Array
    readonly confirmation: Uint8Array
  }
}): Result.Result<
  { readonly signature: Uint8Array; readonly confirmation: Uint8Array; readonly chat: ChatChannel },
  E2eError
> => {
  const { request, accept } = input
  const me: Party = { name: input.me.name, identityKey: input.me.key.publicKey }
  const hash = chatTranscriptHash(
    me,
    input.accepter,
    { nonce: request.nonce, ephemeralKey: request.ephemeral.publicKey },
    accept,
  )
  if (!ed25519Verify(input.accepter.identityKey, signed(ACCEPT_LABEL, hash), accept.signature)) {
    return Result.fail(new E2eError({ reason: "BadSignature" }))
  }
  const shared = x25519(request.ephemeral.secretKey, accept.ephemeralKey)
  wipe(request.ephemeral.secretKey)
  if (shared === undefined) return Result.fail(new E2eError({ reason: "LowOrderKey" }))
  const secrets = deriveChatSecrets(shared, hash)
  wipe(shared)
  if (!bytesEqual(accept.confirmation, secrets.accepterConfirmation)) {
    wipeSecrets(secrets)
    return Result.fail(new E2eError({ reason: "BadConfirmation" }))
  }
  return Result.succeed({
    signature: ed25519Sign(input.me.key.secretKey.expose(), signed(ESTABLISH_LABEL, hash)),
    confirmation: secrets.requesterConfirmation,
    chat: new ChatChannel(secrets.requesterToAccepter, secrets.accepterToRequester),
  })
}

/** The accepter receives CC_SESSION_ESTABLISHMENT: verifies it and opens the chat. */
export const completeChatAcceptance = (
  pending: ChatAcceptance["pending"],
  establishment: { readonly signature: Uint8Array; readonly confirmation: Uint8Array },
): Result.Result<ChatChannel, E2eError> => {
  const { hash, requester, secrets } = pending
  if (!ed25519Verify(requester.identityKey, signed(ESTABLISH_LABEL, hash), establishment.signature)) {
    wipeSecrets(secrets)
    return Result.fail(new E2eError({ reason: "BadSignature" }))
  }
  if (!bytesEqual(establishment.confirmation, secrets.requesterConfirmation)) {
    wipeSecrets(secrets)
    return Result.fail(new E2eError({ reason: "BadConfirmation" }))
  }
  return Result.succeed(new ChatChannel(secrets.accepterToRequester, secrets.requesterToAccepter))
}

/** Drops an acceptance that will never complete (refused, cancelled, peer left). */
export const abandonChatAcceptance = (pending: ChatAcceptance["pending"]): void =>
  wipeSecrets(pending.secrets)

const wipeKeys = (...directions: ReadonlyArray<DirectionKeys>): void => {
  for (const keys of directions) {
    keys.key.wipe()
    keys.iv.wipe()
  }
}

const wipeSecrets = (secrets: ChatSecrets): void =>
  wipeKeys(secrets.requesterToAccepter, secrets.accepterToRequester)

const COUNTER_BYTES = 8

/** An open chat: seals outgoing text into MESSAGE envelopes and opens incoming ones, in order. */
export class ChatChannel {
  readonly #send: DirectionKeys
  readonly #receive: DirectionKeys
  readonly #limit: bigint
  #sendCounter = 0n
  #receiveCounter = 0n
  #closed = false

  constructor(send: DirectionKeys, receive: DirectionKeys, limit: bigint = RECORD_LIMIT) {
    this.#send = send
    this.#receive = receive
    this.#limit = limit
  }

  /** The e2e envelope for one chat text: u64 counter ‖ ciphertext ‖ tag. */
  seal(text: string): Result.Result<Uint8Array, E2eError> {
    if (this.#closed) return Result.fail(new E2eError({ reason: "Closed" }))
    if (this.#sendCounter >= this.#limit) return Result.fail(new E2eError({ reason: "LimitReached" }))
    const plaintext = Buffer.from(text, "utf8")
    if (plaintext.length === 0 || plaintext.length > MAX_TEXT_BYTES) {
      throw new RangeError(`chat text must be 1..${MAX_TEXT_BYTES} bytes`)
    }
    const counter = Buffer.allocUnsafe(COUNTER_BYTES)
    counter.writeBigUInt64BE(this.#sendCounter)
    const sealed = aeadSeal(this.#send.key.expose(), nonceFor(this.#send.iv, counter), counter, plaintext)
    this.#sendCounter += 1n
    return Result.succeed(Buffer.concat([counter, sealed]))
  }

  /** Opens one envelope from the peer; any failure means the chat must end. */
  open(envelope: Uint8Array): Result.Result<string, E2eError> {
    if (this.#closed) return Result.fail(new E2eError({ reason: "Closed" }))
    if (envelope.length < COUNTER_BYTES + AEAD_TAG_BYTES + 1)
      return Result.fail(new E2eError({ reason: "Malformed" }))
    const counterBytes = envelope.subarray(0, COUNTER_BYTES)
    const counter = Buffer.from(counterBytes.buffer, counterBytes.byteOffset, COUNTER_BYTES).readBigUInt64BE()
    if (this.#receiveCounter >= this.#limit) return Result.fail(new E2eError({ reason: "LimitReached" }))
    if (counter !== this.#receiveCounter) {
      return Result.fail(new E2eError({ reason: counter < this.#receiveCounter ? "Replayed" : "Gap" }))
    }
    const nonce = nonceFor(this.#receive.iv, counterBytes)
    const plaintext = aeadOpen(
      this.#receive.key.expose(),
      nonce,
      counterBytes,
      envelope.subarray(COUNTER_BYTES),
    )
    if (plaintext === undefined) return Result.fail(new E2eError({ reason: "Tampered" }))
    this.#receiveCounter += 1n
    return Result.succeed(
      Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length).toString("utf8"),
    )
  }

  /** Ends the chat: both directions' keys are wiped. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    wipeKeys(this.#send, this.#receive)
  }
}

const nonceFor = (iv: SecretBytes, counter: Uint8Array): Uint8Array => {
  const nonce = Uint8Array.from(iv.expose())
  for (let i = 0; i < COUNTER_BYTES; i++) nonce[4 + i]! ^= counter[i]!
  return nonce
}
