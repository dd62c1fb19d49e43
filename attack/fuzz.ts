/**
 * `npm run fuzz`: the long fuzz campaign (at least 1,000,000 generated inputs, most on the pure
 * decoders, a few thousand over TCP against the server and the client), printing per-target
 * counts, failures and time. Seeded: FUZZ_SEED=<n> replays a campaign, FUZZ_PATH=<path> one
 * failing case. `--short` runs the attack table's budget. Exits non-zero on any failure.
 */
import { runFuzzCampaign } from "../testkit/fuzz/campaign.ts"
import { fuzzSeed } from "../testkit/fuzz/runner.ts"

const MINIMUM_INPUTS = 1_000_000
const budget = process.argv.includes("--short") ? "short" : "long"
const seed = fuzzSeed(Date.now() % 2 ** 31)
const number = (n: number): string => n.toLocaleString("en-US")

console.log(`onechat fuzz campaign: budget ${budget}, seed ${seed} (replay with FUZZ_SEED=${seed})`)
console.log(
  `${"target".padEnd(30)} ${"runs".padStart(9)} ${"inputs".padStart(10)} ${"rejected".padStart(10)} ${"time".padStart(8)}  result`,
)
const report = await runFuzzCampaign(budget, {
  seed,
  onOutcome: (o) =>
    console.log(
      `${o.name.padEnd(30)} ${number(o.runs).padStart(9)} ${number(o.inputs).padStart(10)} ${number(o.rejected).padStart(10)} ${`${(o.ms / 1000).toFixed(1)} s`.padStart(8)}  ${o.failure === undefined ? "ok" : "FAILED"}`,
    ),
})
const inputs = report.outcomes.reduce((sum, o) => sum + o.inputs, 0)
const failures = report.outcomes.filter((o) => o.failure !== undefined)
for (const failure of failures) console.log(`\n${failure.failure}`)
console.log(
  `\ntotal: ${number(inputs)} inputs (${number(report.outcomes.filter((o) => o.kind === "tcp").reduce((s, o) => s + o.inputs, 0))} over TCP), ${failures.length} failures, ${report.processFaults.count} process faults, ${(report.ms / 1000).toFixed(1)} s`,
)
console.log(
  `legitimate pair during the server targets: ${report.pair.rounds} rounds, p50 ${report.pair.p50.toFixed(1)} ms, p99 ${report.pair.p99.toFixed(1)} ms${report.pair.failure === undefined ? "" : `, FAILED: ${report.pair.failure}`}`,
)
const enough = budget === "short" || inputs >= MINIMUM_INPUTS
if (!enough) console.log(`fewer than ${number(MINIMUM_INPUTS)} inputs`)
process.exit(
  failures.length === 0 && report.processFaults.count === 0 && report.pair.failure === undefined && enough
    ? 0
    : 1,
)
