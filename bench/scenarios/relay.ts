/**
 * Scenario 2, relay throughput: K chatting pairs sending bursts of e2e messages of 16 B, 1 KiB and
 * 16 KiB both ways, through onechat, a Node `tls` relay and a plaintext relay (same framing,
 * coalesced writes). Messages/s delivered end to end and server CPU per message, median of runs.
 */

import { envelopeBytes } from "../generators/lanes.ts"
import type { AgentClient } from "../lib/agent-client.ts"
import { type BenchContext, measured, sleep, sum } from "../lib/context.ts"
import type { RelayResult } from "../lib/results.ts"
import type { RunningServer } from "../lib/servers.ts"
import type { Target } from "../lib/wire.ts"
import { type BurstOutcome, burst, closePairs, openPairs, pairSpecs } from "./relay-load.ts"

export const SIZES = [16, 1024, 16_384] as const
export const TARGETS: ReadonlyArray<Target> = ["onechat", "tls", "plain"]

/** Messages in the warm-up burst: about 4 MiB of envelopes (1 MiB quick), within 100 … 40,000. */
const warmUpMessages = (size: number, quick: boolean): number =>
  Math.min(40_000, Math.max(100, Math.floor(((quick ? 1 : 4) * 1024 * 1024) / envelopeBytes(size))))

/** Most messages in one timed burst (memory: they are all prepared before it starts). */
const maxBurstMessages = (size: number): number =>
  Math.min(1_500_000, Math.floor((384 * 1024 * 1024) / envelopeBytes(size)))

const summarise = (
  target: Target,
  pairs: number,
  size: number,
  runs: ReadonlyArray<BurstOutcome>,
): RelayResult => ({
  target,
  pairs,
  size,
  messagesPerRun: runs[0]?.messages ?? 0,
  messagesPerSecond: measured(runs.map((r) => r.rate)),
  serverCpuUsPerMessage: measured(runs.map((r) => r.cpuUsPerMessage)),
  serverCpuUtilisation: measured(runs.map((r) => r.utilisation)),
  generatorCores: measured(runs.map((r) => r.generatorCores)),
  otherCores: measured(runs.map((r) => r.others)),
  verified: sum(runs.map((r) => r.verified)),
  failures: sum(runs.map((r) => r.failures)),
  verification: runs[0]?.verification ?? "",
})

const logRun = (
  ctx: BenchContext,
  target: Target,
  pairs: number,
  size: number,
  r: number,
  run: BurstOutcome,
) =>
  ctx.log(
    `  relay ${target} ${pairs}p ${size} B run ${r + 1}: ${run.rate.toFixed(0)} msg/s, ` +
      `server ${run.cpuUsPerMessage.toFixed(2)} µs/msg, ${(run.utilisation * 100).toFixed(0)}% core; ` +
      `generators ${run.generatorCores.toFixed(2)}, others ${run.others.toFixed(2)} cores`,
  )

/**
 * Every size for one pair count on the given targets: per size, a warm-up burst per target that also
 * sizes its timed bursts, then `runs` rounds, each running every target once in turn (so background
 * load drifting over time hits the targets alike).
 */
export const measureRelay = async (
  ctx: BenchContext,
  servers: ReadonlyMap<Target, RunningServer>,
  pairCount: number,
  sizes: ReadonlyArray<number>,
  runs: number,
): Promise<RelayResult[]> => {
  const targets = [...servers.keys()]
  const lanes = 2 * pairCount
  const seconds = ctx.quick ? 0.2 : 1.5
  const agentsOf = new Map<Target, ReadonlyArray<AgentClient>>()
  for (const target of targets) {
    const { agents, setupMs } = await openPairs(ctx, target, servers.get(target)!.port, pairSpecs(pairCount))
    agentsOf.set(target, agents)
    ctx.log(`  relay ${target} ${pairCount} pairs: set up in ${(setupMs / 1000).toFixed(1)} s`)
  }
  const results: RelayResult[] = []
  for (const size of sizes) {
    const perLane = new Map<Target, number>()
    for (const target of targets) {
      const warmUpTotal = warmUpMessages(size, ctx.quick)
      const options = { target, size, lanes, perLane: Math.ceil(warmUpTotal / lanes) }
      const warmUp = await burst(agentsOf.get(target)!, servers.get(target)!, options)
      const total = Math.min(maxBurstMessages(size), Math.max(lanes, warmUp.rate * seconds))
      perLane.set(target, Math.ceil(total / lanes))
    }
    const outcomes = new Map<Target, BurstOutcome[]>(targets.map((target) => [target, []]))
    for (let r = 0; r < runs; r++) {
      for (const target of targets) {
        await sleep(50)
        const options = { target, size, lanes, perLane: perLane.get(target)! }
        const run = await burst(agentsOf.get(target)!, servers.get(target)!, options)
        logRun(ctx, target, pairCount, size, r, run)
        outcomes.get(target)!.push(run)
      }
    }
    for (const target of targets) results.push(summarise(target, pairCount, size, outcomes.get(target)!))
  }
  for (const target of targets) await closePairs(agentsOf.get(target)!, target)
  return results
}

export const runRelayScenario = async (
  ctx: BenchContext,
  servers: ReadonlyMap<Target, RunningServer>,
): Promise<RelayResult[]> => {
  const pairCounts = ctx.pairCounts ?? (ctx.quick ? [1, 10, 100] : [1, 10, 100, 1000])
  const results: RelayResult[] = []
  for (const pairs of pairCounts) results.push(...(await measureRelay(ctx, servers, pairs, SIZES, ctx.runs)))
  return results
}
