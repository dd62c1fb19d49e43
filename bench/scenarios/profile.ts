/**
 * Scenario 5, where the time goes: the onechat server run with `--cpu-prof` (a) while 100 pairs
 * send 16 B bursts and (b) while the generators log in back to back. Each profile is written when
 * its server exits on SIGTERM and is summarised over the measured window only
 * (bench/profile-summary.ts).
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { startTogether } from "../lib/agent-client.ts"
import { type BenchContext, sleep } from "../lib/context.ts"
import type { ProfileResult } from "../lib/results.ts"
import { type RunningServer, startOnechatServer } from "../lib/servers.ts"
import { userNames } from "../lib/users.ts"
import { type CpuProfile, summarizeProfile } from "../profile-summary.ts"
import { LOAD_SIZE, probePair } from "./latency.ts"
import { LOGIN_CONCURRENCY } from "./logins.ts"
import { burst, closePairs, openPairs, pairSpecs } from "./relay-load.ts"

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** Runs `body` against a profiled server; summarises the samples between its two marks. */
const profiled = async (
  ctx: BenchContext,
  name: string,
  body: (server: RunningServer, mark: () => void) => Promise<void>,
): Promise<ProfileResult> => {
  const dir = join(ctx.resultsDir, `profile-${ctx.timestamp}`, name)
  mkdirSync(dir, { recursive: true })
  const server = await startOnechatServer({ dir: ctx.dir, cpuProfileDir: dir })
  const marks: number[] = []
  try {
    await body(server, () => marks.push(monotonicUs()))
  } finally {
    const status = await server.stop("SIGTERM", 30_000)
    ctx.log(`  profiled server (${name}) exited: ${status}`)
  }
  const file = readdirSync(dir).find((entry) => entry.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`)
  const profile: CpuProfile = JSON.parse(readFileSync(join(dir, file), "utf8"))
  return summarizeProfile(profile, {
    fromUs: marks[0]!,
    toUs: marks[1]!,
    top: 20,
    file: relative(process.cwd(), join(dir, file)),
  })
}

/** `--profile-pairs N` and `--profile-size BYTES` change the relay profile's load (default 100 × 16 B). */
const profileOption = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--profile-${name}`)
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback
  return Number.isInteger(value) && value > 0 ? value : fallback
}
const PROFILE_PAIRS = profileOption("pairs", 100)
const PROFILE_SIZE = profileOption("size", 16)

const relayProfile = (ctx: BenchContext) =>
  profiled(ctx, `relay-${PROFILE_PAIRS}-pairs-${PROFILE_SIZE}B`, async (server, mark) => {
    const { agents } = await openPairs(ctx, "onechat", server.port, pairSpecs(PROFILE_PAIRS))
    const lanes = 2 * PROFILE_PAIRS
    const size = PROFILE_SIZE
    // the same bytes whatever the size: 400,000 × 16 B (60,000 quick)
    const messages = Math.max(
      lanes * 4,
      Math.ceil(((ctx.quick ? 60_000 : 400_000) * 16) / Math.max(16, size)),
    )
    const perLane = Math.ceil(messages / lanes)
    await burst(agents, server, { target: "onechat", size, perLane: Math.ceil(perLane / 10), lanes }) // warm-up
    mark()
    for (let r = 0; r < 2; r++) {
      const run = await burst(agents, server, { target: "onechat", size, perLane, lanes })
      ctx.log(`  profile burst ${r + 1}: ${run.rate.toFixed(0)} msg/s (the profiler slows the server)`)
      await sleep(100)
    }
    mark()
    await closePairs(agents, "onechat")
  })

const loginProfile = (ctx: BenchContext) =>
  profiled(ctx, "logins", async (server, mark) => {
    const durationMs = ctx.quick ? 1_000 : 4_000
    const commands = ctx.agents.map((_, i) => ({
      cmd: "login-load" as const,
      target: "onechat" as const,
      port: server.port,
      users: userNames(i * LOGIN_CONCURRENCY, LOGIN_CONCURRENCY),
      durationMs,
    }))
    await startTogether(ctx.agents, commands, mark)
    const results = await Promise.all(
      ctx.agents.map((agent) => agent.expect("login-result", durationMs + 120_000)),
    )
    mark()
    ctx.log(`  profile logins: ${results.reduce((n, r) => n + r.logins, 0)} logins`)
  })

const latencyProfile = (ctx: BenchContext) =>
  profiled(ctx, "latency-idle", async (server, mark) => {
    const rounds = ctx.quick ? 1_000 : 5_000
    ctx.probe.send({
      cmd: "latency",
      target: "onechat",
      port: server.port,
      pair: probePair,
      size: LOAD_SIZE,
      rounds,
      warmup: 200,
    })
    await ctx.probe.expect("ready", 120_000)
    mark()
    ctx.probe.send({ cmd: "go" })
    await ctx.probe.expect("latency-result", 300_000)
    mark()
  })

export const runProfileScenario = async (ctx: BenchContext): Promise<ProfileResult[]> => [
  { ...(await relayProfile(ctx)), scenario: `relay: ${PROFILE_PAIRS} pairs, ${PROFILE_SIZE} B bursts` },
  { ...(await loginProfile(ctx)), scenario: `logins: ${2 * LOGIN_CONCURRENCY} concurrent clients` },
  { ...(await latencyProfile(ctx)), scenario: "latency: one pair's ping-pong, idle" },
]
