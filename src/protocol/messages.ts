/**
 * Messages inside records (`u8 opcode ‖ u16 length ‖ payload`): the codec contract, the shared
 * decode loop over a record plaintext, the messages both directions share (MESSAGE, ERROR,
 * PING, PONG), and batching into record plaintexts. Pure: no I/O, no crypto; decoders never
 * throw, encoders throw RangeError only on our own bad data. docs/protocol.md §5.3, §6, §7.
 */
import { Result } from "effect"
import { checkRange, fixedSize, PayloadReader, PayloadWriter, sanitizeReasonText, u64Size } from "./codec.ts"
import {
  MAX_CERTIFICATE_BYTES,
  MAX_MESSAGE_PAYLOAD,
  MAX_RECORD_PLAINTEXT,
  MESSAGE_HEADER_BYTES,
  MIN_ENVELOPE_BYTES,
} from "./constants.ts"
import { type ErrorCode, isErrorCode } from "./error-codes.ts"
import { failWith, type ProtocolError, protocolError } from "./errors.ts"
import { encodedNameLength } from "./names.ts"
import { isApplicationOpcode, isHandshakeOpcode, Opcode, opcodeName } from "./opcodes.ts"

/** How one message type is sized, written and read. `size` validates and throws RangeError. */
export interface MessageCodec<M> {
  readonly opcode: Opcode
  readonly size: (message: M) => number
  readonly write: (writer: PayloadWriter, message: M) => void
  readonly read: (reader: PayloadReader) => M
}

/** The reading half of a codec (covariant in M, so a family's codecs fit one table). */
export type MessageDecoder<M> = Pick<MessageCodec<M>, "opcode" | "read">

/** Decoders indexed by opcode (256 slots); `undefined` where the opcode is not accepted. */
export type CodecTable<M> = ReadonlyArray<MessageDecoder<M> | undefined>

/** Builds the opcode-indexed table of a message family. */
export const codecTable = <M>(codecs: ReadonlyArray<MessageDecoder<M>>): CodecTable<M> => {
  const table: Array<MessageDecoder<M> | undefined> = new Array(256).fill(undefined)
  for (const codec of codecs) table[codec.opcode] = codec
  return table
}

const payloadSize = <M>(codec: MessageCodec<M>, message: M): number => {
  const size = codec.size(message)
  if (size > MAX_MESSAGE_PAYLOAD) {
    throw new RangeError(
      `${opcodeName(codec.opcode)} payload of ${size} bytes exceeds ${MAX_MESSAGE_PAYLOAD}`,
    )
  }
  return size
}

const writeSized = <M>(
  codec: MessageCodec<M>,
  target: Uint8Array,
  offset: number,
  message: M,
  size: number,
) => {
  const end = offset + MESSAGE_HEADER_BYTES + size
  if (offset < 0 || end > target.length) throw new RangeError("message does not fit in the target buffer")
  target[offset] = codec.opcode
  target[offset + 1] = size >>> 8
  target[offset + 2] = size & 0xff
  const writer = new PayloadWriter(target, offset + MESSAGE_HEADER_BYTES)
  codec.write(writer, message)
  if (writer.pos !== end) throw new Error(`${opcodeName(codec.opcode)} codec wrote a wrong size`) // defect
  return end
}

/** Encoded size (header included) of `message`. Throws RangeError on invalid data. */
export const encodedLengthWith = <M>(codec: MessageCodec<M>, message: M): number =>
  MESSAGE_HEADER_BYTES + payloadSize(codec, message)

/** Writes `message` at `offset`, returns the offset after it. Throws RangeError on invalid data. */
export const writeWith = <M>(
  codec: MessageCodec<M>,
  target: Uint8Array,
  offset: number,
  message: M,
): number => writeSized(codec, target, offset, message, payloadSize(codec, message))

/** `u8 opcode ‖ u16 length ‖ payload` in one buffer of the exact size. */
export const encodeWith = <M>(codec: MessageCodec<M>, message: M): Uint8Array => {
  const size = payloadSize(codec, message)
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + size)
  writeSized(codec, out, 0, message, size)
  return out
}

