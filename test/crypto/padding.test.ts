/**
 * Tests of bucket padding (src/crypto/padding.ts): the bucket chosen for every body length at the
 * edges, the ISO/IEC 7816-4 layout, and the refusals of unpad (wrong size, missing marker, non-zero
 * fill). docs/protocol.md §8.4.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MAX_PADDED_BODY, PADDING_BUCKETS, pad, paddedSize, unpad } from "../../src/crypto/padding.ts"

const reason = (result: Result.Result<unknown, { reason: string }>): string =>
  Result.isFailure(result) ? result.failure.reason : "ok"

describe("padding", () => {
  it("uses the documented buckets, the largest holding a 32,768-byte text", () => {
    expect(PADDING_BUCKETS).toEqual([32, 128, 512, 2_048, 8_192, 32_770])
    expect(MAX_PADDED_BODY).toBe(32_768)
  })

  it("picks the smallest bucket that holds type, body and marker", () => {
    const cases: Array<[number, number]> = [
      [0, 32],
      [30, 32],
      [31, 128],
      [126, 128],
      [127, 512],
      [510, 512],
      [511, 2_048],
      [2_046, 2_048],
      [2_047, 8_192],
      [8_190, 8_192],
      [8_191, 32_770],
      [32_768, 32_770],
    ]
    for (const [body, bucket] of cases) expect([body, paddedSize(body)]).toEqual([body, bucket])
    expect(() => paddedSize(32_769)).toThrow(RangeError)
    expect(() => paddedSize(-1)).toThrow(RangeError)
  })

  it("lays out type ‖ body ‖ 0x80 ‖ zeros", () => {
    const inner = pad(1, Uint8Array.of(0x61, 0x62))
    expect(inner.length).toBe(32)
    expect([...inner.subarray(0, 5)]).toEqual([1, 0x61, 0x62, 0x80, 0])
    expect(inner.subarray(4).every((b) => b === 0)).toBe(true)
  })

  it("round-trips any body, including bodies ending in 0x80 or zeros", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 3_000 }), (type, body) => {
        const inner = pad(type, body)
        expect(PADDING_BUCKETS).toContain(inner.length)
        const unpadded = Result.getOrThrow(unpad(inner))
        expect(unpadded.contentType).toBe(type)
        expect(Buffer.from(unpadded.body)).toEqual(Buffer.from(body))
      }),
      { numRuns: 200 },
    )
    const tricky = Result.getOrThrow(unpad(pad(2, Uint8Array.of(0x80, 0, 0))))
    expect([...tricky.body]).toEqual([0x80, 0, 0])
  })

  it("refuses a size that is not a bucket, a missing marker and a non-zero fill", () => {
    expect(reason(unpad(new Uint8Array(33)))).toBe("WrongSize")
    expect(reason(unpad(new Uint8Array(0)))).toBe("WrongSize")
    expect(reason(unpad(new Uint8Array(32)))).toBe("MissingMarker")
    const noMarker = pad(1, Uint8Array.of(1, 2, 3))
    noMarker[4] = 0
    expect(reason(unpad(noMarker))).toBe("MissingMarker")
    const dirtyFill = pad(1, Uint8Array.of(1, 2, 3))
    dirtyFill[31] = 7
    expect(reason(unpad(dirtyFill))).toBe("MissingMarker")
    const typeOnlyMarker = new Uint8Array(32)
    typeOnlyMarker[0] = 0x80
    expect(reason(unpad(typeOnlyMarker))).toBe("MissingMarker")
  })
})
