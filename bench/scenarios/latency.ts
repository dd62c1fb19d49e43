/**
 * Scenario 3, latency: ping-pong round trips between two clients through the server (A sends, B
 * answers, A measures), p50/p99, idle and while 100 pairs send 16 B messages paced at about half
 * the maximum rate measured for that target. Onechat against the TLS relay (and the plaintext one).
 */

import { type BenchContext, measured, sleep, sum } from "../lib/context.ts"
import { CpuMeter } from "../lib/proc.ts"
import type { LatencyResult, RelayResult } from "../lib/results.ts"
import type { RunningServer } from "../lib/servers.ts"
import { type LatencySummary, summarizeLatency } from "../lib/stats.ts"
import { userName } from "../lib/users.ts"
import type { AgentEventOf, Target } from "../lib/wire.ts"
import { measureRelay } from "./relay.ts"
import { burst, closePairs, openPairs, pairSpecs } from "./relay-load.ts"

/** The plaintext relay is left out: a paced generator cannot offer half of its maximum. */
const LATENCY_TARGETS: ReadonlyArray<Target> = ["onechat", "tls"]

const LOAD_PAIRS = 100
const LOAD_SIZE = 16
/** The probe's users come after every relay pair's (1,000 pairs use u0 … u1999). */
const probePair = { id: 100_000, a: userName(2_000), b: userName(2_001) }

/** Warm-up round trips before the measured ones. */
const warmupFor = (rounds: number): number => Math.min(500, Math.floor(rounds / 5))

const probeCommand = (ctx: BenchContext, target: Target, port: number, rounds: number) => {
  ctx.probe.send({
    cmd: "latency",
    target,
    port,
    pair: probePair,
    size: LOAD_SIZE,
    rounds,
    warmup: warmupFor(rounds),
  })
  return ctx.probe.expect("ready", 120_000)
}

const probeResult = async (ctx: BenchContext): Promise<AgentEventOf<"latency-result">> =>
  ctx.probe.expect("latency-result", 300_000)

const idleRuns = async (ctx: BenchContext, target: Target, server: RunningServer): Promise<LatencyResult> => {
  const samples: LatencySummary[] = []
  const cpuPerRoundTrip: number[] = []
  const others: number[] = []
  let failures = 0
  const rounds = ctx.quick ? 400 : 5_000
  for (let r = 0; r < ctx.runs; r++) {
    await probeCommand(ctx, target, server.port, rounds)
    const meter = new CpuMeter([server.pid, ctx.probe.pid])
    meter.start()
    ctx.probe.send({ cmd: "go" })
    const result = await probeResult(ctx)
    const { cpu, others: busy } = meter.stop()
    cpuPerRoundTrip.push((cpu[0]! * 1e6) / (rounds + warmupFor(rounds)))
    others.push(busy)
    failures += result.failures
    samples.push(summarizeLatency(result.rttUs))
    ctx.log(
      `  latency ${target} idle run ${r + 1}: p50 ${samples.at(-1)!.p50.toFixed(0)} µs, p99 ${samples.at(-1)!.p99.toFixed(0)} µs, ` +
        `server ${cpuPerRoundTrip.at(-1)!.toFixed(0)} µs CPU per round trip, others ${busy.toFixed(2)} cores`,
    )
  }
  return {
    target,
    load: "idle",
    offeredLoad: 0,
    p50Us: measured(samples.map((s) => s.p50)),
    p99Us: measured(samples.map((s) => s.p99)),
    samples,
    serverCpuUtilisation: measured([]),
    serverCpuUsPerRoundTrip: measured(cpuPerRoundTrip),
    otherCores: measured(others),
    loadEndedEarly: false,
    failures,
  }
}

const loadedRuns = async (
  ctx: BenchContext,
  target: Target,
  server: RunningServer,
  maxRate: number,
): Promise<LatencyResult> => {
  const { agents } = await openPairs(ctx, target, server.port, pairSpecs(LOAD_PAIRS))
  const lanes = 2 * LOAD_PAIRS
  const offered = maxRate / 2
  const loadSeconds = ctx.quick ? 0.8 : 5
  const ratePerLane = offered / lanes
  const samples: LatencySummary[] = []
  const utilisation: number[] = []
  const others: number[] = []
  let failures = 0
  let endedEarly = false
  for (let r = 0; r < ctx.runs; r++) {
    await probeCommand(ctx, target, server.port, ctx.quick ? 200 : 3_000)
    const load = burst(
      agents,
      server,
      { target, size: LOAD_SIZE, perLane: Math.ceil(ratePerLane * loadSeconds), lanes, ratePerLane },
      () => setTimeout(() => ctx.probe.send({ cmd: "go" }), ctx.quick ? 300 : 500),
    )
    const [result, run] = await Promise.all([probeResult(ctx), load])
    endedEarly ||= run.lastArrivalAt < result.finishedAt
    failures += result.failures + run.failures
    utilisation.push(run.utilisation)
    others.push(run.others)
    samples.push(summarizeLatency(result.rttUs))
    ctx.log(
      `  latency ${target} loaded (${offered.toFixed(0)} msg/s offered, ${run.rate.toFixed(0)} delivered) run ${r + 1}: ` +
        `p50 ${samples.at(-1)!.p50.toFixed(0)} µs, p99 ${samples.at(-1)!.p99.toFixed(0)} µs`,
    )
    await sleep(200)
  }
  await closePairs(agents, target)
  return {
    target,
    load: "loaded",
    offeredLoad: offered,
    p50Us: measured(samples.map((s) => s.p50)),
    p99Us: measured(samples.map((s) => s.p99)),
    samples,
    serverCpuUtilisation: measured(utilisation),
    serverCpuUsPerRoundTrip: measured([]),
    otherCores: measured(others),
    loadEndedEarly: endedEarly,
    failures,
  }
}

/** The maximum 16 B rate at 100 pairs from the relay scenario, or a fresh single measurement. */
const maxRateFor = async (
  ctx: BenchContext,
  target: Target,
  server: RunningServer,
  relay: ReadonlyArray<RelayResult>,
): Promise<number> => {
  const known = relay.find((r) => r.target === target && r.pairs === LOAD_PAIRS && r.size === LOAD_SIZE)
  if (known !== undefined) return known.messagesPerSecond.median
  const [fresh] = await measureRelay(ctx, new Map([[target, server]]), LOAD_PAIRS, [LOAD_SIZE], 1)
  return fresh!.messagesPerSecond.median
}

export const runLatencyScenario = async (
  ctx: BenchContext,
  servers: ReadonlyMap<Target, RunningServer>,
  relay: ReadonlyArray<RelayResult>,
): Promise<LatencyResult[]> => {
  const results: LatencyResult[] = []
  for (const target of LATENCY_TARGETS) {
    const server = servers.get(target)!
    const maxRate = await maxRateFor(ctx, target, server, relay)
    results.push(await idleRuns(ctx, target, server))
    results.push(await loadedRuns(ctx, target, server, maxRate))
  }
  for (const r of results.filter((r) => r.loadEndedEarly)) {
    ctx.notes.push(
      `Latency, ${r.target}: in some loaded runs the load ended before the ping-pong did (the tail ran unloaded).`,
    )
  }
  if (sum(results.map((r) => r.failures)) > 0)
    ctx.notes.push("Latency runs reported verification failures (see JSON).")
  return results
}
