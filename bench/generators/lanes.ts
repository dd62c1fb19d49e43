/**
 * What the relay, latency and login loads drive, whatever the server: a pair of connected sides
 * and its two lanes (A→B, B→A). A lane prepares the payloads of a burst before it is timed (onechat:
 * e2e envelopes sealed with the sender's ChatChannel; baselines: frames of the same length) and
 * verifies them afterwards. Every payload starts with a u64 big-endian counter, checked in order
 * as it arrives.
 */

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

/** The e2e envelope length for a chat text of `size` bytes: u64 counter ‖ ciphertext ‖ tag[16]. */
export const envelopeBytes = (size: number): number => size + 8 + 16

/** The u64 big-endian counter at the start of a payload (exact below 2^53). */
export const readCounter = (payload: Uint8Array): number => {
  const high = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0
  const low = ((payload[4]! << 24) | (payload[5]! << 16) | (payload[6]! << 8) | payload[7]!) >>> 0
  return high * 2 ** 32 + low
}

/** Sends are split into calls of at most this many payloads (argument spreading has limits). */
export const SEND_CHUNK = 2_048
