/**
 * Bucket padding of chat plaintexts, so the server and the network see a length class, not a length:
 * inner = `u8 contentType ‖ body ‖ 0x80 ‖ 0x00…` (ISO/IEC 7816-4) filled to the smallest bucket
 * that fits. Pure: no I/O, no keys; never echoes the body in errors. docs/protocol.md §8.4.
 */
import { Data, Result } from "effect"
import { MAX_TEXT_BYTES } from "../protocol/constants.ts"

/** Inner plaintext sizes: the largest holds a 32,768-byte text (1 type byte, 1 marker byte). */
export const PADDING_BUCKETS: ReadonlyArray<number> = [32, 128, 512, 2_048, 8_192, MAX_TEXT_BYTES + 2]
/** The longest body that can be padded. */
export const MAX_PADDED_BODY = MAX_TEXT_BYTES
const MARKER = 0x80

export type PaddingErrorReason = "WrongSize" | "MissingMarker"

const sentences: Record<PaddingErrorReason, string> = {
  WrongSize: "The padded message is not one of the padding sizes.",
  MissingMarker: "The padded message does not end with its 0x80 marker and zero fill.",
}

export class PaddingError extends Data.TaggedError("PaddingError")<{ readonly reason: PaddingErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/** The padded (inner) size for a body of `bodyLength` bytes; RangeError above `MAX_PADDED_BODY`. */
export const paddedSize = (bodyLength: number): number => {
  if (!Number.isInteger(bodyLength) || bodyLength < 0 || bodyLength > MAX_PADDED_BODY) {
    throw new RangeError(`a padded body holds 0..${MAX_PADDED_BODY} bytes, not ${bodyLength}`)
  }
  const needed = bodyLength + 2
  return PADDING_BUCKETS.find((bucket) => bucket >= needed)!
}

/** `u8 contentType ‖ body ‖ 0x80 ‖ zeros`, as long as `paddedSize(body.length)`. */
export const pad = (contentType: number, body: Uint8Array): Uint8Array => {
  const inner = new Uint8Array(paddedSize(body.length))
  inner[0] = contentType
  inner.set(body, 1)
  inner[1 + body.length] = MARKER
  return inner
}

export interface Unpadded {
  readonly contentType: number
  /** A view into the padded buffer. */
  readonly body: Uint8Array
}

/**
 * The content type and body of a padded message; rejects a size that is not a bucket, and a missing
 * marker or non-zero fill.
 */
export const unpad = (inner: Uint8Array): Result.Result<Unpadded, PaddingError> => {
  if (!PADDING_BUCKETS.includes(inner.length)) return Result.fail(new PaddingError({ reason: "WrongSize" }))
  let end = inner.length - 1
  while (end > 0 && inner[end] === 0) end--
  // The marker is the last non-zero byte: a non-zero fill byte after it reads as a missing marker.
  if (end === 0 || inner[end] !== MARKER) return Result.fail(new PaddingError({ reason: "MissingMarker" }))
  return Result.succeed({ contentType: inner[0]!, body: inner.subarray(1, end) })
}
