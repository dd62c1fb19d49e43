/**
 * The "fuzz" row: the whole fuzz campaign of testkit/fuzz (decoders, server before and
 * after login, client against a hostile server) with the legitimate pair chatting during the
 * server targets. "short" is the attack table's budget; "long" is `npm run fuzz`'s.
 */
import { runFuzzCampaign } from "../../testkit/fuzz/campaign.ts"
import { fuzzSeed } from "../../testkit/fuzz/runner.ts"
import type { AttackCategory } from "../categories.ts"

export const fuzzCategory: AttackCategory = {
  name: "fuzz",
  run: async (budget) => {
    const seed = fuzzSeed(20_260_601)
    const report = await runFuzzCampaign(budget, { seed })
    const sum = (pick: (o: (typeof report.outcomes)[number]) => number) =>
      report.outcomes.reduce((total, o) => total + pick(o), 0)
    const failed = report.outcomes.filter((o) => o.failure !== undefined)
    const tcp = sum((o) => (o.kind === "tcp" ? o.inputs : 0))
    const notes = [
      `${report.outcomes.length} targets, seed ${seed}, ${tcp} inputs over TCP, ${failed.length} failed`,
      ...failed.map((o) => o.failure!.split("\n").slice(0, 3).join(" ")),
      ...(report.processFaults.count > 0
        ? [`process faults: ${report.processFaults.samples.join("; ")}`]
        : []),
      ...(report.pair.failure === undefined ? [] : [`pair: ${report.pair.failure}`]),
    ]
    return {
      cases: sum((o) => o.inputs),
      rejected: sum((o) => o.rejected),
      serverHealthy:
        failed.length === 0 && report.processFaults.count === 0 && report.pair.failure === undefined,
      pairLatencyMs: { p50: report.pair.p50, p99: report.pair.p99 },
      notes: notes.join("; "),
    }
  },
}
