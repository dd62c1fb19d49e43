/**
 * Scenario 3, latency: ping-pong round trips between two clients through the server (A sends, B
 * answers, A measures), p50/p99, idle and while 100 pairs send 16 B messages paced at about half
 * the maximum rate measured for that target. Onechat against the TLS relay; the runs alternate
 * between the two so that background load drifting over time hits both alike.
 */

import type { AgentClient } from "../lib/agent-client.ts"
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
export const LOAD_SIZE = 16
/** The probe's users come after every relay pair's (1,000 pairs use u0 … u1999). */
export const probePair = { id: 100_000, a: userName(2_000), b: userName(2_001) }

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

interface RunSample {
  readonly summary: LatencySummary
  readonly failures: number
  readonly others: number
  /** Idle: server CPU µs per round trip. Loaded: server core utilisation. */
  readonly cpu: number
  readonly endedEarly: boolean
}

const idleRun = async (
  ctx: BenchContext,
  target: Target,
  server: RunningServer,
  r: number,
): Promise<RunSample> => {
  const rounds = ctx.quick ? 400 : 5_000
  await probeCommand(ctx, target, server.port, rounds)
  const meter = new CpuMeter([server.pid, ctx.probe.pid])
  meter.start()
  ctx.probe.send({ cmd: "go" })
  const result = await probeResult(ctx)
  const { cpu, others } = meter.stop()
  const summary = summarizeLatency(result.rttUs)
  const perRoundTrip = (cpu[0]! * 1e6) / (rounds + warmupFor(rounds))
  ctx.log(
    `  latency ${target} idle run ${r + 1}: p50 ${summary.p50.toFixed(0)} µs, p99 ${summary.p99.toFixed(0)} µs, ` +
      `server ${perRoundTrip.toFixed(0)} µs CPU per round trip, others ${others.toFixed(2)} cores`,
  )
  return { summary, failures: result.failures, others, cpu: perRoundTrip, endedEarly: false }
}

const loadedRun = async (
  ctx: BenchContext,
  target: Target,
  server: RunningServer,
  load: { readonly agents: ReadonlyArray<AgentClient>; readonly offered: number },
  r: number,
): Promise<RunSample> => {
  const lanes = 2 * LOAD_PAIRS
  const ratePerLane = load.offered / lanes
  const perLane = Math.ceil(ratePerLane * (ctx.quick ? 0.8 : 5))
  await probeCommand(ctx, target, server.port, ctx.quick ? 200 : 3_000)
  const running = burst(load.agents, server, { target, size: LOAD_SIZE, perLane, lanes, ratePerLane }, () =>
    setTimeout(() => ctx.probe.send({ cmd: "go" }), ctx.quick ? 300 : 500),
  )
  const [result, run] = await Promise.all([probeResult(ctx), running])
  const summary = summarizeLatency(result.rttUs)
  ctx.log(
    `  latency ${target} loaded (${load.offered.toFixed(0)} msg/s offered, ${run.rate.toFixed(0)} delivered) run ${r + 1}: ` +
      `p50 ${summary.p50.toFixed(0)} µs, p99 ${summary.p99.toFixed(0)} µs, others ${run.others.toFixed(2)} cores`,
  )
  return {
    summary,
    failures: result.failures + run.failures,
    others: run.others,
    cpu: run.utilisation,
    endedEarly: run.lastArrivalAt < result.finishedAt,
  }
}

const resultOf = (
  target: Target,
  load: "idle" | "loaded",
  offered: number,
  runs: ReadonlyArray<RunSample>,
) => ({
  target,
  load,
  offeredLoad: offered,
  p50Us: measured(runs.map((s) => s.summary.p50)),
  p99Us: measured(runs.map((s) => s.summary.p99)),
  samples: runs.map((s) => s.summary),
  serverCpuUtilisation: measured(load === "loaded" ? runs.map((s) => s.cpu) : []),
  serverCpuUsPerRoundTrip: measured(load === "idle" ? runs.map((s) => s.cpu) : []),
  otherCores: measured(runs.map((s) => s.others)),
  loadEndedEarly: runs.some((s) => s.endedEarly),
  failures: sum(runs.map((s) => s.failures)),
})

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

/** Idle runs, then loaded runs; each round runs every target once in turn (shared background noise). */
export const runLatencyScenario = async (
  ctx: BenchContext,
  servers: ReadonlyMap<Target, RunningServer>,
  relay: ReadonlyArray<RelayResult>,
): Promise<LatencyResult[]> => {
  const idle = new Map<Target, RunSample[]>(LATENCY_TARGETS.map((t) => [t, []]))
  const loaded = new Map<Target, RunSample[]>(LATENCY_TARGETS.map((t) => [t, []]))
  for (let r = 0; r < ctx.runs; r++) {
    for (const target of LATENCY_TARGETS)
      idle.get(target)!.push(await idleRun(ctx, target, servers.get(target)!, r))
  }
  const loads = new Map<Target, { agents: ReadonlyArray<AgentClient>; offered: number }>()
  for (const target of LATENCY_TARGETS) {
    const server = servers.get(target)!
    const offered = (await maxRateFor(ctx, target, server, relay)) / 2
    const { agents } = await openPairs(ctx, target, server.port, pairSpecs(LOAD_PAIRS))
    loads.set(target, { agents, offered })
  }
  for (let r = 0; r < ctx.runs; r++) {
    for (const target of LATENCY_TARGETS) {
      loaded.get(target)!.push(await loadedRun(ctx, target, servers.get(target)!, loads.get(target)!, r))
      await sleep(200)
    }
  }
  for (const [target, load] of loads) await closePairs(load.agents, target)
  const results: LatencyResult[] = LATENCY_TARGETS.flatMap((target) => [
    resultOf(target, "idle", 0, idle.get(target)!),
    resultOf(target, "loaded", loads.get(target)!.offered, loaded.get(target)!),
  ])
  for (const r of results.filter((r) => r.loadEndedEarly)) {
    ctx.notes.push(
      `Latency, ${r.target}: in some loaded runs the load ended before the ping-pong did (the tail ran unloaded).`,
    )
  }
  if (sum(results.map((r) => r.failures)) > 0)
    ctx.notes.push("Latency runs reported verification failures (see JSON).")
  return results
}
