/**
 * What the relay, latency and login loads drive, whatever the server: a pair of connected sides
 * and its two lanes (A→B, B→A). A lane prepares the payloads of a burst before it is timed (onechat:
 * e2e envelopes sealed with the sender's ChatChannel; baselines: frames of the same length) and
 * verifies them afterwards. Every payload carries a u64 big-endian counter at `COUNTER_OFFSET`,
 * checked in order as it arrives. docs/protocol.md §8 (the envelope layout).
 */
import { paddedSize } from "../../src/crypto/padding.ts"
import { AEAD_TAG_BYTES } from "../../src/crypto/primitives.ts"
import { RATCHET_HEADER_BYTES } from "../../src/crypto/ratchet.ts"

/** One connected client of a pair. */
export interface PairSide {
  /** Sends the payloads in order, as one batch (one write where the transport allows). */
  send(payloads: ReadonlyArray<Uint8Array>): void
  /** Installs the handler for every payload arriving, replacing the previous one. */
  onPayload(handler: (payload: Uint8Array) => void): void
}

export interface Lane {
  readonly sender: PairSide
  readonly receiver: PairSide
  /** True when `verify` needs the received payloads (the runner then keeps them). */
  readonly verifiesPayloads: boolean
  /** Describes how arrivals are verified, for the report. */
  readonly verification: string
  /** The next `count` payloads for chat texts of `size` bytes, counters continuing from the last burst. */
  prepare(count: number, size: number): Uint8Array[]
  /** Checks what arrived in one burst, in order; returns how many payloads failed. */
  verify(received: ReadonlyArray<Uint8Array>, size: number): number
}

export interface OpenPair {
  readonly lanes: readonly [Lane, Lane]
  /** Closes both sides and waits until their sockets have closed. */
  close(): Promise<void>
}

/**
 * The e2e envelope length for a chat text of `size` bytes: ratchet header[40] ‖ the text padded to its
 * bucket (type byte, text, 0x80 marker, zeros) ‖ tag[16] (docs/protocol.md §8).
 */
export const envelopeBytes = (size: number): number =>
  RATCHET_HEADER_BYTES + paddedSize(size) + AEAD_TAG_BYTES

/**
 * Where a payload's counter sits: in an envelope, the ratchet header's `u32 pn ‖ u32 n` after the
 * sender's ratchet key. One burst is sealed on one sending chain (nothing is opened while it is
 * prepared), so its counters are consecutive; baseline frames write theirs at the same place.
 */
export const COUNTER_OFFSET = 32

const u32At = (bytes: Uint8Array, at: number): number =>
  ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0

/** The u64 big-endian counter of a payload (exact below 2^53); no allocation: it runs on arrival. */
export const readCounter = (payload: Uint8Array): number =>
  u32At(payload, COUNTER_OFFSET) * 2 ** 32 + u32At(payload, COUNTER_OFFSET + 4)

/** Writes `counter` where `readCounter` reads it (baseline frames). */
export const writeCounter = (payload: Uint8Array, counter: number): void => {
  const view = new DataView(payload.buffer, payload.byteOffset + COUNTER_OFFSET, 8)
  view.setUint32(0, Math.floor(counter / 2 ** 32))
  view.setUint32(4, counter % 2 ** 32)
}

/** Sends are split into calls of at most this many payloads (argument spreading has limits). */
export const SEND_CHUNK = 2_048
