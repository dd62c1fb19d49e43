/**
 * What the man-in-the-middle proxy (proxy.ts) can be told to do: the vocabulary of directions,
 * phases, frame selectors and manipulations a network attacker without keys can apply to a single
 * length-prefixed frame (docs/protocol.md §2.1), and the record of a frame as an endpoint sent it.
 * Types only: no I/O.
 */

/** Client→server or server→client. */
export type Way = "c2s" | "s2c"

/** What the endpoints are doing, as the test announces it (`proxy.phase = ...`). */
export type Phase = "login" | "list" | "request" | "e2e" | "chat"

export type Manipulation =
  /** The frame never arrives. */
  | { readonly kind: "drop" }
  /** The frame arrives twice in a row. */
  | { readonly kind: "duplicate" }
  /** The frame is held back and sent right after the next frame of the same direction. */
  | { readonly kind: "swap" }
  /** The frame, and so everything after it in its direction, arrives `ms` later (not an attack). */
  | { readonly kind: "delay"; readonly ms: number }
  /**
   * Only the first `keep` body bytes (at most all but one) are sent: with `close`, under the original
   * length prefix and then the connection is closed both ways; otherwise under a length prefix
   * rewritten to match.
   */
  | { readonly kind: "truncate"; readonly keep: number; readonly close: boolean }
  /** `forge(frame)` (complete frame bytes, or any bytes) is sent before the frame or in its place. */
  | {
      readonly kind: "inject"
      readonly forge: (frame: Uint8Array) => Uint8Array
      readonly position: "before" | "instead"
    }
  /** The frame goes back to the endpoint that sent it, and not forward. */
  | { readonly kind: "reflect" }
  /** Byte `offset` of the frame (0–3: the length prefix; at most the last byte) is XORed with `mask`. */
  | { readonly kind: "flip"; readonly offset: number; readonly mask: number }

/** Selects one frame: the `index`-th (from 0) of `connection` in direction `way` during `phase`. */
export interface FrameSelector {
  /** Accept order of the connection, from 0. */
  readonly connection: number
  readonly way: Way
  readonly phase: Phase
  readonly index: number
}

export interface Rule extends FrameSelector {
  readonly action: Manipulation
}

/** A frame as an endpoint sent it (length prefix included). */
export interface SeenFrame extends FrameSelector {
  readonly bytes: Uint8Array
}
