/**
 * The record channel: seals and opens RECORD frames with ChaCha20-Poly1305-IETF, one key, IV and
 * 64-bit counter per direction. Strict counter order; the record header is the additional data.
 * Pure (no I/O): takes and returns bytes. Keys are wiped on close. docs/protocol.md §5.
 */
import { Data, Result } from "effect"
import {
  AEAD_TAG_BYTES,
  Direction,
  FRAME_HEADER_BYTES,
  MAX_RECORD_PLAINTEXT,
  RECORD_HEADER_BYTES,
  RECORD_LIMIT,
} from "../protocol/constants.ts"
import { ErrorCode } from "../protocol/error-codes.ts"
import { writeFrameHeader } from "../protocol/frame.ts"
import { parseRecordHeader, writeRecordHeader } from "../protocol/record-header.ts"
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, aeadOpenInPlace, aeadSealInPlace } from "./primitives.ts"
import type { SecretBytes } from "./secret.ts"

export type RecordErrorReason =
  | "Malformed"
  | "Reflected"
  | "Replayed"
  | "Gap"
  | "Tampered"
  | "LimitReached"
  | "TooLarge"
  | "Closed"

const sentences: Record<RecordErrorReason, string> = {
  Malformed: "A record had a malformed header.",
  Reflected: "A record came back in the direction it was sent (reflection).",
  Replayed: "A record arrived with a counter already used (replay).",
  Gap: "A record arrived ahead of its turn (dropped or reordered record).",
  Tampered: "A record failed its authentication tag check (tampering or wrong key).",
  LimitReached: "The key reached its record limit; the connection must be renewed.",
  TooLarge: "A record plaintext exceeded the maximum size.",
  Closed: "The record channel is closed.",
}

/** A record that must not be acted upon; the connection ends. Carries counters, never bytes. */
export class RecordError extends Data.TaggedError("RecordError")<{
  readonly reason: RecordErrorReason
  readonly expected?: bigint
  readonly received?: bigint
}> {
  override get message(): string {
    const counters =
      this.expected === undefined ? "" : ` (expected counter ${this.expected}, got ${this.received ?? "?"})`
    return `${sentences[this.reason]}${counters}`
  }

  get code(): ErrorCode {
    return this.reason === "LimitReached" ? ErrorCode.KeyExhausted : ErrorCode.RecordRejected
  }
}

/** Where a record's plaintext starts in its frame: after the length prefix and the record header. */
export const RECORD_PLAINTEXT_OFFSET = FRAME_HEADER_BYTES + RECORD_HEADER_BYTES

/** Bytes of a whole RECORD frame (length prefix included) carrying `plaintextLength` bytes. */
export const recordFrameLength = (plaintextLength: number): number =>
  RECORD_PLAINTEXT_OFFSET + plaintextLength + AEAD_TAG_BYTES

/** Key and IV for one direction of one channel. */
export interface DirectionKeys {
  readonly key: SecretBytes
  readonly iv: SecretBytes
}

const checkKeys = (keys: DirectionKeys): void => {
  if (keys.key.length !== AEAD_KEY_BYTES || keys.iv.length !== AEAD_NONCE_BYTES) {
    throw new RangeError("record keys must be 32 bytes and IVs 12 bytes")
  }
}

/** nonce = iv XOR (0^32 ‖ u64 counter), written into a reused scratch buffer. */
const computeNonce = (scratch: Buffer, iv: Uint8Array, counter: bigint): Uint8Array => {
  scratch.set(iv)
  const high = Number(counter >> 32n)
  const low = Number(counter & 0xffffffffn)
  scratch.writeUInt32BE((scratch.readUInt32BE(4) ^ high) >>> 0, 4)
  scratch.writeUInt32BE((scratch.readUInt32BE(8) ^ low) >>> 0, 8)
  return scratch
}

/** Seals records in one direction. */
export class RecordSealer {
  readonly #keys: DirectionKeys
  readonly #direction: Direction
  readonly #limit: bigint
  readonly #nonce = Buffer.alloc(AEAD_NONCE_BYTES)
  #counter = 0n
  #closed = false

  constructor(keys: DirectionKeys, direction: Direction, limit: bigint = RECORD_LIMIT) {
    checkKeys(keys)
    this.#keys = keys
    this.#direction = direction
    this.#limit = limit
  }

