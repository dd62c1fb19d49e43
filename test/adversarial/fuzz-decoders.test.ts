/**
 * Short-budget fuzzing of the pure decoders (frame decoder, message codecs, hellos, ALERT, record
 * header, record opener): a Result or typed error for every input, never a throw; bounded
 * buffering; canonical decoding; round trips. `npm run fuzz` runs the same targets far longer.
 */
import { describe, expect, it } from "vitest"
import { decoderTargets } from "../../testkit/fuzz/decoder-targets.ts"
import { fuzzSeed, runTarget, targetSeed } from "../../testkit/fuzz/runner.ts"

const RUNS = 1_500
const SEED = fuzzSeed(20_260_601)

describe("fuzzing the pure decoders", () => {
  it.each(decoderTargets.map((target) => [target.name, target] as const))("%s", async (_, target) => {
    const outcome = await runTarget(target, RUNS, targetSeed(SEED, target.name))
    expect(outcome.failure, outcome.failure).toBeUndefined()
    expect(outcome.runs).toBe(RUNS)
  })
})