const rejectOpcode = (opcode: number, label: string): ProtocolError =>
  isApplicationOpcode(opcode) || isHandshakeOpcode(opcode)
    ? protocolError("OpcodeNotAllowed", `${opcodeName(opcode)} (opcode ${opcode}) in a ${label}`)
    : protocolError("UnknownOpcode", `opcode ${opcode} in a ${label}`)

/** Offset where the message starting at `offset` ends, or the framing error. */
const messageEnd = (plaintext: Uint8Array, offset: number, label: string): number | ProtocolError => {
  const left = plaintext.length - offset
  if (left < MESSAGE_HEADER_BYTES)
    return protocolError("BadLength", `${left} stray bytes at the end of a ${label}`)
  const length = (plaintext[offset + 1]! << 8) | plaintext[offset + 2]!
  if (left - MESSAGE_HEADER_BYTES < length) {
    const opcode = plaintext[offset]!
    return protocolError(
      "BadLength",
      `opcode ${opcode} declares ${length} bytes, ${left - MESSAGE_HEADER_BYTES} left`,
    )
  }
  return offset + MESSAGE_HEADER_BYTES + length
}

/**
 * Decodes every message of a record plaintext with `table`. Fails with EmptyRecord, BadLength,
 * UnknownOpcode, OpcodeNotAllowed, or the payload's own error. `label` names the record kind.
 */
export const decodeMessagesWith = <M>(
  plaintext: Uint8Array,
  table: CodecTable<M>,
  label: string,
): Result.Result<ReadonlyArray<M>, ProtocolError> => {
  if (plaintext.length === 0) return failWith("EmptyRecord", `${label} of 0 bytes`)
  if (plaintext.length > MAX_RECORD_PLAINTEXT)
    return failWith("BadLength", `${label} of ${plaintext.length} bytes`)
  const messages: M[] = []
  const reader = new PayloadReader()
  for (let offset = 0; offset < plaintext.length; ) {
    const opcode = plaintext[offset]!
    const codec = table[opcode]
    const end = messageEnd(plaintext, offset, label)
    if (typeof end !== "number") return Result.fail(end)
    if (codec === undefined) return Result.fail(rejectOpcode(opcode, label))
    reader.reset(plaintext, offset + MESSAGE_HEADER_BYTES, end, opcode)
    const message = codec.read(reader)
    const failure = reader.finish()
    if (failure !== undefined) return Result.fail(failure)
    messages.push(message)
    offset = end
  }
  return Result.succeed(messages)
}

/** MESSAGE (5): an end-to-end envelope `u64 counter ‖ ciphertext ‖ tag`, relayed unchanged. */
export interface ChatMessage {
  readonly type: "Message"
  /** At least MIN_ENVELOPE_BYTES (88); a zero-copy view when decoded. */
  readonly envelope: Uint8Array
}

/** ERROR (9): `u16 code ‖ u8 fatal ‖ u8 len ‖ text` (§7). */
export interface ErrorMessage {
  readonly type: "Error"
  readonly code: ErrorCode
  /** The sender closes the connection right after this record. */
  readonly fatal: boolean
  /** At most 200 printable ASCII characters (encoders sanitize). */
  readonly text: string
}

/** PING (10): `u64 value`. */
export interface PingMessage {
  readonly type: "Ping"
  readonly value: bigint
}

/** PONG (11): `u64 value`, the value of the PING it answers. */
export interface PongMessage {
  readonly type: "Pong"
  readonly value: bigint
}

/** An application message with an empty payload (QUIT, LIST from a client). */
export const emptyCodec = <T extends string>(
  type: T,
  opcode: Opcode,
): MessageCodec<{ readonly type: T }> => ({
  opcode,
  size: () => 0,
  write: () => {},
  read: (r) => {
    r.expectSize(0)
    return { type }
  },
})

