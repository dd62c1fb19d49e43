/**
 * Framing: `u32 length ‖ body`, an incremental decoder correct across any chunk boundary, and
 * frame-type dispatch. Pure: no I/O, never throws on peer bytes; the length is checked as soon
 * as its 4 bytes arrive, before any body byte is buffered. docs/protocol.md §2.1, §2.2.
 */
import { Result } from "effect"
import { FRAME_HEADER_BYTES, FrameType, MAX_FRAME_BODY } from "./constants.ts"
import { failWith, hexByte, type ProtocolError, protocolError } from "./errors.ts"

/** Options of a FrameDecoder. */
export interface FrameDecoderOptions {
  /** Largest accepted body length; default MAX_FRAME_BODY (65,563). */
  readonly maxBody?: number
}

/** The result of a push that completed no frame: shared, so such a push allocates nothing. */
const noFrames: Result.Result<ReadonlyArray<Uint8Array>, ProtocolError> = Result.succeed(Object.freeze([]))

const readU32 = (bytes: Uint8Array, offset: number): number =>
  bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)

/**
 * Incremental frame decoder with two states (awaiting header, awaiting body), in the manner of
 * the ws receiver. Memory is bounded by `maxBody + 4` whatever the peer sends: a body that lies
 * wholly inside one chunk is returned as a zero-copy view of that chunk (so callers must not
 * reuse pushed chunks); a body split across chunks is copied once into a buffer of exactly its
 * size. A push that completes no frame allocates nothing (a peer trickling one byte per read costs
 * no garbage). Once failed, the decoder stays failed and returns the same error; when the bad
 * header follows complete frames in the same chunk, those frames are returned first and the error
 * is reported by the next push (and by end()).
 */
