/**
 * Application messages the server sends to a client, as a discriminated union on `type`, with
 * their encoders and the decoder of a server→client application record. Pure: no I/O, no
 * crypto; the decoder never throws. docs/protocol.md §6.1 (S→C column), §7.
 */
import type { Result } from "effect"
import { checkRange } from "./codec.ts"
import {
  KEM_CIPHERTEXT_BYTES,
  KEM_ENCAPSULATION_KEY_BYTES,
  KEY_BYTES,
  LIST_PAD_NAMES,
  MAC_BYTES,
  MAX_LIST_NAMES,
  NAME_FIELD_BYTES,
  NONCE_BYTES,
  SIGNATURE_BYTES,
} from "./constants.ts"
import type { ProtocolError } from "./errors.ts"
import {
  type ChatMessage,
  chatMessageCodec,
  codecTable,
  decodeMessagesWith,
  type ErrorMessage,
  encodedLengthWith,
  encodeWith,
  errorMessageCodec,
  fieldsCodec,
  type MessageCodec,
  type PingMessage,
  type PongMessage,
  pingCodec,
  pongCodec,
  writeWith,
} from "./messages.ts"
import { encodedNameLength, isZeroFill } from "./names.ts"
import { NotFoundReason, NotifyReason, Opcode } from "./opcodes.ts"

/** A message from the server to a client. Byte fields are zero-copy views when decoded. */
export type ServerMessage =
  /** Available users, sorted: at most 1,000 `names`; `total` counts them all. */
  | { readonly type: "List"; readonly total: number; readonly names: ReadonlyArray<string> }
  /**
   * `from` asks to talk; `certificate` is their CA-issued identity certificate (DER), which the client
   * verifies itself: the server cannot make a client accept a key the CA did not certify.
   */
  | {
      readonly type: "Rtt"
      readonly from: string
      readonly certificate: Uint8Array
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemKey: Uint8Array
    }
  | {
      readonly type: "Accept"
      readonly from: string
      readonly certificate: Uint8Array
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemCiphertext: Uint8Array
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "Refuse"; readonly from: string }
  | ChatMessage
  | {
      readonly type: "CcSessionEstablishment"
      readonly from: string
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "UserNotFound"; readonly user: string; readonly reason: NotFoundReason }
  /** The conversation with `peer` ended, for `reason`. */
  | { readonly type: "Notify"; readonly peer: string; readonly reason: NotifyReason }
  | ErrorMessage
  | PingMessage
  | PongMessage

/** The variant of ServerMessage with `type` K. */
export type ServerMessageOf<K extends ServerMessage["type"]> = Extract<ServerMessage, { readonly type: K }>

type ServerCodecs = { readonly [K in ServerMessage["type"]]: MessageCodec<ServerMessageOf<K>> }

const isNotFoundReason = (value: number): value is NotFoundReason =>
  Object.values<number>(NotFoundReason).includes(value)
const isNotifyReason = (value: number): value is NotifyReason =>
  Object.values<number>(NotifyReason).includes(value)

/** Name slots a LIST of `count` names takes: `count` rounded up to a multiple of 16 (§6.1). */
const listSlots = (count: number): number => Math.ceil(count / LIST_PAD_NAMES) * LIST_PAD_NAMES

const listCodec: MessageCodec<ServerMessageOf<"List">> = {
  opcode: Opcode.List,
  size: (m) => {
    checkRange(m.names.length, 0, MAX_LIST_NAMES, "LIST name count")
    checkRange(m.total, m.names.length, 0xffff, "LIST total")
    for (const name of m.names) encodedNameLength(name)
    return 4 + listSlots(m.names.length) * NAME_FIELD_BYTES
  },
  write: (w, m) => {
    w.u16(m.total)
    w.u16(m.names.length)
    for (const name of m.names) w.name(name)
    w.bytes(new Uint8Array((listSlots(m.names.length) - m.names.length) * NAME_FIELD_BYTES))
  },
  read: (r) => {
    const total = r.u16("total")
    const count = r.u16("count")
    if (count > MAX_LIST_NAMES) r.fail("BadPayload", `count ${count} exceeds ${MAX_LIST_NAMES}`)
    if (total < count) r.fail("BadPayload", `total ${total} is below count ${count}`)
    const slots = listSlots(count)
    if (slots * NAME_FIELD_BYTES !== r.remaining)
      r.fail("BadPayload", `${count} names take ${slots} slots, not ${r.remaining} bytes`)
    const names: string[] = []
    for (let i = 0; i < count && !r.failed; i++) names.push(r.name("name"))
    if (!r.failed) {
      const fill = r.rest()
      if (!isZeroFill(fill, 0, fill.length)) r.fail("BadPayload", "LIST padding is not zero")
    }
    return { type: "List", total, names }
  },
}

