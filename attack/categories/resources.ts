/**
 * The "resources" row: slowloris, half-open connections, declared lengths at the maximum and
 * beyond, a 500-hello flood, a message flood, clients that never read and a LIST-request flood,
 * each against a server with small limits while the legitimate pair chats
 * (testkit/fuzz/resource-*.ts).
 */
import { halfOpen, handshakeFlood, maxLength, slowloris } from "../../testkit/fuzz/resource-connections.ts"
import { messageFlood, neverReads, requestFlood } from "../../testkit/fuzz/resource-traffic.ts"
import type { AttackCategory } from "../categories.ts"
import { scenarioRow } from "./scenarios.ts"

export const resourcesCategory: AttackCategory = {
  name: "resources",
  run: async (budget) => {
    const seconds = budget === "long" ? 10_000 : 3_000
    const reports = [
      await slowloris(seconds),
      await halfOpen(seconds),
      await maxLength(seconds),
      await handshakeFlood(seconds),
      await messageFlood(seconds),
      await neverReads(seconds),
      budget === "long" ? await requestFlood(200, 2) : await requestFlood(100, 1),
    ]
    return scenarioRow(reports)
  },
}
