/**
 * Test helpers for test/protocol: hex rendering, byte fills and Result unwrapping.
 * Test-only; imports nothing from src besides the protocol barrel.
 */
import { Result } from "effect"
import type { ProtocolError } from "../../src/protocol/index.ts"

export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")
export const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"))
export const fill = (length: number, value: number): Uint8Array => new Uint8Array(length).fill(value)
export const ascii = (text: string): string => Buffer.from(text, "latin1").toString("hex")

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
