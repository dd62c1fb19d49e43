/**
 * The catalogue of attempts: the frames of each phase worth attacking (named for people), and for
 * a target frame every kind of manipulation, the sampled byte flips of a long frame, or a flip of
 * every byte. Pure: builds attempts from an honest frame; running them is campaign.ts's job.
 */
import type { Random } from "../../src/crypto/primitives.ts"
import {
  AEAD_TAG_BYTES,
  FRAME_HEADER_BYTES,
  FrameType,
  KEM_ENCAPSULATION_KEY_BYTES,
  KEY_BYTES,
  NONCE_BYTES,
  PROTOCOL_NAME,
  RECORD_HEADER_BYTES,
} from "../../src/protocol/index.ts"
import type { FrameSelector, Manipulation, Phase, Way } from "./rules.ts"

/** One frame of a phase, named for people. Connection 0 is the requester, 1 the accepter. */
export interface Target extends FrameSelector {
  readonly what: string
}

const target = (phase: Phase, connection: 0 | 1, way: Way, index: number, what: string): Target => ({
  phase,
  connection,
  way,
  index,
  what,
})

export const PHASES: ReadonlyArray<Phase> = ["login", "list", "request", "e2e", "chat"]

export const MITM_TARGETS: ReadonlyArray<Target> = [
  target("login", 0, "c2s", 0, "CLIENT_HELLO (1.0)"),
  target("login", 0, "s2c", 0, "SERVER_HELLO"),
  target("login", 0, "s2c", 1, "server authentication record (1.1)"),
  target("login", 0, "c2s", 1, "client authentication record (1.2)"),
  target("login", 0, "s2c", 2, "user list record (1.3)"),
  target("list", 0, "c2s", 0, "LIST request"),
  target("list", 0, "s2c", 0, "LIST reply"),
  target("request", 0, "c2s", 0, "RTT from the requester"),
  target("request", 1, "s2c", 0, "RTT relayed to the accepter"),
  target("e2e", 1, "c2s", 0, "ACCEPT from the accepter"),
  target("e2e", 0, "s2c", 0, "ACCEPT relayed to the requester"),
  target("e2e", 0, "c2s", 0, "CC_SESSION_ESTABLISHMENT from the requester"),
  target("e2e", 1, "s2c", 0, "CC_SESSION_ESTABLISHMENT relayed to the accepter"),
  target("chat", 0, "c2s", 0, "first MESSAGE from the requester"),
  target("chat", 0, "c2s", 1, "second MESSAGE from the requester"),
  target("chat", 1, "s2c", 0, "first MESSAGE relayed to the accepter"),
  target("chat", 1, "c2s", 0, "first MESSAGE from the accepter"),
  target("chat", 0, "s2c", 0, "first MESSAGE relayed to the requester"),
]

/**
 * Per phase, the frame whose every byte is flipped in turn: one whose size does not depend on who
 * else is online (LIST replies do).
 */
export const EVERY_BYTE_TARGETS: Record<Phase, Target> = {
  login: MITM_TARGETS[0]!,
  list: MITM_TARGETS[5]!,
  request: MITM_TARGETS[8]!,
  e2e: MITM_TARGETS[11]!,
  chat: MITM_TARGETS[13]!,
}

/** One manipulation of one target frame. */
export interface Attempt {
  readonly target: Target
  readonly name: string
  readonly action: Manipulation
}

/** A frame of the same size with plausible header fields (type, version, direction, counter). */
const forgeLike =
  (random: Random) =>
  (frame: Uint8Array): Uint8Array => {
    const type = frame[4]
    const keep =
      type === FrameType.Record
        ? 15
        : type === FrameType.ClientHello
          ? 13
          : type === FrameType.ServerHello
            ? 6
            : 5
    return Buffer.concat([frame.subarray(0, keep), random(frame.length - keep)])
  }

const span = (from: number, to: number, step = 1): number[] =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step)
/** Inside one key or ciphertext a flip anywhere meets the same check: its edges and every 16th byte. */
const field = (from: number, to: number): number[] => [...span(from, to, 16), to - 1]
/** Frames up to this size have every byte flipped. */
const SHORT_FRAME_BYTES = 200

/**
 * The offsets a test flips in `frame`: all of a short frame; of a long one (v3's CLIENT_HELLO with its
 * ML-KEM key, a record carrying a certificate and a key) every framing and header byte, the edges of
 * each field and every 16th byte inside it, so the test takes about as long as with v2's short frames.
 */
export const sampledOffsets = (frame: Uint8Array): number[] => {
  if (frame.length <= SHORT_FRAME_BYTES) return span(0, frame.length)
  if (frame[FRAME_HEADER_BYTES] === FrameType.ClientHello) {
    const nonce = FRAME_HEADER_BYTES + 1 + PROTOCOL_NAME.length + 1
    const key = nonce + NONCE_BYTES
    const kem = key + KEY_BYTES
    return [
      ...span(0, nonce),
      ...field(nonce, key),
      ...field(key, kem),
      ...field(kem, kem + KEM_ENCAPSULATION_KEY_BYTES),
    ]
  }
  const body = FRAME_HEADER_BYTES + RECORD_HEADER_BYTES
  const tag = frame.length - AEAD_TAG_BYTES
  return [...new Set([...span(0, body), ...field(body, tag), ...span(tag, frame.length)])]
}

/** Flips of single bits (XOR 0x01) at `offsets` of the target frame. */
export const flipsOf = (selected: Target, offsets: ReadonlyArray<number>): Attempt[] =>
  offsets.map((offset) => ({
    target: selected,
    name: `flip byte ${offset}`,
    action: { kind: "flip", offset, mask: 0x01 },
  }))

/**
 * Every kind of manipulation of one frame, given that frame as an honest session of other users
 * sent it (its size; material to inject), with a few representative byte flips.
 */
export const attemptsOn = (selected: Target, honest: Uint8Array, random: Random): Attempt[] => {
  const half = Math.floor((honest.length - FRAME_HEADER_BYTES) / 2)
  const samples = [3, 4, 5, 6, 14, Math.floor(honest.length / 2), honest.length - 1]
  const kinds: ReadonlyArray<readonly [string, Manipulation]> = [
    ["drop", { kind: "drop" }],
    ["duplicate", { kind: "duplicate" }],
    ["swap with the next frame", { kind: "swap" }],
    ["delay 250 ms", { kind: "delay", ms: 250 }],
    ["truncate to half, length rewritten", { kind: "truncate", keep: half, close: false }],
    ["truncate to half, then close", { kind: "truncate", keep: half, close: true }],
    [
      "replace with the frame of another session",
      { kind: "inject", position: "instead", forge: () => honest },
    ],
    ["inject a forged frame before it", { kind: "inject", position: "before", forge: forgeLike(random) }],
    ["inject 16 random bytes before it", { kind: "inject", position: "before", forge: () => random(16) }],
    ["reflect to its sender", { kind: "reflect" }],
  ]
  return [
    ...kinds.map(([name, action]) => ({ target: selected, name, action })),
    ...flipsOf(
      selected,
      [...new Set(samples)].filter((offset) => offset < honest.length),
    ),
  ]
}