/** MESSAGE, the same in both directions; the envelope is relayed as is. */
export const chatMessageCodec: MessageCodec<ChatMessage> = {
  opcode: Opcode.Message,
  size: (m) => {
    checkRange(m.envelope.length, MIN_ENVELOPE_BYTES, MAX_MESSAGE_PAYLOAD, "envelope length")
    return m.envelope.length
  },
  write: (w, m) => w.bytes(m.envelope),
  read: (r) => {
    if (r.remaining < MIN_ENVELOPE_BYTES) {
      r.fail("BadPayload", `envelope of ${r.remaining} bytes, minimum ${MIN_ENVELOPE_BYTES}`)
    }
    return { type: "Message", envelope: r.rest() }
  },
}

/** ERROR, the same in both directions; text is sanitized on encode, validated on decode. */
export const errorMessageCodec: MessageCodec<ErrorMessage> = {
  opcode: Opcode.Error,
  size: (m) => {
    if (!isErrorCode(m.code)) throw new RangeError(`unknown error code ${m.code}`)
    return 4 + sanitizeReasonText(m.text).length
  },
  write: (w, m) => {
    w.u16(m.code)
    w.u8(m.fatal ? 1 : 0)
    w.ascii(sanitizeReasonText(m.text))
  },
  read: (r) => {
    const code = r.check(r.u16("code"), "code", isErrorCode)
    const fatal = r.check(r.u8("fatal flag"), "fatal flag", isFlag)
    return { type: "Error", code, fatal: fatal === 1, text: r.text("text") }
  },
}

const isFlag = (value: number): value is 0 | 1 => value === 0 || value === 1

const u64Codec = <T extends "Ping" | "Pong">(
  type: T,
  opcode: Opcode,
): MessageCodec<{ readonly type: T; readonly value: bigint }> => ({
  opcode,
  size: (m) => u64Size(m.value, "value"),
  write: (w, m) => w.u64(m.value),
  read: (r) => {
    r.expectSize(8)
    return { type, value: r.u64("value") }
  },
})

/** PING and PONG: exactly one u64. */
export const pingCodec: MessageCodec<PingMessage> = u64Codec("Ping", Opcode.Ping)
export const pongCodec: MessageCodec<PongMessage> = u64Codec("Pong", Opcode.Pong)

/**
 * One field of a fixed-layout message: a user name (33 bytes), a certificate (`u16 len ‖ DER`, 1..2,048
 * bytes), or a byte string of exactly `n` bytes.
 */
export type Field<M> = readonly [
  name: Exclude<keyof M, "type"> & string,
  kind: "name" | "certificate" | number,
]

const fieldSize = (kind: Field<unknown>[1], value: unknown, name: string): number => {
  if (kind === "name") return encodedNameLength(value as string)
  if (kind === "certificate") {
    const der = value as Uint8Array
    checkRange(der.length, 1, MAX_CERTIFICATE_BYTES, name)
    return 2 + der.length
  }
  return fixedSize(value as Uint8Array, kind, name)
}

/**
 * The codec of a message made only of names, certificates and fixed-size byte strings, in `fields`
 * order (RTT, ACCEPT, REFUSE, CC_SESSION_ESTABLISHMENT, NOTIFY, the handshake messages, …).
 */
export const fieldsCodec = <M extends { readonly type: string }>(
  type: M["type"],
  opcode: Opcode,
  fields: ReadonlyArray<Field<M>>,
): MessageCodec<M> => ({
  opcode,
  size: (message) => {
    const record = message as unknown as Record<string, unknown>
    let size = 0
    for (const [name, kind] of fields) size += fieldSize(kind, record[name], name)
    return size
  },
  write: (writer, message) => {
    const record = message as unknown as Record<string, unknown>
    for (const [name, kind] of fields) {
      if (kind === "name") writer.name(record[name] as string)
      else if (kind === "certificate") writer.der(record[name] as Uint8Array)
      else writer.bytes(record[name] as Uint8Array)
    }
  },
  read: (reader) => {
    const message: Record<string, unknown> = { type }
    for (const [name, kind] of fields)
      message[name] =
        kind === "name"
          ? reader.name(name)
          : kind === "certificate"
            ? reader.der(MAX_CERTIFICATE_BYTES, name)
            : reader.bytes(kind, name)
    return message as unknown as M
  },
})
