/**
 * Short-budget fuzzing of the client link against a hostile server: every hostile SERVER_HELLO,
 * authentication record, 1.3 or later record ends in a LinkError or a close for the predicted
 * reason, delivering only what genuine records carry; no throw, no unhandled rejection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { clientLinkTarget } from "../../testkit/fuzz/client-targets.ts"
import {
  fuzzSeed,
  type ProcessFaults,
  runTarget,
  targetSeed,
  watchProcessFaults,
} from "../../testkit/fuzz/runner.ts"
import { makeTestPki } from "../../testkit/pki.ts"

const RUNS = 150
const SEED = fuzzSeed(20_260_601)

let faults: ProcessFaults
beforeAll(() => {
  faults = watchProcessFaults()
})
afterAll(() => faults.dispose())

describe("fuzzing the client link", () => {
  it("survives a hostile server", async () => {
    const { target, stop } = await clientLinkTarget(await makeTestPki(), faults)
    try {
      const outcome = await runTarget(target, RUNS, targetSeed(SEED, target.name))
      expect(outcome.failure, outcome.failure).toBeUndefined()
      expect(outcome.runs).toBe(RUNS)
    } finally {
      await stop()
    }
    expect(faults.unhandledRejections + faults.uncaughtExceptions, faults.samples.join("; ")).toBe(0)
  })
})
