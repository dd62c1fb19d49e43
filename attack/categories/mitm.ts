/**
 * The `npm run attack` row "mitm": a network attacker between real clients and the real server
 * (testkit/mitm/). Short budget: every manipulation kind on every target frame of
 * every phase; long: also a flip of each byte of each phase's every-byte frame. A legitimate pair
 * chats directly with the server throughout (its latency is reported). Healthy: every attempt was
 * detected (a delay only delayed), the pair never failed, the server is back to the pair's
 * connections only, and a fresh user can log in.
 */

import { login } from "../../testkit/chat.ts"
import { startPairProbe } from "../../testkit/fuzz/pair-probe.ts"
import { MitmCampaign } from "../../testkit/mitm/campaign.ts"
import { PHASES } from "../../testkit/mitm/catalogue.ts"
import { seededRandom } from "../../testkit/random.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"
import type { AttackCategory } from "../categories.ts"

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The server is back to `expected` open connections within `withinMs`. */
const settlesTo = async (server: TestServer, expected: number, withinMs: number): Promise<boolean> => {
  const deadline = Date.now() + withinMs
  while (server.server.connectionCount() > expected) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

const canLogIn = async (server: TestServer, name: string): Promise<boolean> => {
  try {
    const link = await login(server, name)
    link.close({ quit: true })
    await link.closed
    return true
  } catch {
    return false
  }
}

export const mitmCategory: AttackCategory = {
  name: "mitm",
  run: async (budget) => {
    const server = await startTestServer({ users: ["alice", "bob", "carol"] })
    try {
      const pair = await startPairProbe(server, ["alice", "bob"])
      const campaign = await MitmCampaign.start(server, {
        prefix: "x",
        concurrency: 8,
        random: seededRandom(`attack-mitm-${budget}`),
      })
      const attempts = PHASES.flatMap((phase) => [
        ...campaign.attemptsFor(phase),
        ...(budget === "long" ? campaign.everyByte(phase) : []),
      ])
      const rows = await campaign.run(attempts)
      const settled = await settlesTo(server, 2, 5_000)
      const fresh = await canLogIn(server, "carol")
      const latency = await pair.stop()
      const attacks = rows.filter((row) => row.attempt.action.kind !== "delay")
      const delays = rows.filter((row) => row.attempt.action.kind === "delay")
      const problems = rows.flatMap((row) => row.problem ?? [])
      const stalls = attacks.filter(
        (row) => row.result.outcome.kind === "login-failed" && row.result.outcome.error.reason === "Timeout",
      )
      const notes = [
        `${delays.length - delays.filter((row) => row.problem !== undefined).length}/${delays.length} delays transparent`,
        `${stalls.length} withheld login frames caught by the login deadline`,
        ...(latency.failure === undefined ? [] : [`legitimate pair failed: ${latency.failure}`]),
        ...(settled ? [] : ["the server kept connections of finished attempts open"]),
        ...(fresh ? [] : ["a fresh login failed afterwards"]),
        ...problems.slice(0, 3),
        ...(problems.length > 3 ? [`… ${problems.length - 3} more problems`] : []),
      ]
      return {
        cases: attacks.length,
        rejected: attacks.filter((row) => row.problem === undefined).length,
        serverHealthy: latency.failure === undefined && settled && fresh && problems.length === 0,
        pairLatencyMs: { p50: latency.p50, p99: latency.p99 },
        notes: notes.join("\n"),
      }
    } finally {
      await server.stop()
    }
  },
}