export class FrameDecoder {
  readonly #maxBody: number
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES)
  #headerFill = 0
  /** Length of the body being received; 0 while awaiting a header. */
  #bodyLength = 0
  #body: Uint8Array | undefined = undefined
  #bodyFill = 0
  #failure: ProtocolError | undefined = undefined
  /** The body #readBody just completed, handed to push (so no array is allocated until one is). */
  #completed: Uint8Array | undefined = undefined

  constructor(options: FrameDecoderOptions = {}) {
    const maxBody = options.maxBody ?? MAX_FRAME_BODY
    if (!Number.isInteger(maxBody) || maxBody < 1 || maxBody > 0xffffffff) {
      throw new RangeError(`maxBody must be an integer in 1..2^32-1, got ${maxBody}`)
    }
    this.#maxBody = maxBody
  }

  /** Bytes of the pending partial frame received so far (its header included); 0 after a failure. */
  get bufferedBytes(): number {
    return this.#bodyLength === 0 ? this.#headerFill : FRAME_HEADER_BYTES + this.#bodyFill
  }

  /**
   * The error this decoder has failed with, if any. Set as soon as a bad header is read, so it may
   * be set while the push that read it still succeeded (returning the frames before it): a caller
   * that wants to act on the error at once, rather than on the next push, checks it after a push.
   */
  get failure(): ProtocolError | undefined {
    return this.#failure
  }

  /**
   * Feeds one chunk; returns the bodies (without length prefix) of the frames it completed. A bad
   * header fails the push at once unless complete frames precede it in this chunk: then those are
   * returned, and the error is returned by every later push and by end().
   */
  push(chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, ProtocolError> {
    if (this.#failure !== undefined) return Result.fail(this.#failure)
    let frames: Uint8Array[] | undefined
    let pos = 0
    while (pos < chunk.length) {
      if (this.#bodyLength === 0) {
        pos = this.#readHeader(chunk, pos)
        if (this.#failure !== undefined) {
          return frames === undefined ? Result.fail(this.#failure) : Result.succeed(frames)
        }
      } else {
        pos = this.#readBody(chunk, pos)
        const frame = this.#completed
        if (frame !== undefined) {
          this.#completed = undefined
          if (frames === undefined) frames = [frame]
          else frames.push(frame)
        }
      }
    }
    return frames === undefined ? noFrames : Result.succeed(frames)
  }

  /** Call when the stream ends: fails with TruncatedStream if a frame is incomplete. */
  end(): Result.Result<void, ProtocolError> {
    if (this.#failure !== undefined) return Result.fail(this.#failure)
    const buffered = this.bufferedBytes
    if (buffered === 0) return Result.void
    const expected = this.#bodyLength === 0 ? "a 4-byte header" : `${FRAME_HEADER_BYTES + this.#bodyLength}`
    return Result.fail(
      this.#fail(protocolError("TruncatedStream", `${buffered} of ${expected} bytes received`)),
    )
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#failure = error
    this.#body = undefined
    this.#headerFill = 0
    this.#bodyLength = 0
    this.#bodyFill = 0
    return error
  }

  #readHeader(chunk: Uint8Array, pos: number): number {
    let length: number
    if (this.#headerFill === 0 && chunk.length - pos >= FRAME_HEADER_BYTES) {
      length = readU32(chunk, pos)
      pos += FRAME_HEADER_BYTES
    } else {
      while (this.#headerFill < FRAME_HEADER_BYTES && pos < chunk.length) {
        this.#header[this.#headerFill++] = chunk[pos++]!
      }
      if (this.#headerFill < FRAME_HEADER_BYTES) return pos
      this.#headerFill = 0
      length = readU32(this.#header, 0)
    }
    if (length === 0) this.#fail(protocolError("EmptyFrame", "declared length 0"))
    else if (length > this.#maxBody) {
      this.#fail(protocolError("FrameTooLarge", `declared length ${length}, maximum ${this.#maxBody}`))
    } else this.#bodyLength = length
    return pos
  }

  #readBody(chunk: Uint8Array, pos: number): number {
    const length = this.#bodyLength
    const available = chunk.length - pos
    if (this.#body === undefined) {
      if (available >= length) {
        this.#completed = chunk.subarray(pos, pos + length)
        this.#bodyLength = 0
        return pos + length
      }
      this.#body = Buffer.allocUnsafe(length)
    }
    const n = Math.min(length - this.#bodyFill, available)
    this.#body.set(n === chunk.length ? chunk : chunk.subarray(pos, pos + n), this.#bodyFill)
    this.#bodyFill += n
    if (this.#bodyFill === length) {
      this.#completed = this.#body
      this.#body = undefined
      this.#bodyFill = 0
      this.#bodyLength = 0
    }
    return pos + n
  }
}

const checkBodyLength = (length: number): void => {
  if (length < 1 || length > MAX_FRAME_BODY) {
    throw new RangeError(`frame body must be 1..${MAX_FRAME_BODY} bytes, got ${length}`)
  }
}

/** Writes the 4-byte big-endian length prefix of a body of `bodyLength` bytes at `offset`. */
export const writeFrameHeader = (target: Uint8Array, offset: number, bodyLength: number): void => {
  checkBodyLength(bodyLength)
  target[offset] = bodyLength >>> 24
  target[offset + 1] = (bodyLength >>> 16) & 0xff
  target[offset + 2] = (bodyLength >>> 8) & 0xff
  target[offset + 3] = bodyLength & 0xff
}

/** `u32 length ‖ body` in one buffer, for a single socket write. Throws RangeError on a bad size. */
export const encodeFrame = (body: Uint8Array): Uint8Array => {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length)
  writeFrameHeader(frame, 0, body.length)
  frame.set(body, FRAME_HEADER_BYTES)
  return frame
}

const frameTypeNames: Record<number, string> = {
  [FrameType.ClientHello]: "CLIENT_HELLO",
  [FrameType.ServerHello]: "SERVER_HELLO",
  [FrameType.Alert]: "ALERT",
  [FrameType.Record]: "RECORD",
}

/** True when `type` is one of the four frame types of §2.1. */
export const isFrameType = (type: number): type is FrameType => Object.hasOwn(frameTypeNames, type)

/** The frame type of a body: EmptyFrame for no bytes, UnknownFrameType for any other byte. */
export const frameTypeOf = (body: Uint8Array): Result.Result<FrameType, ProtocolError> => {
  if (body.length === 0) return failWith("EmptyFrame", "body has no type byte")
  const type = body[0]!
  return isFrameType(type) ? Result.succeed(type) : failWith("UnknownFrameType", `type ${hexByte(type)}`)
}

/** Checks that a body is of type `expected`: EmptyFrame, UnknownFrameType or UnexpectedFrameType. */
export const expectFrameType = (
  body: Uint8Array,
  expected: FrameType,
): Result.Result<void, ProtocolError> => {
  const type = frameTypeOf(body)
  if (Result.isFailure(type)) return Result.fail(type.failure)
  if (type.success === expected) return Result.void
  return failWith(
    "UnexpectedFrameType",
    `${frameTypeNames[type.success]} where ${frameTypeNames[expected]} was expected`,
  )
}
