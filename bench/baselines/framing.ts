/**
 * The baselines' framing: u32 big-endian length ‖ payload, as onechat frames (docs/protocol.md §2)
 * but with no types, no records and no crypto. A splitter finds frame boundaries across chunks;
 * `completePrefix` lets a relay forward every complete frame of a chunk in one write.
 */

/** The frames for `payloads`, in one buffer: one write sends them all. */
export const encodeFrames = (payloads: ReadonlyArray<Uint8Array>): Buffer => {
  let total = 0
  for (const payload of payloads) total += 4 + payload.length
  const out = Buffer.allocUnsafe(total)
  let offset = 0
  for (const payload of payloads) {
    out.writeUInt32BE(payload.length, offset)
    out.set(payload, offset + 4)
    offset += 4 + payload.length
  }
  return out
}

/** Accumulates chunks; hands out complete frames (as views) or the complete prefix of the data. */
export class FrameSplitter {
  #pending: Buffer | undefined

  /** The data so far with `chunk` appended, and how many leading bytes are whole frames. */
  #append(chunk: Buffer): { readonly data: Buffer; readonly complete: number } {
    const data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk])
    let offset = 0
    while (offset + 4 <= data.length) {
      const end = offset + 4 + data.readUInt32BE(offset)
      if (end > data.length) break
      offset = end
    }
    this.#pending = offset < data.length ? data.subarray(offset) : undefined
    return { data, complete: offset }
  }

  /** Calls `onFrame` with each complete frame's payload, in order. */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    const { data, complete } = this.#append(chunk)
    for (let offset = 0; offset < complete; ) {
      const length = data.readUInt32BE(offset)
      onFrame(data.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
  }

  /** The complete frames of the data so far, still framed (empty when none is complete). */
  completeFrames(chunk: Buffer): Buffer {
    const { data, complete } = this.#append(chunk)
    return data.subarray(0, complete)
  }
}
