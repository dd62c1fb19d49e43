/**
 * Small checks shared by the fuzz targets: byte-wise comparison of decoded values (views, Buffers
 * and copies alike, bigints included), and assertions that fail a property by throwing with a
 * sentence. Test-only; pure.
 */
import { Result } from "effect"
import { ProtocolError } from "../../../src/protocol/index.ts"

export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")

/** Byte fields as hex, recursively, so views, Buffers and copies compare equal. */
export const normalise = (value: unknown): unknown =>
  value instanceof Uint8Array
    ? hex(value)
    : Array.isArray(value)
      ? value.map(normalise)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]))
        : value

const bigints = (_: string, value: unknown): unknown => (typeof value === "bigint" ? `${value}n` : value)

/** Deep equality of decoded values, bytes compared by content. */
export const sameValue = (a: unknown, b: unknown): boolean =>
  JSON.stringify(normalise(a), bigints) === JSON.stringify(normalise(b), bigints)

/** Throws (failing the property) with `what` unless `condition`. */
export const check = (condition: boolean, what: string): void => {
  if (!condition) throw new Error(what)
}

/** The decoder answered with a Result whose failure is a ProtocolError. */
export const checkTyped = (result: Result.Result<unknown, unknown>, what: string): void => {
  if (Result.isFailure(result)) check(result.failure instanceof ProtocolError, `${what}: untyped failure`)
}
