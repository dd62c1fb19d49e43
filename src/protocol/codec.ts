/**
 * Shared byte-level helpers of the message codecs: a bounds-checked payload reader whose first
 * failure sticks (so decoders read straight through and never throw), a payload writer, and the
 * printable-ASCII reason text of ALERT and ERROR. Pure: no I/O. docs/protocol.md §2.4, §6, §7.
 */
import { MAX_REASON_TEXT } from "./constants.ts"
import { type ProtocolError, type ProtocolErrorReason, protocolError } from "./errors.ts"
import { asciiToString, isValidUserNameBytes, isZeroFill, MAX_NAME_BYTES } from "./names.ts"
import { opcodeName } from "./opcodes.ts"

const EMPTY = new Uint8Array(0)
const U64_MAX = 0xffff_ffff_ffff_ffffn

/** True when every byte is printable ASCII (0x20–0x7e). */
export const isPrintableAscii = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (b < 0x20 || b > 0x7e) return false
  }
  return true
}

/** Makes any string a valid reason text: non-printable characters become "?", then cut to 200. */
export const sanitizeReasonText = (text: string): string => {
  const printable = text.replace(/[^\x20-\x7e]/g, "?")
  return printable.length > MAX_REASON_TEXT ? printable.slice(0, MAX_REASON_TEXT) : printable
}

/** Throws RangeError unless `bytes` has exactly `length` bytes; returns `length`. */
export const fixedSize = (bytes: Uint8Array, length: number, field: string): number => {
  if (bytes.length !== length) throw new RangeError(`${field} must be ${length} bytes, got ${bytes.length}`)
  return length
}

/** Throws RangeError unless `value` fits a u64; returns 8. */
export const u64Size = (value: bigint, field: string): number => {
  if (value < 0n || value > U64_MAX) throw new RangeError(`${field} must fit in a u64`)
  return 8
}

