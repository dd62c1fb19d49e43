/**
 * Fuzz targets of the frame decoder: arbitrary chunk streams (valid frames, garbage, edge and
 * oversize lengths) split anywhere, and arbitrary bytes fed one at a time. The decoder returns
 * frames or a typed error, never throws, never buffers more than max body + 4 bytes, and chunking
 * does not change the outcome. Test-only; pure. docs/protocol.md §2.1.
 */
import { Result } from "effect"
import fc from "fast-check"
import { encodeFrame, FrameDecoder, MAX_FRAME_BODY, type ProtocolError } from "../../src/protocol/index.ts"
import { hex } from "../../test/protocol/helpers.ts"
import { edgeFrameLength, splitAt } from "./arbitraries.ts"
import { check, checkTyped, sameValue } from "./checks.ts"
import type { FuzzTarget } from "./runner.ts"

const streamItem = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((body) => encodeFrame(body)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(edgeFrameLength, fc.uint8Array({ maxLength: 64 })).map(([length, rest]) => {
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, length)
      return Uint8Array.from([...header, ...rest])
    }),
  },
)

type Outcome = { readonly frames: string[]; readonly error?: string; readonly buffered: number }

/** Feeds `chunks` to a fresh decoder, checking its invariants after every push. */
const feed = (chunks: ReadonlyArray<Uint8Array>, maxBody: number): Outcome => {
  const decoder = new FrameDecoder({ maxBody })
  const frames: string[] = []
  let error: ProtocolError | undefined
  for (const chunk of chunks) {
    const result = decoder.push(chunk)
    if (Result.isFailure(result)) {
      checkTyped(result, "push")
      check(error === undefined || result.failure === error, "a failed decoder changed its error")
      check(
        ["EmptyFrame", "FrameTooLarge"].includes(result.failure.reason),
        `reason ${result.failure.reason}`,
      )
      check(decoder.failure === result.failure, "push failed with an error other than decoder.failure")
      error = result.failure
    } else {
      check(error === undefined, "a failed decoder succeeded again")
      for (const frame of result.success) {
        check(frame.length >= 1 && frame.length <= maxBody, `a frame of ${frame.length} bytes`)
        frames.push(hex(frame))
      }
      // A bad header after complete frames: the frames now, the (sticky) error from the next push on.
      error = decoder.failure
    }
    check(decoder.bufferedBytes <= maxBody + 4, `buffered ${decoder.bufferedBytes} > ${maxBody} + 4`)
  }
  const end = decoder.end()
  checkTyped(end, "end")
  if (error !== undefined) check(Result.isFailure(end) && end.failure === error, "end() forgot the error")
  return error === undefined
    ? { frames, buffered: decoder.bufferedBytes }
    : { frames, error: error.reason, buffered: decoder.bufferedBytes }
}

/** Chunking must not change the outcome: the same frames (all those before a bad header) and error. */
const checkSameOutcome = (coarse: Outcome, fine: Outcome): void => {
  check(coarse.error === fine.error, `chunking changed the error: ${coarse.error} vs ${fine.error}`)
  check(coarse.buffered === fine.buffered, "chunking changed the buffered bytes")
  check(sameValue(coarse.frames, fine.frames), "chunking changed the frames")
}

/** Any stream, split anywhere: the same frames and error as one push, memory bounded. */
export const frameChunks: FuzzTarget = {
  name: "frame-decoder/chunked-streams",
  kind: "decoder",
  property: (tally) =>
    fc.property(
      fc.array(streamItem, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 24 }),
      fc.oneof(fc.constant(MAX_FRAME_BODY), fc.integer({ min: 1, max: 400 })),
      (items, cuts, maxBody) => {
        tally.inputs()
        const stream = Uint8Array.from(Buffer.concat(items))
        const whole = feed([stream], maxBody)
        if (whole.error !== undefined) tally.rejected()
        const split = feed(splitAt(stream, cuts), maxBody)
        checkSameOutcome(whole, split)
        return true
      },
    ),
}

/** Arbitrary bytes, byte by byte and at once. */
export const frameBytes: FuzzTarget = {
  name: "frame-decoder/random-bytes",
  kind: "decoder",
  property: (tally) =>
    fc.property(fc.uint8Array({ maxLength: 400 }), (stream) => {
      tally.inputs()
      const whole = feed([stream], MAX_FRAME_BODY)
      if (whole.error !== undefined) tally.rejected()
      const bytes = feed(
        Array.from(stream, (_, i) => stream.subarray(i, i + 1)),
        MAX_FRAME_BODY,
      )
      checkSameOutcome(whole, bytes)
      return true
    }),
}