  /** Records sealed so far (the next record's counter). */
  get counter(): bigint {
    return this.#counter
  }

  /**
   * Seals one plaintext (one or more encoded messages) into a complete frame, length prefix
   * included, ready for a single socket write.
   */
  seal(plaintext: Uint8Array): Result.Result<Uint8Array, RecordError> {
    const frame = Buffer.allocUnsafe(recordFrameLength(plaintext.length))
    frame.set(plaintext, RECORD_PLAINTEXT_OFFSET)
    const sealed = this.sealInPlace(frame, 0, plaintext.length)
    return Result.isFailure(sealed) ? Result.fail(sealed.failure) : Result.succeed(frame)
  }

  /**
   * Seals a frame laid out in `target` at `offset`: the caller wrote the plaintext at
   * `offset + RECORD_PLAINTEXT_OFFSET` and left `recordFrameLength(plaintextLength)` bytes for the
   * whole frame; length prefix, header, ciphertext and tag are written in place. No allocation,
   * no copy: the relay encodes its messages straight into the frame that goes to the socket.
   */
  sealInPlace(target: Uint8Array, offset: number, plaintextLength: number): Result.Result<void, RecordError> {
    if (this.#closed) return Result.fail(new RecordError({ reason: "Closed" }))
    if (plaintextLength <= 0 || plaintextLength > MAX_RECORD_PLAINTEXT) {
      return Result.fail(new RecordError({ reason: "TooLarge" }))
    }
    if (this.#counter >= this.#limit) return Result.fail(new RecordError({ reason: "LimitReached" }))
    const bodyLength = RECORD_HEADER_BYTES + plaintextLength + AEAD_TAG_BYTES
    const frame = target.subarray(offset, offset + FRAME_HEADER_BYTES + bodyLength)
    if (frame.length !== FRAME_HEADER_BYTES + bodyLength) throw new RangeError("no room for the record")
    writeFrameHeader(frame, 0, bodyLength)
    writeRecordHeader(frame, FRAME_HEADER_BYTES, this.#direction, this.#counter)
    const additionalData = frame.subarray(0, RECORD_PLAINTEXT_OFFSET)
    const nonce = computeNonce(this.#nonce, this.#keys.iv.expose(), this.#counter)
    aeadSealInPlace(
      this.#keys.key.expose(),
      nonce,
      additionalData,
      frame.subarray(RECORD_PLAINTEXT_OFFSET),
      plaintextLength,
    )
    this.#counter += 1n
    return Result.succeed(undefined)
  }

  /** Wipes the key and IV; later seals fail with Closed. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#keys.key.wipe()
    this.#keys.iv.wipe()
  }
}

/** Opens records in one direction: header checks first, then the tag; never returns unverified bytes. */
export class RecordOpener {
  readonly #keys: DirectionKeys
  readonly #peerDirection: Direction
  readonly #limit: bigint
  readonly #nonce = Buffer.alloc(AEAD_NONCE_BYTES)
  readonly #additionalData = Buffer.alloc(RECORD_PLAINTEXT_OFFSET)
  #expected = 0n
  #closed = false

  /** `peerDirection`: the direction byte records from the peer carry. */
  constructor(keys: DirectionKeys, peerDirection: Direction, limit: bigint = RECORD_LIMIT) {
    checkKeys(keys)
    this.#keys = keys
    this.#peerDirection = peerDirection
    this.#limit = limit
  }

  /** The counter the next record must carry. */
  get expected(): bigint {
    return this.#expected
  }

  /** Opens one RECORD frame body (as returned by the frame decoder, without the length prefix). */
  open(body: Uint8Array): Result.Result<Uint8Array, RecordError> {
    return this.openInPlace(Uint8Array.from(body))
  }

  /**
   * `open`, decrypting inside `body` itself: the plaintext returned is a view of `body`, whose
   * bytes are overwritten (on failure too). For a caller that owns `body`, as the server's bridge
   * owns what its frame decoder returns: one record-sized allocation less per record.
   */
  openInPlace(body: Uint8Array): Result.Result<Uint8Array, RecordError> {
    if (this.#closed) return Result.fail(new RecordError({ reason: "Closed" }))
    const parsed = parseRecordHeader(body)
    if (Result.isFailure(parsed)) return Result.fail(new RecordError({ reason: "Malformed" }))
    const { direction, counter, ciphertext } = parsed.success
    if (direction !== this.#peerDirection) return Result.fail(new RecordError({ reason: "Reflected" }))
    if (this.#expected >= this.#limit) return Result.fail(new RecordError({ reason: "LimitReached" }))
    if (counter !== this.#expected) {
      const reason = counter < this.#expected ? "Replayed" : "Gap"
      return Result.fail(new RecordError({ reason, expected: this.#expected, received: counter }))
    }
    const additionalData = this.#additionalData
    writeFrameHeader(additionalData, 0, body.length)
    additionalData.set(body.subarray(0, RECORD_HEADER_BYTES), FRAME_HEADER_BYTES)
    const nonce = computeNonce(this.#nonce, this.#keys.iv.expose(), counter)
    const plaintext = aeadOpenInPlace(this.#keys.key.expose(), nonce, additionalData, ciphertext)
    if (plaintext === undefined) return Result.fail(new RecordError({ reason: "Tampered" }))
    if (plaintext.length === 0) return Result.fail(new RecordError({ reason: "Malformed" }))
    this.#expected += 1n
    return Result.succeed(plaintext)
  }

  /** Wipes the key and IV; later opens fail with Closed. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#keys.key.wipe()
    this.#keys.iv.wipe()
  }
}

/**
 * Seals `sizes.length` queued messages, in order, into as few records as fit, all laid out in
 * one buffer ready for a single socket write. `sizes[i]` is message i's encoded size (header
 * included, at most `MAX_RECORD_PLAINTEXT`); `write(target, offset, i)` encodes message i at
 * `offset` and returns the offset after it. One allocation for the whole batch: messages are
 * encoded into the frames and sealed in place. `allocate(length)` returns the buffer to fill
 * (exactly `length` bytes; a pooled one, say).
 */
export const sealMessages = (
  sealer: RecordSealer,
  sizes: ReadonlyArray<number>,
  write: (target: Uint8Array, offset: number, index: number) => number,
  allocate: (length: number) => Uint8Array = Buffer.allocUnsafe,
): Result.Result<Uint8Array, RecordError> => {
  if (sizes.length === 0) return Result.succeed(new Uint8Array(0))
  const ends: number[] = []
  let total = 0
  let plaintext = 0
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!
    if (size <= 0 || size > MAX_RECORD_PLAINTEXT)
      throw new RangeError(`a message of ${size} bytes cannot fit a record`)
    if (plaintext + size > MAX_RECORD_PLAINTEXT) {
      ends.push(i)
      total += recordFrameLength(plaintext)
      plaintext = 0
    }
    plaintext += size
  }
  ends.push(sizes.length)
  total += recordFrameLength(plaintext)
  const out = allocate(total)
  let frameStart = 0
  let index = 0
  for (const end of ends) {
    let offset = frameStart + RECORD_PLAINTEXT_OFFSET
    for (; index < end; index++) offset = write(out, offset, index)
    const plaintextLength = offset - frameStart - RECORD_PLAINTEXT_OFFSET
    const sealed = sealer.sealInPlace(out, frameStart, plaintextLength)
    if (Result.isFailure(sealed)) return Result.fail(sealed.failure)
    frameStart += recordFrameLength(plaintextLength)
  }
  return Result.succeed(out)
}

/** Both directions of one connection, from one side's point of view. */
export interface RecordChannel {
  readonly sealer: RecordSealer
  readonly opener: RecordOpener
}

/** Builds a channel for `role` from the client→server and server→client keys. */
export const makeRecordChannel = (
  role: "client" | "server",
  clientToServer: DirectionKeys,
  serverToClient: DirectionKeys,
  limit: bigint = RECORD_LIMIT,
): RecordChannel =>
  role === "client"
    ? {
        sealer: new RecordSealer(clientToServer, Direction.ClientToServer, limit),
        opener: new RecordOpener(serverToClient, Direction.ServerToClient, limit),
      }
    : {
        sealer: new RecordSealer(serverToClient, Direction.ServerToClient, limit),
        opener: new RecordOpener(clientToServer, Direction.ClientToServer, limit),
      }

/** Wipes both directions. */
export const closeRecordChannel = (channel: RecordChannel): void => {
  channel.sealer.close()
  channel.opener.close()
}
