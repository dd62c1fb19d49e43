/**
 * Faults: clients killed (FIN or RST) at every step of login, of a chat request and in the middle
 * of a burst; the real server process killed with SIGKILL during live chats and restarted on its
 * data folder; connection actors failing inside. No ghost users, no one left waiting, nothing
 * acknowledged lost or reordered; the legitimate pair keeps chatting. `npm run attack` runs more
 * rounds.
 */
import { describe, expect, it } from "vitest"
import type { ScenarioReport } from "../../testkit/fuzz/attack-harness.ts"
import { actorFailures } from "../../testkit/fuzz/fault-actor.ts"
import { clientFaults } from "../../testkit/fuzz/fault-clients.ts"
import { serverKillRestart } from "../../testkit/fuzz/fault-restart.ts"

const expectSurvived = (report: ScenarioReport): void => {
  expect(report.broken).toEqual([])
  expect(report.healthyAfter, report.healthNote).toBe(true)
  expect(report.pair?.failure).toBeUndefined()
  expect(report.survived).toBe(report.cases)
}

describe("faults", { timeout: 90_000 }, () => {
  it("a client killed at every step of login, request and chat leaves no ghost and no one waiting", async () => {
    const report = await clientFaults(1)
    expectSurvived(report)
    expect(report.cases).toBe(26)
  })

  it("the server process killed mid-chat and restarted on its folder: only returning users are online", async () => {
    expectSurvived(await serverKillRestart())
  })

  it("failing connection actors: peer told, no ghost, re-login works, the pair keeps chatting", async () => {
    const report = await actorFailures(4)
    expectSurvived(report)
    expect(report.cases).toBe(4)
  })
})