const codecs: ServerCodecs = {
  List: listCodec,
  Rtt: fieldsCodec("Rtt", Opcode.Rtt, [
    ["from", "name"],
    ["certificate", "certificate"],
    ["nonce", NONCE_BYTES],
    ["ephemeralKey", KEY_BYTES],
    ["kemKey", KEM_ENCAPSULATION_KEY_BYTES],
  ]),
  Accept: fieldsCodec("Accept", Opcode.Accept, [
    ["from", "name"],
    ["certificate", "certificate"],
    ["nonce", NONCE_BYTES],
    ["ephemeralKey", KEY_BYTES],
    ["kemCiphertext", KEM_CIPHERTEXT_BYTES],
    ["signature", SIGNATURE_BYTES],
    ["confirmation", MAC_BYTES],
  ]),
  Refuse: fieldsCodec("Refuse", Opcode.Refuse, [["from", "name"]]),
  Message: chatMessageCodec,
  CcSessionEstablishment: fieldsCodec("CcSessionEstablishment", Opcode.CcSessionEstablishment, [
    ["from", "name"],
    ["signature", SIGNATURE_BYTES],
    ["confirmation", MAC_BYTES],
  ]),
  UserNotFound: {
    opcode: Opcode.UserNotFound,
    size: (m) => {
      if (!isNotFoundReason(m.reason)) throw new RangeError(`bad USER_NOT_FOUND reason ${m.reason}`)
      return encodedNameLength(m.user) + 1
    },
    write: (w, m) => {
      w.name(m.user)
      w.u8(m.reason)
    },
    read: (r) => ({
      type: "UserNotFound",
      user: r.name("user"),
      reason: r.check(r.u8("reason"), "reason", isNotFoundReason),
    }),
  },
  Notify: {
    opcode: Opcode.Notify,
    size: (m) => {
      if (!isNotifyReason(m.reason)) throw new RangeError(`bad NOTIFY reason ${m.reason}`)
      return encodedNameLength(m.peer) + 1
    },
    write: (w, m) => {
      w.name(m.peer)
      w.u8(m.reason)
    },
    read: (r) => ({
      type: "Notify",
      peer: r.name("peer"),
      reason: r.check(r.u8("reason"), "reason", isNotifyReason),
    }),
  },
  Error: errorMessageCodec,
  Ping: pingCodec,
  Pong: pongCodec,
}

const table = codecTable<ServerMessage>(Object.values(codecs))

const codecFor = (m: ServerMessage): MessageCodec<ServerMessage> => {
  const codec = codecs[m.type] as MessageCodec<ServerMessage> | undefined
  if (codec === undefined) throw new RangeError("not a server message type")
  return codec
}

/** `u8 opcode ‖ u16 length ‖ payload` of a server message. Throws RangeError on invalid fields. */
export const encodeServerMessage = (message: ServerMessage): Uint8Array =>
  encodeWith(codecFor(message), message)

/** Encoded size of a server message, header included. Throws RangeError on invalid fields. */
export const encodedServerMessageLength = (message: ServerMessage): number =>
  encodedLengthWith(codecFor(message), message)

/** Writes a server message at `offset` of `target`; returns the offset after it. */
export const writeServerMessage = (target: Uint8Array, offset: number, message: ServerMessage): number =>
  writeWith(codecFor(message), target, offset, message)

/**
 * Decodes the plaintext of a server→client application record into its messages, in order.
 * Handshake opcodes and QUIT give OpcodeNotAllowed. Never throws.
 */
export const decodeServerMessages = (
  plaintext: Uint8Array,
): Result.Result<ReadonlyArray<ServerMessage>, ProtocolError> =>
  decodeMessagesWith(plaintext, table, "server application record")
