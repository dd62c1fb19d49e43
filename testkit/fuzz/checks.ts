/**
 * Small checks shared by the fuzz targets: byte-wise comparison of decoded values (views, Buffers
 * and copies alike, bigints included), and assertions that fail a property by throwing with a
 * sentence. Test-only; pure.
 */
import { Result } from "effect"
import { ProtocolError } from "../../src/protocol/index.ts"
import { normalise } from "../../test/protocol/helpers.ts"

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