/** Throws RangeError unless `value` is an integer in `min..max`. */
export const checkRange = (value: number, min: number, max: number, field: string): void => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field} must be an integer in ${min}..${max}, got ${value}`)
  }
}

/**
 * Reads the fields of one message payload. Out-of-range reads record a failure and return
 * zeros or empty values; the first failure sticks and is reported by `finish()`.
 */
export class PayloadReader {
  #bytes: Uint8Array = EMPTY
  #pos = 0
  #end = 0
  #opcode = 0
  #failure: ProtocolError | undefined = undefined

  /** Points the reader at `bytes[start, end)`, the payload of a message with `opcode`. */
  reset(bytes: Uint8Array, start: number, end: number, opcode: number): void {
    this.#bytes = bytes
    this.#pos = start
    this.#end = end
    this.#opcode = opcode
    this.#failure = undefined
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#end - this.#pos
  }

  /** True once a failure has been recorded. */
  get failed(): boolean {
    return this.#failure !== undefined
  }

  /** Records a failure (the first one wins). */
  fail(reason: ProtocolErrorReason, detail: string): void {
    this.#failure ??= protocolError(reason, `${opcodeName(this.#opcode)} (opcode ${this.#opcode}) ${detail}`)
  }

  /** Fails with BadPayload unless the payload has exactly `length` bytes (fixed layouts). */
  expectSize(length: number): void {
    if (this.remaining !== length)
      this.fail("BadPayload", `payload is ${this.remaining} bytes, expected ${length}`)
  }

  /** Reserves `length` bytes; returns their start, or -1 after recording a failure. */
  #take(length: number, field: string): number {
    if (this.#failure !== undefined) return -1
    if (length > this.remaining) {
      this.fail("BadPayload", `${field} needs ${length} bytes, ${this.remaining} left`)
      return -1
    }
    const start = this.#pos
    this.#pos += length
    return start
  }

  u8(field: string): number {
    const at = this.#take(1, field)
    return at < 0 ? 0 : this.#bytes[at]!
  }

  u16(field: string): number {
    const at = this.#take(2, field)
    return at < 0 ? 0 : (this.#bytes[at]! << 8) | this.#bytes[at + 1]!
  }

  u64(field: string): bigint {
    const at = this.#take(8, field)
    if (at < 0) return 0n
    const b = this.#bytes
    const high = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!)
    const low = b[at + 4]! * 0x1000000 + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!)
    return (BigInt(high) << 32n) | BigInt(low)
  }

  /** Passes `value` through if `isValid` accepts it, else records BadPayload for `field`. */
  check<T extends number>(value: number, field: string, isValid: (value: number) => value is T): T {
    if (!isValid(value)) this.fail("BadPayload", `${field} ${value} is not allowed`)
    return value as T // when invalid, the recorded failure discards the whole message
  }

  /** `length` bytes as a zero-copy view. */
  bytes(length: number, field: string): Uint8Array {
    const at = this.#take(length, field)
    return at < 0 ? EMPTY : this.#bytes.subarray(at, at + length)
  }

  /** The rest of the payload as a zero-copy view. */
  rest(): Uint8Array {
    return this.bytes(this.remaining, "rest")
  }

  /** A 33-byte `u8 len ‖ ASCII ‖ zero fill` user name field; BadName if it breaks §2.3. */
  name(field: string): string {
    const length = this.u8(field)
    if (this.#failure !== undefined) return ""
    if (length === 0 || length > MAX_NAME_BYTES) {
      this.fail("BadName", `${field} has length ${length}`)
      return ""
    }
    const field32 = this.bytes(MAX_NAME_BYTES, field)
    if (this.#failure !== undefined) return ""
    const raw = field32.subarray(0, length)
    if (!isValidUserNameBytes(raw)) this.fail("BadName", `${field} of ${length} bytes has a bad character`)
    else if (!isZeroFill(field32, length, MAX_NAME_BYTES)) this.fail("BadName", `${field} fill is not zero`)
    return asciiToString(raw)
  }

  /** A `u16 len ‖ der` field of 1..max bytes, as a zero-copy view. */
  der(max: number, field: string): Uint8Array {
    const length = this.u16(field)
    if (this.#failure !== undefined) return EMPTY
    if (length === 0 || length > max) {
      this.fail("BadPayload", `${field} of ${length} bytes, allowed 1..${max}`)
      return EMPTY
    }
    return this.bytes(length, field)
  }

  /** A `u8 len ‖ text` reason text: at most 200 printable ASCII bytes, else BadText. */
  text(field: string): string {
    const length = this.u8(field)
    if (length > MAX_REASON_TEXT)
      this.fail("BadText", `${field} has length ${length}, maximum ${MAX_REASON_TEXT}`)
    const raw = this.bytes(length, field)
    if (this.#failure !== undefined) return ""
    if (!isPrintableAscii(raw)) this.fail("BadText", `${field} of ${length} bytes is not printable ASCII`)
    return asciiToString(raw)
  }

  /** The recorded failure, or TrailingBytes if the fields did not consume the payload. */
  finish(): ProtocolError | undefined {
    if (this.#failure === undefined && this.#pos !== this.#end) {
      this.fail("TrailingBytes", `has ${this.#end - this.#pos} bytes after its last field`)
    }
    return this.#failure
  }
}

/** Writes payload fields into a buffer already sized for them (sizes were validated). */
export class PayloadWriter {
  constructor(
    private readonly target: Uint8Array,
    public pos: number,
  ) {}

  u8(value: number): void {
    this.target[this.pos++] = value
  }

  u16(value: number): void {
    this.target[this.pos] = value >>> 8
    this.target[this.pos + 1] = value & 0xff
    this.pos += 2
  }

  u64(value: bigint): void {
    const high = Number(value >> 32n)
    const low = Number(value & 0xffff_ffffn)
    const t = this.target
    const p = this.pos
    t[p] = high >>> 24
    t[p + 1] = (high >>> 16) & 0xff
    t[p + 2] = (high >>> 8) & 0xff
    t[p + 3] = high & 0xff
    t[p + 4] = low >>> 24
    t[p + 5] = (low >>> 16) & 0xff
    t[p + 6] = (low >>> 8) & 0xff
    t[p + 7] = low & 0xff
    this.pos += 8
  }

  bytes(bytes: Uint8Array): void {
    this.target.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** A 33-byte name field `u8 len ‖ ASCII ‖ zero fill` (the name is already validated). */
  name(name: string): void {
    this.ascii(name)
    const end = this.pos + MAX_NAME_BYTES - name.length
    this.target.fill(0, this.pos, end)
    this.pos = end
  }

  /** `u16 len ‖ der` (the length is already validated). */
  der(bytes: Uint8Array): void {
    this.u16(bytes.length)
    this.bytes(bytes)
  }

  /** `u8 len ‖ ASCII`: for sanitized reason texts (and the start of a name field). */
  ascii(text: string): void {
    this.target[this.pos++] = text.length
    for (let i = 0; i < text.length; i++) this.target[this.pos++] = text.charCodeAt(i)
  }
}
