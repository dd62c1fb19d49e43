/**
 * User names (`^[a-z0-9][a-z0-9_-]{0,31}$`) and their wire field `u8 len ‖ ASCII ‖ zero fill`,
 * always 33 bytes so that no name's length shows in a record's size.
 * Pure: no I/O; decoders check bytes before building strings and never throw.
 * docs/protocol.md §2.3 (user names), §6 (`name` fields).
 */
import { Result } from "effect"
import { NAME_FIELD_BYTES } from "./constants.ts"
import { failWith, type ProtocolError } from "./errors.ts"

/** The naming rule of §2.3. Compared exactly: no case folding, no prefix matching. */
export const USER_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/
/** Longest valid name, in bytes (= characters: names are ASCII). */
export const MAX_NAME_BYTES = 32

/** True when `s` is a valid user name (§2.3). */
export const isValidUserName = (s: string): boolean => USER_NAME_PATTERN.test(s)

const isLowerOrDigit = (b: number): boolean => (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)

/** True when raw name bytes (without the length byte) form a valid user name. */
export const isValidUserNameBytes = (bytes: Uint8Array): boolean => {
  const length = bytes.length
  if (length === 0 || length > MAX_NAME_BYTES || !isLowerOrDigit(bytes[0]!)) return false
  for (let i = 1; i < length; i++) {
    const b = bytes[i]!
    if (!isLowerOrDigit(b) && b !== 0x5f && b !== 0x2d) return false
  }
  return true
}

/** ASCII bytes → string without a decoder object (names are at most 32 bytes). */
export const asciiToString = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!)
  return s
}

/** Bytes a name field takes on the wire (always 33). Throws RangeError on an invalid name. */
export const encodedNameLength = (name: string): number => {
  if (!isValidUserName(name)) throw new RangeError(`invalid user name (${name.length} characters)`)
  return NAME_FIELD_BYTES
}

/** Writes `u8 len ‖ ASCII ‖ zeros` (33 bytes) at `offset`, returns the offset after it. Throws RangeError on an invalid name. */
export const writeName = (target: Uint8Array, offset: number, name: string): number => {
  const end = offset + encodedNameLength(name)
  if (end > target.length) throw new RangeError("name field does not fit in the target buffer")
  target[offset] = name.length
  for (let i = 0; i < name.length; i++) target[offset + 1 + i] = name.charCodeAt(i)
  target.fill(0, offset + 1 + name.length, end)
  return end
}

/** True when `bytes[from, to)` are all zero (the fill after a name). */
export const isZeroFill = (bytes: Uint8Array, from: number, to: number): boolean => {
  let acc = 0
  for (let i = from; i < to; i++) acc |= bytes[i]!
  return acc === 0
}

/** The 33-byte name field as a new buffer. */
export const encodeName = (name: string): Uint8Array => {
  const out = Buffer.allocUnsafe(encodedNameLength(name))
  writeName(out, 0, name)
  return out
}

/** A decoded name field and the offset just after it. */
export interface DecodedName {
  readonly name: string
  readonly next: number
}

/**
 * Reads a 33-byte name field at `offset`, not reading at or past `end`.
 * Fails with BadName (empty, too long, bad character, non-zero fill) or BadLength (field overruns `end`).
 */
export const decodeName = (
  bytes: Uint8Array,
  offset = 0,
  end: number = bytes.length,
): Result.Result<DecodedName, ProtocolError> => {
  if (offset >= end) return failWith("BadLength", "name field missing its length byte")
  const length = bytes[offset]!
  if (length === 0 || length > MAX_NAME_BYTES) return failWith("BadName", `name length ${length}`)
  const next = offset + NAME_FIELD_BYTES
  if (next > end) return failWith("BadLength", `name field overruns ${end - offset - 1}`)
  const raw = bytes.subarray(offset + 1, offset + 1 + length)
  if (!isValidUserNameBytes(raw)) return failWith("BadName", `name of ${length} bytes has a bad character`)
  if (!isZeroFill(bytes, offset + 1 + length, next)) return failWith("BadName", "name fill is not zero")
  return Result.succeed({ name: asciiToString(raw), next })
}
