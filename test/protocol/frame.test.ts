/**
 * Tests of framing (docs/protocol.md §2.1): exact bytes, chunk boundaries, limits checked at the
 * header, truncation, and a failed decoder staying failed.
 */
import { describe, expect, it } from "vitest"
import {
  ErrorCode,
  encodeFrame,
  expectFrameType,
  FrameDecoder,
  FrameType,
  frameTypeOf,
  MAX_FRAME_BODY,
  writeFrameHeader,
} from "../../src/protocol/index.ts"
import { failure, fromHex, hex, ok, reasonOf } from "./helpers.ts"

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts))

describe("encodeFrame", () => {
  it("writes a 4-byte big-endian length then the body, in one buffer", () => {
    expect(hex(encodeFrame(fromHex("17 02 01")))).toBe("00000003170201")
    const big = encodeFrame(new Uint8Array(0xfedc).fill(7))
    expect(big.length).toBe(4 + 0xfedc)
    expect(hex(big.subarray(0, 5))).toBe("0000fedc07")
  })

  it("refuses empty and oversized bodies", () => {
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(RangeError)
    expect(() => encodeFrame(new Uint8Array(MAX_FRAME_BODY + 1))).toThrow(RangeError)
    expect(encodeFrame(new Uint8Array(MAX_FRAME_BODY)).length).toBe(MAX_FRAME_BODY + 4)
  })

  it("writeFrameHeader writes the same prefix in place", () => {
    const target = new Uint8Array(6)
    writeFrameHeader(target, 1, 0xf203)
    expect(hex(target)).toBe("000000f20300")
  })
})

