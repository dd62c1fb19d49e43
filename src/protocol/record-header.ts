/**
 * The 11-byte RECORD header (`0x17 ‖ u8 version ‖ u8 direction ‖ u64 counter`) and the AEAD
 * additional data built from it. Pure: parses and writes bytes only; counter, direction and
 * replay POLICY belong to the record channel, and no crypto happens here. docs/protocol.md §5.1.
 */
import { Result } from "effect"
import {
  AEAD_TAG_BYTES,
  Direction,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_FRAME_BODY,
  PROTOCOL_VERSION,
  RECORD_HEADER_BYTES,
} from "./constants.ts"
import { failWith, type ProtocolError } from "./errors.ts"
import { expectFrameType } from "./frame.ts"

/** A parsed record frame body. All byte fields are zero-copy views of the body. */
export interface RecordHeader {
  readonly version: number
  readonly direction: Direction
  readonly counter: bigint
  /** The 11 header bytes, as needed for the additional data. */
  readonly header: Uint8Array
  /** Ciphertext ‖ tag (at least 16 bytes). */
  readonly ciphertext: Uint8Array
}

/** Length of the additional data: u32 frame length ‖ 11 header bytes. */
export const RECORD_AD_BYTES = FRAME_HEADER_BYTES + RECORD_HEADER_BYTES
const MIN_RECORD_BODY = RECORD_HEADER_BYTES + AEAD_TAG_BYTES
const U64_MAX = 0xffff_ffff_ffff_ffffn

/** Body length of a record carrying `plaintextLength` bytes: header + plaintext + tag. */
export const recordBodyLength = (plaintextLength: number): number =>
  RECORD_HEADER_BYTES + plaintextLength + AEAD_TAG_BYTES

const isDirection = (value: number): value is Direction =>
  value === Direction.ClientToServer || value === Direction.ServerToClient

const writeU32 = (target: Uint8Array, offset: number, value: number): void => {
  target[offset] = value >>> 24
  target[offset + 1] = (value >>> 16) & 0xff
  target[offset + 2] = (value >>> 8) & 0xff
  target[offset + 3] = value & 0xff
}

const readU32 = (bytes: Uint8Array, offset: number): number =>
  bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)

/**
 * Writes the 11-byte header at `offset` and returns the offset after it. Throws RangeError on a
 * bad direction, a counter outside u64, or a target too small.
 */
export const writeRecordHeader = (
  target: Uint8Array,
  offset: number,
  direction: Direction,
  counter: bigint,
): number => {
  if (!isDirection(direction)) throw new RangeError(`bad record direction ${direction}`)
  if (counter < 0n || counter > U64_MAX) throw new RangeError("record counter must fit in a u64")
  if (offset < 0 || offset + RECORD_HEADER_BYTES > target.length) {
    throw new RangeError("record header does not fit in the target buffer")
  }
  target[offset] = FrameType.Record
  target[offset + 1] = PROTOCOL_VERSION
  target[offset + 2] = direction
  writeU32(target, offset + 3, Number(counter >> 32n))
  writeU32(target, offset + 7, Number(counter & 0xffff_ffffn))
  return offset + RECORD_HEADER_BYTES
}

/**
 * Parses a RECORD frame body (without its length prefix). Fails with a frame-type error,
 * FrameTooLarge (over MAX_FRAME_BODY), BadLength (under 11 + 16 bytes), UnsupportedVersion
 * (version ≠ PROTOCOL_VERSION, 3) or BadPayload (direction not 1 or 2). Never throws.
 */
export const parseRecordHeader = (body: Uint8Array): Result.Result<RecordHeader, ProtocolError> => {
  const type = expectFrameType(body, FrameType.Record)
  if (Result.isFailure(type)) return Result.fail(type.failure)
  if (body.length > MAX_FRAME_BODY) {
    return failWith("FrameTooLarge", `RECORD of ${body.length} bytes, maximum ${MAX_FRAME_BODY}`)
  }
  if (body.length < MIN_RECORD_BODY) {
    return failWith("BadLength", `RECORD of ${body.length} bytes, minimum ${MIN_RECORD_BODY}`)
  }
  const version = body[1]!
  if (version !== PROTOCOL_VERSION) return failWith("UnsupportedVersion", `RECORD version ${version}`)
  const direction = body[2]!
  if (!isDirection(direction)) return failWith("BadPayload", `RECORD direction ${direction}`)
  const counter = (BigInt(readU32(body, 3)) << 32n) | BigInt(readU32(body, 7))
  return Result.succeed({
    version,
    direction,
    counter,
    header: body.subarray(0, RECORD_HEADER_BYTES),
    ciphertext: body.subarray(RECORD_HEADER_BYTES),
  })
}

/**
 * The AEAD additional data of a record: `u32 frameLength ‖ header` (15 bytes), where
 * `frameLength` is the frame's length field (= the body length). Throws RangeError on a header
 * that is not 11 bytes or a length outside u32.
 */
export const recordAdditionalData = (frameLength: number, header: Uint8Array): Uint8Array => {
  if (header.length !== RECORD_HEADER_BYTES)
    throw new RangeError(`record header must be ${RECORD_HEADER_BYTES} bytes`)
  if (!Number.isInteger(frameLength) || frameLength < 0 || frameLength > 0xffffffff) {
    throw new RangeError(`frame length ${frameLength} is not a u32`)
  }
  const ad = Buffer.allocUnsafe(RECORD_AD_BYTES)
  writeU32(ad, 0, frameLength)
  ad.set(header, FRAME_HEADER_BYTES)
  return ad
}
