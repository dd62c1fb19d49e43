/**
 * A whole fuzz campaign: every decoder target, then the server targets (with the legitimate pair
 * chatting throughout) and the client target, each with its budget, under a process-fault watch.
 * Used by `npm run fuzz` (long budget) and the "fuzz" attack category (short budget). Test-only.
 */
import { clientLinkTarget } from "./client-targets.ts"
import { decoderTargets } from "./decoder-targets.ts"
import type { LatencyReport } from "./pair-probe.ts"
import { type FuzzOutcome, type FuzzTarget, runTarget, targetSeed, watchProcessFaults } from "./runner.ts"
import { startServerFuzzEnv } from "./server-env.ts"
import { firstContactTarget } from "./server-first-contact.ts"
import { hostilePlaintextTarget } from "./server-plaintext.ts"
import { hostileRecordTarget } from "./server-records.ts"

export type FuzzBudget = "short" | "long"

/** Runs per target. Decoder inputs per run: 1 (frames, record), 3 (codecs), 4 (hellos, alert, header). */
const RUNS: Readonly<Record<string, Readonly<Record<FuzzBudget, number>>>> = {
  "frame-decoder/chunked-streams": { short: 5_000, long: 100_000 },
  "frame-decoder/random-bytes": { short: 5_000, long: 100_000 },
  "codec/client-messages": { short: 3_000, long: 60_000 },
  "codec/server-messages": { short: 3_000, long: 60_000 },
  "codec/handshake-messages": { short: 3_000, long: 60_000 },
  "codec/client-hello": { short: 2_500, long: 40_000 },
  "codec/server-hello": { short: 2_500, long: 40_000 },
  "codec/alert": { short: 2_500, long: 40_000 },
  "codec/record-header": { short: 2_500, long: 40_000 },
  "record/open-mutated": { short: 5_000, long: 50_000 },
  "server/before-login": { short: 60, long: 600 },
  "server/hostile-records": { short: 200, long: 1_500 },
  "server/hostile-plaintext": { short: 200, long: 1_500 },
  "client/hostile-server": { short: 200, long: 1_500 },
}

export interface CampaignReport {
  readonly outcomes: ReadonlyArray<FuzzOutcome>
  /** The legitimate pair's latency during the server targets. */
  readonly pair: LatencyReport
  readonly processFaults: { readonly count: number; readonly samples: ReadonlyArray<string> }
  readonly ms: number
}

export interface CampaignOptions {
  readonly seed: number
  /** Called as each target finishes (for progress output). */
  readonly onOutcome?: (outcome: FuzzOutcome) => void
}

export const runFuzzCampaign = async (
  budget: FuzzBudget,
  options: CampaignOptions,
): Promise<CampaignReport> => {
  const started = performance.now()
  const faults = watchProcessFaults()
  const outcomes: FuzzOutcome[] = []
  const run = async (target: FuzzTarget): Promise<void> => {
    const runs = RUNS[target.name]?.[budget] ?? 100
    const outcome = await runTarget(target, runs, targetSeed(options.seed, target.name))
    outcomes.push(outcome)
    options.onOutcome?.(outcome)
  }
  try {
    for (const target of decoderTargets) await run(target)
    const env = await startServerFuzzEnv(faults)
    let pair: LatencyReport
    try {
      for (const make of [firstContactTarget, hostileRecordTarget, hostilePlaintextTarget])
        await run(make(env))
      await env.healthy({ freshLogin: true })
    } finally {
      pair = await env.stop()
    }
    const client = await clientLinkTarget(env.server.pki, faults)
    try {
      await run(client.target)
    } finally {
      await client.stop()
    }
    const count = faults.unhandledRejections + faults.uncaughtExceptions
    return {
      outcomes,
      pair,
      processFaults: { count, samples: faults.samples },
      ms: performance.now() - started,
    }
  } finally {
    faults.dispose()
  }
}
