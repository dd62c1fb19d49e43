/**
 * Property tests of the frame decoder: any split of any stream, every truncation, frames then a
 * bad header, random bytes.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeFrame, FrameDecoder, ProtocolError } from "../../src/protocol/index.ts"
import { failure, hex, ok, reasonOf } from "./helpers.ts"

const body = fc.uint8Array({ minLength: 1, maxLength: 600 })
const bodies = fc.array(body, { maxLength: 12 })

const encodeAll = (list: ReadonlyArray<Uint8Array>): Uint8Array =>
  Uint8Array.from(Buffer.concat(list.map(encodeFrame)))

/** Splits `bytes` at the given cut points (sorted, deduplicated, clamped). */
const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Uint8Array[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

describe("FrameDecoder properties", () => {
  it("decodes any list of bodies, split at arbitrary points, to the same bodies", () => {
    fc.assert(
      fc.property(bodies, fc.array(fc.nat(), { maxLength: 20 }), (list, cuts) => {
        const decoder = new FrameDecoder()
        const frames = split(encodeAll(list), cuts).flatMap((chunk) => ok(decoder.push(chunk)))
        expect(frames.map(hex)).toEqual(list.map(hex))
        expect(decoder.bufferedBytes).toBe(0)
        ok(decoder.end())
      }),
    )
  })

  it("a stream truncated at any byte yields the frames so far, and end() fails unless at a boundary", () => {
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 5 }), (list) => {
        const stream = encodeAll(list)
        const boundaries = new Map<number, number>([[0, 0]])
        let at = 0
        for (const [i, b] of list.entries()) {
          at += 4 + b.length
          boundaries.set(at, i + 1)
        }
        for (let cut = 0; cut <= stream.length; cut++) {
          const decoder = new FrameDecoder()
          const frames = ok(decoder.push(stream.subarray(0, cut)))
          const complete = boundaries.get(cut)
          if (complete === undefined) {
            expect(reasonOf(decoder.end())).toBe("TruncatedStream")
          } else {
            expect(frames.length).toBe(complete)
            ok(decoder.end())
          }
          expect(frames.map(hex)).toEqual(list.slice(0, frames.length).map(hex))
        }
      }),
    )
  })

  it("good frames then a bad header, split anywhere: every good frame, then the same error", () => {
    const badLength = fc.oneof(fc.constant(0), fc.integer({ min: 65_564, max: 0xffffffff }))
    fc.assert(
      fc.property(
        bodies,
        badLength,
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (list, length, trailing, cuts) => {
          const header = new Uint8Array(4)
          new DataView(header.buffer).setUint32(0, length)
          const stream = Uint8Array.from(Buffer.concat([encodeAll(list), header, trailing]))
          const reference = new FrameDecoder().push(header)
          if (Result.isSuccess(reference)) throw new Error("the bad header alone must fail")
          for (const chunks of [[stream], split(stream, cuts)]) {
            const decoder = new FrameDecoder()
            const frames: Uint8Array[] = []
            let error: ProtocolError | undefined
            for (const chunk of chunks) {
              const result = decoder.push(chunk)
              if (Result.isFailure(result)) {
                expect(error === undefined || result.failure === error).toBe(true)
                error = result.failure
              } else {
                expect(error).toBeUndefined()
                frames.push(...result.success)
              }
            }
            expect(frames.map(hex)).toEqual(list.map(hex))
            const end = decoder.end()
            if (Result.isSuccess(end)) throw new Error("end() must report the bad header")
            expect(error === undefined || end.failure === error).toBe(true)
            expect(end.failure.code).toBe(reference.failure.code)
            expect(end.failure.message).toBe(reference.failure.message)
            expect(decoder.bufferedBytes).toBe(0)
          }
          // In one chunk: the frames come back now (if any), the error with the next push.
          const whole = new FrameDecoder()
          const first = whole.push(stream)
          if (list.length > 0) {
            expect(ok(first).length).toBe(list.length)
            expect(failure(whole.push(new Uint8Array(0))).message).toBe(reference.failure.message)
          } else {
            expect(failure(first).message).toBe(reference.failure.message)
          }
        },
      ),
    )
  })

  it("never throws on random bytes in random chunks, and memory stays bounded", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 300 }),
        (chunks, maxBody) => {
          const decoder = new FrameDecoder({ maxBody })
          for (const chunk of chunks) {
            const result = decoder.push(chunk)
            if (Result.isFailure(result)) expect(result.failure).toBeInstanceOf(ProtocolError)
            else for (const frame of result.success) expect(frame.length).toBeLessThanOrEqual(maxBody)
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(maxBody + 4)
          }
          const end = decoder.end()
          if (Result.isFailure(end)) expect(end.failure).toBeInstanceOf(ProtocolError)
        },
      ),
    )
  })
})
