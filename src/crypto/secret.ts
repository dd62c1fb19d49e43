/**
 * `SecretBytes`: the one wrapper onechat uses for key material (seeds, secret keys, session keys).
 * It must never reveal its bytes through `toString`, `toJSON` or `util.inspect`: only `expose()`
 * hands them out, and `wipe()` zeroes them in place. Pure: no I/O.
 */
import { wipe } from "./primitives.ts"

const inspectCustom = Symbol.for("nodejs.util.inspect.custom")

export class SecretBytes {
  readonly #bytes: Uint8Array

  /** Takes ownership of `bytes` (no copy): wiping this object wipes the caller's buffer too. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }

  /** A copy of `bytes`, so the caller may wipe its own buffer independently. */
  static copyOf(bytes: Uint8Array): SecretBytes {
    return new SecretBytes(Uint8Array.from(bytes))
  }

  get length(): number {
    return this.#bytes.length
  }

  /** The underlying bytes (not a copy). Do not log, serialise or keep them beyond their use. */
  expose(): Uint8Array {
    return this.#bytes
  }

  /** Zeroes the bytes in place (sodium_memzero). */
  wipe(): void {
    wipe(this.#bytes)
  }

  toString(): string {
    return `SecretBytes(<redacted>, ${this.#bytes.length} bytes)`
  }

  toJSON(): string {
    return this.toString()
  }

  [inspectCustom](): string {
    return this.toString()
  }
}