describe("FrameDecoder", () => {
  const bodies = [fromHex("01"), fromHex("17 aa bb"), new Uint8Array(300).fill(9)]
  const stream = concat(...bodies.map(encodeFrame))

  it("decodes several frames from one chunk, as zero-copy views", () => {
    const decoder = new FrameDecoder()
    const frames = ok(decoder.push(stream))
    expect(frames.map(hex)).toEqual(bodies.map(hex))
    expect(frames[1]!.buffer).toBe(stream.buffer)
    expect(decoder.bufferedBytes).toBe(0)
    ok(decoder.end())
  })

  it("handles the stream split at every offset", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder()
      const frames = [...ok(decoder.push(stream.subarray(0, cut))), ...ok(decoder.push(stream.subarray(cut)))]
      expect(frames.map(hex)).toEqual(bodies.map(hex))
      ok(decoder.end())
    }
  })

  it("handles a header split at every offset across three chunks", () => {
    const frame = encodeFrame(fromHex("02 03 04"))
    for (let a = 0; a <= 4; a++) {
      for (let b = a; b <= 4; b++) {
        const decoder = new FrameDecoder()
        const parts = [frame.subarray(0, a), frame.subarray(a, b), frame.subarray(b)]
        const frames = parts.flatMap((part) => ok(decoder.push(part)))
        expect(frames.map(hex)).toEqual(["020304"])
      }
    }
  })

  it("rejects an oversize length after only its 4 bytes, without buffering", () => {
    const decoder = new FrameDecoder()
    expect(ok(decoder.push(fromHex("ff ff")))).toEqual([])
    expect(decoder.bufferedBytes).toBe(2)
    const error = failure(decoder.push(fromHex("ff ff")))
    expect(error.reason).toBe("FrameTooLarge")
    expect(error.code).toBe(ErrorCode.FrameTooLarge)
    expect(error.message).toContain("4294967295")
    expect(decoder.bufferedBytes).toBe(0)
  })

  it("rejects MAX_FRAME_BODY + 1 but accepts MAX_FRAME_BODY", () => {
    const over = new Uint8Array(4)
    new DataView(over.buffer).setUint32(0, MAX_FRAME_BODY + 1)
    expect(reasonOf(new FrameDecoder().push(over))).toBe("FrameTooLarge")
    const frames = ok(new FrameDecoder().push(encodeFrame(new Uint8Array(MAX_FRAME_BODY))))
    expect(frames[0]!.length).toBe(MAX_FRAME_BODY)
  })

  it("honours a smaller maxBody option", () => {
    const decoder = new FrameDecoder({ maxBody: 2 })
    expect(ok(decoder.push(encodeFrame(fromHex("0102")))).length).toBe(1)
    expect(reasonOf(decoder.push(encodeFrame(fromHex("010203"))))).toBe("FrameTooLarge")
    expect(() => new FrameDecoder({ maxBody: 0 })).toThrow(RangeError)
  })

  it("rejects a zero length as EmptyFrame (Malformed)", () => {
    const error = failure(new FrameDecoder().push(fromHex("00000000")))
    expect(error.reason).toBe("EmptyFrame")
    expect(error.code).toBe(ErrorCode.Malformed)
  })

  it("reports TruncatedStream when the stream ends mid-header or mid-body", () => {
    const midHeader = new FrameDecoder()
    ok(midHeader.push(fromHex("0000")))
    expect(reasonOf(midHeader.end())).toBe("TruncatedStream")

    const afterHeader = new FrameDecoder()
    ok(afterHeader.push(fromHex("00000002")))
    expect(afterHeader.bufferedBytes).toBe(4)
    expect(reasonOf(afterHeader.end())).toBe("TruncatedStream")

    const midBody = new FrameDecoder()
    ok(midBody.push(fromHex("00000002 01")))
    expect(midBody.bufferedBytes).toBe(5)
    expect(failure(midBody.end()).message).toContain("5 of 6 bytes")
  })

  it("stays failed and returns the same error", () => {
    const decoder = new FrameDecoder()
    const first = failure(decoder.push(fromHex("00000000")))
    expect(failure(decoder.push(encodeFrame(fromHex("01"))))).toBe(first)
    expect(failure(decoder.end())).toBe(first)
    const truncated = new FrameDecoder()
    ok(truncated.push(fromHex("00")))
    const error = failure(truncated.end())
    expect(failure(truncated.push(fromHex("000001")))).toBe(error)
  })

  describe("a bad header after complete frames in the same chunk", () => {
    const good = [fromHex("01"), fromHex("17 aa bb")]
    const tooLarge = fromHex("ffffffff")
    const zero = fromHex("00000000")
    /** The error a bad header alone produces on a fresh decoder (the reference). */
    const alone = (header: Uint8Array) => failure(new FrameDecoder().push(header))

    for (const [name, header] of [
      ["FrameTooLarge", tooLarge],
      ["EmptyFrame", zero],
    ] as const) {
      it(`returns the frames before it; ${name} is reported by the next push, end() and on`, () => {
        const decoder = new FrameDecoder()
        const frames = ok(decoder.push(concat(...good.map(encodeFrame), header, fromHex("00000001 01"))))
        expect(frames.map(hex)).toEqual(good.map(hex))
        expect(decoder.bufferedBytes).toBe(0)
        const error = decoder.failure!
        expect(error.reason).toBe(name)
        expect(error.code).toBe(alone(header).code)
        expect(error.message).toBe(alone(header).message)
        expect(failure(decoder.push(encodeFrame(fromHex("01"))))).toBe(error)
        expect(failure(decoder.push(new Uint8Array(0)))).toBe(error)
        expect(failure(decoder.end())).toBe(error)
        expect(failure(decoder.push(fromHex("02")))).toBe(error)
      })
    }

    it("end() right after reports it too", () => {
      const decoder = new FrameDecoder()
      expect(ok(decoder.push(concat(encodeFrame(fromHex("01")), zero))).length).toBe(1)
      expect(failure(decoder.end())).toBe(decoder.failure)
      expect(reasonOf(decoder.push(fromHex("01")))).toBe("EmptyFrame")
    })

    it("counts a frame completed by this chunk whose start came in an earlier one", () => {
      const decoder = new FrameDecoder()
      const first = encodeFrame(fromHex("0a0b0c"))
      expect(ok(decoder.push(first.subarray(0, 5)))).toEqual([])
      expect(ok(decoder.push(concat(first.subarray(5), tooLarge))).map(hex)).toEqual(["0a0b0c"])
      expect(reasonOf(decoder.push(fromHex("01")))).toBe("FrameTooLarge")
    })

    it("fails at once when no frame precedes it in the chunk", () => {
      const decoder = new FrameDecoder()
      expect(decoder.failure).toBeUndefined()
      const error = failure(decoder.push(tooLarge))
      expect(error).toEqual(alone(tooLarge))
      expect(decoder.failure).toBe(error)

      // the frames went out with an earlier chunk; the bad header's own chunk fails
      const later = new FrameDecoder()
      expect(ok(later.push(concat(encodeFrame(fromHex("01")), zero.subarray(0, 2)))).length).toBe(1)
      expect(later.failure).toBeUndefined()
      expect(failure(later.push(zero.subarray(2))).message).toBe(alone(zero).message)
    })

    it("applies to a length above a smaller maxBody too", () => {
      const decoder = new FrameDecoder({ maxBody: 2 })
      const frames = ok(decoder.push(concat(encodeFrame(fromHex("0102")), encodeFrame(fromHex("010203")))))
      expect(frames.map(hex)).toEqual(["0102"])
      expect(failure(decoder.push(new Uint8Array(0))).message).toContain("maximum 2")
    })
  })

  it("allocates nothing for a push that completes no frame (one byte per push)", () => {
    const decoder = new FrameDecoder()
    const frame = encodeFrame(new Uint8Array(100).fill(3))
    const results = Array.from(frame.subarray(0, frame.length - 1), (byte) =>
      decoder.push(Uint8Array.of(byte)),
    )
    // every one of these pushes returned the same shared result: no array, no Result per byte
    expect(new Set(results).size).toBe(1)
    expect(ok(results[0]!)).toEqual([])
    expect(Object.isFrozen(ok(results[0]!))).toBe(true)
    expect(ok(decoder.push(frame.subarray(frame.length - 1))).map(hex)).toEqual([
      hex(new Uint8Array(100).fill(3)),
    ])
  })

  it("ignores empty chunks", () => {
    const decoder = new FrameDecoder()
    expect(ok(decoder.push(new Uint8Array(0)))).toEqual([])
    ok(decoder.end())
  })

  it("decodes a 1 MiB stream pushed in 1-byte chunks in linear time", () => {
    const body = new Uint8Array(MAX_FRAME_BODY).map((_, i) => i & 0xff)
    const frame = encodeFrame(body)
    const copies = Math.ceil((1 << 20) / frame.length)
    const all = concat(...Array.from({ length: copies }, () => frame))
    const decoder = new FrameDecoder()
    const started = performance.now()
    let count = 0
    for (let i = 0; i < all.length; i++) {
      for (const got of ok(decoder.push(all.subarray(i, i + 1)))) {
        expect(got.length).toBe(body.length)
        count++
      }
    }
    expect(count).toBe(copies)
    ok(decoder.end())
    expect(performance.now() - started).toBeLessThan(5_000)
  })
})

describe("frame types", () => {
  it("classifies the four types and rejects others", () => {
    expect(ok(frameTypeOf(fromHex("17")))).toBe(FrameType.Record)
    expect(reasonOf(frameTypeOf(new Uint8Array(0)))).toBe("EmptyFrame")
    const unknown = failure(frameTypeOf(fromHex("04")))
    expect(unknown.reason).toBe("UnknownFrameType")
    expect(unknown.code).toBe(ErrorCode.Malformed)
    expect(reasonOf(expectFrameType(fromHex("03"), FrameType.Record))).toBe("UnexpectedFrameType")
    ok(expectFrameType(fromHex("03"), FrameType.Alert))
  })
})
