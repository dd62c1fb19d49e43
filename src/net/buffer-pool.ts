/**
 * Reused output buffers for the bridges' flushes. A fresh buffer per flush costs more than its
 * bytes on this kind of machine: new external memory is page-faulted in on first write and
 * drives V8's full GCs (16 KiB relays spent over a third of their server CPU there). A buffer is
 * lent for one socket write and taken back only from that write's callback (the data has left for
 * the kernel, or the write failed): nothing is reused while a write may still read it.
 */
export class BufferPool {
  readonly #size: number
  readonly #max: number
  readonly #free: Buffer[] = []

  /** Buffers of `size` bytes; at most `max` kept idle (the rest are left to the GC). */
  constructor(size: number, max: number) {
    this.#size = size
    this.#max = max
  }

  /** Buffers idle in the pool now. */
  get idle(): number {
    return this.#free.length
  }

  /** A pooled buffer for `length` bytes, or `undefined` when `length` exceeds the buffer size. */
  take(length: number): Buffer | undefined {
    if (length > this.#size) return undefined
    return this.#free.pop() ?? Buffer.allocUnsafe(this.#size)
  }

  /** Gives back a buffer from `take`, once nothing reads it any more. */
  give(buffer: Buffer): void {
    if (this.#free.length < this.#max && buffer.length === this.#size) this.#free.push(buffer)
  }
}

/** The server's pool: 128 KiB buffers (two full records), at most 32 idle (4 MiB). */
export const outboundPool = new BufferPool(128 * 1024, 32)
