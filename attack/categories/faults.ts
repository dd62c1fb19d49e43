/**
 * The "faults" row: clients killed at every step of login, request and chat; the server process
 * killed with SIGKILL mid-chat and restarted on its folder; connection actors failing inside
 * (testkit/fuzz/fault-*.ts).
 */
import { actorFailures } from "../../testkit/fuzz/fault-actor.ts"
import { clientFaults } from "../../testkit/fuzz/fault-clients.ts"
import { serverKillRestart } from "../../testkit/fuzz/fault-restart.ts"
import type { AttackCategory } from "../categories.ts"
import { scenarioRow } from "./scenarios.ts"

export const faultsCategory: AttackCategory = {
  name: "faults",
  run: async (budget) => {
    const long = budget === "long"
    const reports = [
      await clientFaults(long ? 6 : 2),
      await serverKillRestart(),
      ...(long ? [await serverKillRestart()] : []),
      await actorFailures(long ? 30 : 8),
    ]
    return scenarioRow(reports)
  },
}
