/**
 * Scenario 1, logins per second: many concurrent clients completing full logins back to back for a
 * fixed time, against the onechat server (v3: hybrid X25519 + ML-KEM-768) and against a Node `tls`
 * TLS 1.3 server with the same Ed25519 certificate (full handshakes, no resumption), once with
 * X25519MLKEM768 and once with X25519. Server CPU per login beside the rate; then the hybrid's cost
 * per login and the ML-DSA-65 comparison, measured in this process (./login-crypto.ts).
 */
import { TLS_LOGIN_GROUPS } from "../baselines/tls-credentials.ts"
import { startTogether } from "../lib/agent-client.ts"
import { type BenchContext, measured, sleep, sum } from "../lib/context.ts"
import { CpuMeter } from "../lib/proc.ts"
import type { LoginResult } from "../lib/results.ts"
import { type RunningServer, startBaselineServer } from "../lib/servers.ts"
import { userNames } from "../lib/users.ts"
import { measureLoginCrypto } from "./login-crypto.ts"

/** Logins in flight per generator process. */
export const LOGIN_CONCURRENCY = 32

const oneRun = async (
  ctx: BenchContext,
  target: LoginResult["target"],
  server: RunningServer,
  durationMs: number,
) => {
  const { agents } = ctx
  const meter = new CpuMeter([server.pid, ...agents.map((agent) => agent.pid)])
  const commands = agents.map((_, i) => ({
    cmd: "login-load" as const,
    target,
    port: server.port,
    users: userNames(i * LOGIN_CONCURRENCY, LOGIN_CONCURRENCY),
    durationMs,
  }))
  await startTogether(agents, commands, () => meter.start())
  const results = await Promise.all(agents.map((agent) => agent.expect("login-result", durationMs + 120_000)))
  const { cpu, wall, others } = meter.stop()
  const logins = sum(results.map((r) => r.logins))
  const elapsed = Math.max(...results.map((r) => r.elapsedMs)) / 1000
  return {
    rate: logins / elapsed,
    cpuMsPerLogin: (cpu[0]! * 1000) / logins,
    utilisation: cpu[0]! / wall,
    generatorCores: sum(cpu.slice(1)) / wall,
    others,
    failures: sum(results.map((r) => r.failures)),
  }
}

/** Onechat on the given (shared) server; the TLS baseline on its own handshake server. */
export const runLoginScenario = async (ctx: BenchContext, onechat: RunningServer): Promise<LoginResult[]> => {
  const durationMs = ctx.quick ? 1_000 : 5_000
  const results: LoginResult[] = []
  for (const target of ["onechat", "tls", "tls-x25519"] as const) {
    const server =
      target === "onechat"
        ? onechat
        : await startBaselineServer("tls-handshake", ctx.dir, TLS_LOGIN_GROUPS[target])
    try {
      await oneRun(ctx, target, server, durationMs / 2) // warm-up, not reported
      const runs = []
      for (let r = 0; r < ctx.runs; r++) {
        await sleep(300)
        const run = await oneRun(ctx, target, server, durationMs)
        ctx.log(
          `  logins ${target} run ${r + 1}: ${run.rate.toFixed(0)}/s, server ${run.cpuMsPerLogin.toFixed(3)} ms CPU/login, ` +
            `generators ${run.generatorCores.toFixed(2)} cores, others ${run.others.toFixed(2)} cores`,
        )
        runs.push(run)
      }
      results.push({
        target,
        ...(target === "onechat" ? { crypto: measureHybridCost(ctx) } : {}),
        loginsPerSecond: measured(runs.map((r) => r.rate)),
        serverCpuMsPerLogin: measured(runs.map((r) => r.cpuMsPerLogin)),
        serverCpuUtilisation: measured(runs.map((r) => r.utilisation)),
        generatorCores: measured(runs.map((r) => r.generatorCores)),
        otherCores: measured(runs.map((r) => r.others)),
        failures: sum(runs.map((r) => r.failures)),
      })
    } finally {
      if (server !== onechat) await server.stop()
    }
  }
  return results
}

/** The micro rows, logged as they are measured (see ./login-crypto.ts). */
const measureHybridCost = (ctx: BenchContext) => {
  const cost = measureLoginCrypto(ctx.quick)
  const m = cost.mlkem
  const server = m.importKeyUs.median + m.encapsulationUs.median
  const client = m.keyGenerationUs.median + m.decapsulationUs.median
  ctx.log(
    `  hybrid cost: ML-KEM-768 adds ${server.toFixed(0)} µs server + ${client.toFixed(0)} µs client CPU ` +
      `and ${cost.wire.addedBytes} bytes per login`,
  )
  for (const s of cost.signatures) {
    ctx.log(
      `  ${s.name}: sign ${s.signUs.median.toFixed(1)} µs, verify ${s.verifyUs.median.toFixed(1)} µs, ` +
        `signature ${s.signatureBytes} B, public key ${s.publicKeyBytes} B`,
    )
  }
  return cost
}
