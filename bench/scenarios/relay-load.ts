/**
 * The relay load shared by the throughput, latency and profile scenarios: pairs of benchmark users
 * opened on the agents, and one timed burst across them with the server's and the agents' CPU
 * measured from `go` to the last delivery.
 */
import { type AgentClient, startTogether } from "../lib/agent-client.ts"
import { type BenchContext, split, sum } from "../lib/context.ts"
import { CpuMeter } from "../lib/proc.ts"
import type { RunningServer } from "../lib/servers.ts"
import { userName } from "../lib/users.ts"
import type { PairSpec, Target } from "../lib/wire.ts"

/** Bytes in flight per lane: 256 KiB, less when many lanes share the server's buffers. */
export const windowBytes = (lanes: number): number =>
  Math.min(256 * 1024, Math.floor((32 * 1024 * 1024) / lanes))

/** Pair p chats between users u(2p) and u(2p+1). */
export const pairSpecs = (count: number): PairSpec[] =>
  Array.from({ length: count }, (_, p) => ({ id: p, a: userName(2 * p), b: userName(2 * p + 1) }))

/** Opens `pairs` on the target, split across the agents (one agent for a single pair). */
export const openPairs = async (
  ctx: BenchContext,
  target: Target,
  port: number,
  pairs: ReadonlyArray<PairSpec>,
) => {
  const slices = split(pairs, Math.min(ctx.agents.length, pairs.length))
  const agents = ctx.agents.slice(0, slices.length)
  for (const [i, agent] of agents.entries())
    agent.send({ cmd: "relay-open", target, port, pairs: slices[i]! })
  const opened = await Promise.all(agents.map((agent) => agent.expect("relay-opened", 600_000)))
  return { agents, setupMs: Math.max(...opened.map((o) => o.setupMs)) }
}

export const closePairs = async (agents: ReadonlyArray<AgentClient>, target: Target) => {
  for (const agent of agents) agent.send({ cmd: "relay-close", target })
  await Promise.all(agents.map((agent) => agent.expect("relay-closed", 300_000)))
}

export interface BurstOutcome {
  readonly messages: number
  readonly rate: number
  readonly cpuUsPerMessage: number
  /** Server CPU over wall time (1 = one core busy). */
  readonly utilisation: number
  readonly generatorCores: number
  readonly others: number
  readonly verified: number
  readonly failures: number
  readonly verification: string
  /** When the last message arrived, in ms since the epoch. */
  readonly lastArrivalAt: number
}

/** One burst on every agent: `perLane` messages per lane, optionally paced. */
export const burst = async (
  agents: ReadonlyArray<AgentClient>,
  server: RunningServer,
  options: {
    readonly target: Target
    readonly size: number
    readonly perLane: number
    readonly lanes: number
    readonly ratePerLane?: number
  },
  onStarted: () => void = () => {},
): Promise<BurstOutcome> => {
  const meter = new CpuMeter([server.pid, ...agents.map((agent) => agent.pid)])
  const command = {
    cmd: "relay-burst" as const,
    target: options.target,
    size: options.size,
    perLane: options.perLane,
    windowBytes: windowBytes(options.lanes),
    ...(options.ratePerLane === undefined ? {} : { ratePerLane: options.ratePerLane }),
  }
  await startTogether(
    agents,
    agents.map(() => command),
    () => {
      meter.start()
      onStarted()
    },
  )
  const delivered = await Promise.all(agents.map((agent) => agent.expect("relay-delivered", 600_000)))
  const { cpu, wall, others } = meter.stop()
  const verified = await Promise.all(agents.map((agent) => agent.expect("relay-verified", 600_000)))
  const messages = sum(delivered.map((d) => d.delivered))
  return {
    messages,
    rate: messages / (Math.max(...delivered.map((d) => d.elapsedMs)) / 1000),
    cpuUsPerMessage: (cpu[0]! * 1e6) / messages,
    utilisation: cpu[0]! / wall,
    generatorCores: sum(cpu.slice(1)) / wall,
    others,
    verified: sum(verified.map((v) => v.verified)),
    failures: sum(verified.map((v) => v.failures)),
    verification: verified[0]?.method ?? "",
    lastArrivalAt: Math.max(...delivered.map((d) => d.lastArrivalAt)),
  }
}
