/**
 * Test helpers for test/protocol: hex rendering, byte fills, hand-built name fields and Result
 * unwrapping. Test-only; imports nothing from src besides the protocol barrel (types only), so the
 * expected bytes never come from the encoder under test. docs/protocol.md §2.3, §6.
 */
import { Result } from "effect"
import type { ProtocolError } from "../../src/protocol/index.ts"

export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")
export const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"))
export const fill = (length: number, value: number): Uint8Array => new Uint8Array(length).fill(value)
export const ascii = (text: string): string => Buffer.from(text, "latin1").toString("hex")
/** `count` copies of a hex byte, e.g. `h("00", 29)`. */
export const h = (byte: string, count: number): string => byte.repeat(count)

/**
 * A name field built by hand as hex: `u8 len ‖ latin1 bytes ‖ fill` up to 33 bytes (§2.3). Works for
 * invalid names too (a 33-byte name gets no fill), so decoders can be fed any name.
 */
export const nameHex = (name: string, fillByte = "00"): string =>
  `${name.length.toString(16).padStart(2, "0")}${ascii(name)}${h(fillByte, Math.max(0, 32 - name.length))}`

export const ok = <A>(result: Result.Result<A, ProtocolError>): A => {
  if (Result.isFailure(result))
    throw new Error(`expected success, got ${result.failure.reason}: ${result.failure.message}`)
  return result.success
}

export const failure = <A>(result: Result.Result<A, ProtocolError>): ProtocolError => {
  if (Result.isSuccess(result)) throw new Error("expected a ProtocolError, got success")
  return result.failure
}

export const reasonOf = <A>(result: Result.Result<A, ProtocolError>): string => failure(result).reason

/** Byte fields rendered as hex, recursively, so views, Buffers and copies compare equal. */
export const normalise = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? hex(value)
    : Array.isArray(value)
      ? value.map(normalise)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]))
        : value
