/**
 * An open end-to-end chat: text and an authenticated goodbye ("bye", carrying how many texts were
 * sent) through the Double Ratchet (./ratchet.ts), padded to buckets (./padding.ts). Envelope =
 * ratchet header[40] ‖ ciphertext of the padded inner ‖ tag[16]; AD = transcript hash ‖ header.
 * Pure: randomness injected; never puts text or keys in errors or logs. docs/protocol.md §8.3–§8.5.
 */
import { Data, Result } from "effect"
import { MAX_TEXT_BYTES } from "../protocol/constants.ts"
import type { ChatKeys } from "./e2e.ts"
import { PADDING_BUCKETS, pad, unpad } from "./padding.ts"
import { AEAD_TAG_BYTES, type Random, wipe } from "./primitives.ts"
import {
  initRatchetAccepter,
  initRatchetRequester,
  RATCHET_HEADER_BYTES,
  RatchetError,
  type RatchetErrorReason,
  ratchetDecrypt,
  ratchetEncrypt,
} from "./ratchet.ts"
import { type RatchetState, wipeRatchet } from "./ratchet-state.ts"

/** The first byte of the padded inner plaintext. */
export const ContentType = { Text: 1, Bye: 2 } as const

export type ChatContent =
  | { readonly kind: "text"; readonly text: string }
  /** The peer's goodbye: `sent` is its count, `received` ours; `complete` when they match. */
  | { readonly kind: "bye"; readonly sent: number; readonly received: number; readonly complete: boolean }

export type ChatErrorReason = RatchetErrorReason | "Closed" | "Ended"

const own = {
  Closed: "This chat is closed.",
  Ended: "This chat has ended with a goodbye: no more text can be sent or received.",
} as const

export class ChatError extends Data.TaggedError("ChatError")<{ readonly reason: ChatErrorReason }> {
  override get message(): string {
    const reason = this.reason
    return reason === "Closed" || reason === "Ended" ? own[reason] : new RatchetError({ reason }).message
  }
}

const fail = (reason: ChatErrorReason) => Result.fail(new ChatError({ reason }))
const ENVELOPE_OVERHEAD = RATCHET_HEADER_BYTES + AEAD_TAG_BYTES
const BYE_BODY_BYTES = 8
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** An open chat. Not safe to share between two users of the same side: one instance per chat end. */
export class ChatChannel {
  readonly #state: RatchetState
  readonly #ad: Uint8Array
  readonly #random: Random
  #sent = 0
  #received = 0
  #byeSent = false
  #byeReceived = false
  #closed = false

  private constructor(state: RatchetState, ad: Uint8Array, random: Random) {
    this.#state = state
    this.#ad = ad
    this.#random = random
  }

  /**
   * Starts the ratchet from the verified agreement (docs/protocol.md §8.3). Consumes the keys: the
   * root key and the accepter's ratchet secret in `keys` are wiped (the channel keeps copies).
   */
  static open(keys: ChatKeys, random: Random): ChatChannel {
    let state: RatchetState
    if (keys.role === "requester") {
      if (keys.peerRatchetKey === undefined) throw new TypeError("the requester needs the peer's ratchet key")
      const started = initRatchetRequester(keys.rootKey, keys.peerRatchetKey, random)
      // EB already passed the agreement's X25519 check, so a failure here is a defect, not a peer fault.
      if (Result.isFailure(started)) throw new Error("the agreed ratchet key was refused")
      state = started.success
    } else {
      if (keys.ownRatchetKey === undefined) throw new TypeError("the accepter needs its ratchet key pair")
      state = initRatchetAccepter(keys.rootKey, keys.ownRatchetKey)
      wipe(keys.ownRatchetKey.secretKey)
    }
    wipe(keys.rootKey)
    return new ChatChannel(state, Uint8Array.from(keys.transcriptHash), random)
  }

  /** Texts sealed so far (the goodbye's count). */
  get sent(): number {
    return this.#sent
  }

  /** Texts opened so far. */
  get received(): number {
    return this.#received
  }

  /** The envelope for one text of 1..32,768 UTF-8 bytes (RangeError otherwise). */
  seal(text: string): Result.Result<Uint8Array, ChatError> {
    if (this.#closed) return fail("Closed")
    const body = Buffer.from(text, "utf8")
    if (body.length === 0 || body.length > MAX_TEXT_BYTES) {
      throw new RangeError(`chat text must be 1..${MAX_TEXT_BYTES} bytes`)
    }
    if (this.#byeSent || this.#byeReceived) return fail("Ended")
    const envelope = this.#sealInner(ContentType.Text, body)
    wipe(body)
    if (Result.isSuccess(envelope)) this.#sent += 1
    return envelope
  }

  /** The goodbye: `u64 texts sent`. Once sent (or received), no more text can be sealed. */
  sealBye(): Result.Result<Uint8Array, ChatError> {
    if (this.#closed) return fail("Closed")
    if (this.#byeSent) return fail("Ended")
    const body = new Uint8Array(BYE_BODY_BYTES)
    new DataView(body.buffer).setBigUint64(0, BigInt(this.#sent))
    const envelope = this.#sealInner(ContentType.Bye, body)
    if (Result.isSuccess(envelope)) this.#byeSent = true
    return envelope
  }

  #sealInner(contentType: number, body: Uint8Array): Result.Result<Uint8Array, ChatError> {
    const inner = pad(contentType, body)
    const envelope = ratchetEncrypt(this.#state, inner, this.#ad)
    wipe(inner)
    return Result.isSuccess(envelope) ? Result.succeed(envelope.success) : fail(envelope.failure.reason)
  }

  /**
   * Opens one envelope from the peer. Any failure leaves the ratchet as it was (the caller decides
   * whether the chat ends); text after the peer's goodbye is refused (Ended).
   */
  open(envelope: Uint8Array): Result.Result<ChatContent, ChatError> {
    if (this.#closed) return fail("Closed")
    if (this.#byeReceived) return fail("Ended")
    if (!PADDING_BUCKETS.includes(envelope.length - ENVELOPE_OVERHEAD)) return fail("Malformed")
    const opened = ratchetDecrypt(this.#state, envelope, this.#ad, this.#random)
    if (Result.isFailure(opened)) return fail(opened.failure.reason)
    const inner = opened.success
    const content = this.#read(inner)
    wipe(inner)
    return content
  }

  #read(inner: Uint8Array): Result.Result<ChatContent, ChatError> {
    const unpadded = unpad(inner)
    if (Result.isFailure(unpadded)) return fail("Malformed")
    const { contentType, body } = unpadded.success
    if (contentType === ContentType.Text) {
      if (body.length === 0) return fail("Malformed")
      let text: string
      try {
        text = utf8.decode(body)
      } catch {
        return fail("Malformed")
      }
      this.#received += 1
      return Result.succeed({ kind: "text", text })
    }
    if (contentType !== ContentType.Bye || body.length !== BYE_BODY_BYTES) return fail("Malformed")
    const count = new DataView(body.buffer, body.byteOffset, BYE_BODY_BYTES).getBigUint64(0)
    if (count > BigInt(Number.MAX_SAFE_INTEGER)) return fail("Malformed")
    this.#byeReceived = true
    const sent = Number(count)
    return Result.succeed({ kind: "bye", sent, received: this.#received, complete: sent === this.#received })
  }

  /** Ends the chat: every ratchet key is wiped; later calls fail with Closed. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    wipeRatchet(this.#state)
    wipe(this.#ad)
  }
}
