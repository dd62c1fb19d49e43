/**
 * Short-budget fuzzing of the running server over real TCP: hostile first frames before login,
 * hostile records and validly sealed hostile plaintext after login. The server answers as the
 * oracles predict, never acts on a rejected record, leaks no connection, keeps a legitimate pair
 * chatting, and accepts fresh logins. `npm run fuzz` runs the same targets far longer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  fuzzSeed,
  type ProcessFaults,
  runTarget,
  targetSeed,
  watchProcessFaults,
} from "../../testkit/fuzz/runner.ts"
import { type ServerFuzzEnv, startServerFuzzEnv } from "../../testkit/fuzz/server-env.ts"
import { firstContactTarget } from "../../testkit/fuzz/server-first-contact.ts"
import { hostilePlaintextTarget } from "../../testkit/fuzz/server-plaintext.ts"
import { hostileRecordTarget } from "../../testkit/fuzz/server-records.ts"

const SEED = fuzzSeed(20_260_601)

let faults: ProcessFaults
let env: ServerFuzzEnv
beforeAll(async () => {
  faults = watchProcessFaults()
  env = await startServerFuzzEnv(faults)
}, 60_000)
afterAll(async () => {
  const latency = await env.stop()
  faults.dispose()
  expect(latency.failure).toBeUndefined()
  expect(faults.unhandledRejections + faults.uncaughtExceptions, faults.samples.join("; ")).toBe(0)
})

describe("fuzzing the server over TCP", { timeout: 90_000 }, () => {
  it.each([
    ["server/before-login", firstContactTarget, 40],
    ["server/hostile-records", hostileRecordTarget, 60],
    ["server/hostile-plaintext", hostilePlaintextTarget, 100],
  ] as const)("%s", async (_, makeTarget, runs) => {
    const target = makeTarget(env)
    const outcome = await runTarget(target, runs, targetSeed(SEED, target.name))
    expect(outcome.failure, outcome.failure).toBeUndefined()
    expect(outcome.runs).toBe(runs)
  })
})
