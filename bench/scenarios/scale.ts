/**
 * Scenario 4, memory and scale: one server, idle logged-in clients added in steps (1,000 → 5,000 →
 * 10,000), server RSS (VmRSS) at each step, then all disconnect; once the server has closed their
 * sockets (its fd count is back), RSS is read again after a few seconds.
 * Plain readings come first; only then is a full GC forced through the inspector, to tell what a
 * connection keeps from garbage V8 has not collected yet. One pass (10,000 logins take minutes).
 */
import { readdirSync } from "node:fs"
import type { AgentClient } from "../lib/agent-client.ts"
import { type BenchContext, sleep, split, sum } from "../lib/context.ts"
import { connectInspector, type InspectorSession, inspectorUrl } from "../lib/inspector.ts"
import { openFilesLimit, rssKiB } from "../lib/proc.ts"
import type { AfterGc, ScaleLevel, ScaleResult } from "../lib/results.ts"
import { type RunningServer, startOnechatServer } from "../lib/servers.ts"
import { userNames } from "../lib/users.ts"

const WARM_UP_LOGINS = 400
const AFTER_DISCONNECT_MS = 5_000
/** After the clients closed, how long to wait at most for the server to close its sockets. */
const MAX_CLOSE_WAIT_MS = 300_000
const CONCURRENCY_PER_AGENT = 64

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length

/** Logs `users` in across the agents; they stay connected until `closeIdle`. */
const openIdle = async (ctx: BenchContext, port: number, users: ReadonlyArray<string>) => {
  const slices = split(users, ctx.agents.length)
  const agents = ctx.agents.slice(0, slices.length)
  for (const [i, agent] of agents.entries()) {
    agent.send({ cmd: "idle-open", port, users: slices[i]!, concurrency: CONCURRENCY_PER_AGENT })
  }
  const opened = await Promise.all(agents.map((agent) => agent.expect("idle-opened", 1_800_000)))
  return {
    agents,
    connected: sum(opened.map((o) => o.connected)),
    failures: sum(opened.map((o) => o.failures)),
    seconds: Math.max(...opened.map((o) => o.elapsedMs)) / 1000,
  }
}

const closeIdle = async (agents: ReadonlyArray<AgentClient>) => {
  for (const agent of agents) agent.send({ cmd: "idle-close" })
  await Promise.all(agents.map((agent) => agent.expect("idle-closed", 600_000)))
}

const afterGc = async (inspector: InspectorSession, server: RunningServer): Promise<AfterGc> => {
  await inspector.collectGarbage()
  await sleep(500)
  return { rssKiB: rssKiB(server.pid), heapUsedKiB: (await inspector.heapUsage()).usedKiB }
}

/** A server for this scenario: fresh, with the inspector open. Start it early; it stays idle. */
export const startScaleServer = (ctx: { readonly dir: string }): Promise<RunningServer> =>
  startOnechatServer({ dir: ctx.dir, inspect: true })

export const runScaleScenario = async (ctx: BenchContext, server: RunningServer): Promise<ScaleResult> => {
  const steps = ctx.quick ? [1_000] : [1_000, 5_000, 10_000]
  const url = server
    .stderrHead()
    .map(inspectorUrl)
    .find((u) => u !== undefined)
  if (url === undefined) throw new Error("the server printed no inspector URL")
  try {
    await sleep(1_000)
    const freshRssKiB = rssKiB(server.pid)
    const warmUpLogins = ctx.quick ? 100 : WARM_UP_LOGINS
    await closeIdle((await openIdle(ctx, server.port, userNames(0, warmUpLogins))).agents)
    await sleep(ctx.quick ? 1_000 : 2_000)
    const warmRssKiB = rssKiB(server.pid)
    const inspector = await connectInspector(url)
    const start = await afterGc(inspector, server)
    const startFds = openFds(server.pid)
    const levels: ScaleLevel[] = []
    let connected = 0
    for (const clients of steps) {
      const step = await openIdle(ctx, server.port, userNames(connected, clients - connected))
      connected += step.connected
      await sleep(ctx.quick ? 1_000 : 2_000)
      const rss = rssKiB(server.pid)
      levels.push({
        clients,
        connected,
        failures: step.failures,
        loginsPerSecond: step.connected / step.seconds,
        rssKiB: rss,
        rssKiBPerConnection: (rss - start.rssKiB) / connected,
        serverFds: openFds(server.pid),
      })
      ctx.log(
        `  scale ${clients}: ${connected} connected (${step.failures} failed, ${(step.connected / step.seconds).toFixed(0)} logins/s); ` +
          `RSS ${rss} KiB, ${((rss - start.rssKiB) / connected).toFixed(1)} KiB/connection over the start (${start.rssKiB} KiB)`,
      )
    }
    const top = await afterGc(inspector, server)
    await closeIdle(ctx.agents)
    const closing = performance.now()
    while (openFds(server.pid) > startFds + 16 && performance.now() - closing < MAX_CLOSE_WAIT_MS)
      await sleep(250)
    const closeSeconds = (performance.now() - closing) / 1000
    await sleep(AFTER_DISCONNECT_MS)
    const afterRssKiB = rssKiB(server.pid)
    const serverFdsAfter = openFds(server.pid)
    const after = await afterGc(inspector, server)
    inspector.close()
    ctx.log(
      `  scale: the server closed its sockets ${closeSeconds.toFixed(1)} s after the clients closed theirs`,
    )
    ctx.log(
      `  scale: after disconnect RSS ${afterRssKiB} KiB (${serverFdsAfter} fds); forced GC: start ${start.rssKiB}, top ${top.rssKiB}, after ${after.rssKiB} KiB`,
    )
    return {
      freshRssKiB,
      warmRssKiB,
      warmUpLogins,
      startRssKiB: start.rssKiB,
      levels,
      afterRssKiB,
      afterToStart: afterRssKiB / start.rssKiB,
      secondsWaitedAfterDisconnect: AFTER_DISCONNECT_MS / 1000,
      serverCloseSeconds: closeSeconds,
      serverFdsAfter,
      forcedGc: {
        start,
        top,
        after,
        liveKiBPerConnection: (top.rssKiB - start.rssKiB) / connected,
        liveHeapKiBPerConnection: (top.heapUsedKiB - start.heapUsedKiB) / connected,
      },
      openFilesLimit: {
        server: openFilesLimit(server.pid),
        generators: ctx.agents.map((agent) => openFilesLimit(agent.pid)),
      },
    }
  } finally {
    await server.stop()
  }
}
