/**
 * `npm run attack`: runs every registered category (attack/categories/index.ts) and prints one
 * table — category | cases tried | rejected / survived | server healthy after | legitimate-pair
 * latency (p50/p99 ms) — then the notes. `--long` runs the long budgets; names after the flags
 * pick categories (`npm run attack -- faults`). Exits non-zero if any row fails.
 */

import { watchProcessFaults } from "../testkit/fuzz/runner.ts"
import { categories } from "./categories/index.ts"
import type { AttackRow } from "./categories.ts"

const budget = process.argv.includes("--long") ? "long" : "short"
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
const chosen = categories.filter((c) => wanted.length === 0 || wanted.includes(c.name))

interface Line {
  readonly name: string
  readonly row?: AttackRow
  readonly error?: string
  readonly seconds: number
}

const number = (n: number): string => n.toLocaleString("en-US")
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "–")
const passed = (line: Line): boolean => line.row?.serverHealthy === true

const faults = watchProcessFaults()
const lines: Line[] = []
for (const category of chosen) {
  process.stderr.write(`running ${category.name} (${budget})…\n`)
  const started = performance.now()
  try {
    const row = await category.run(budget)
    lines.push({ name: category.name, row, seconds: (performance.now() - started) / 1000 })
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    lines.push({ name: category.name, error: message, seconds: (performance.now() - started) / 1000 })
  }
}
faults.dispose()

const header = [
  "category",
  "cases tried",
  "rejected / survived",
  "server healthy after",
  "pair latency p50/p99 (ms)",
  "time",
]
const cells = lines.map((line) => {
  const row = line.row
  return [
    line.name,
    row === undefined ? "–" : number(row.cases),
    row === undefined ? "–" : `${number(row.rejected)} / ${number(row.cases - row.rejected)}`,
    row === undefined ? "no (failed to run)" : row.serverHealthy ? "yes" : "NO",
    row?.pairLatencyMs === undefined ? "–" : `${ms(row.pairLatencyMs.p50)} / ${ms(row.pairLatencyMs.p99)}`,
    `${line.seconds.toFixed(0)} s`,
  ]
})
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
const render = (row: ReadonlyArray<string>): string =>
  `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
console.log(`\nonechat attack table (budget ${budget})\n`)
console.log(render(header))
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
for (const row of cells) console.log(render(row))

console.log("\nnotes:")
for (const line of lines) {
  for (const note of (line.row?.notes ?? "").split("\n").filter((n) => n.length > 0))
    console.log(`- ${line.name}: ${note}`)
  if (line.error !== undefined) console.log(`- ${line.name}: FAILED TO RUN: ${line.error}`)
}
const stray = faults.unhandledRejections + faults.uncaughtExceptions
if (stray > 0) console.log(`- process faults during the run: ${faults.samples.join("; ")}`)
const ok = lines.length > 0 && lines.every(passed) && stray === 0
console.log(`\n${ok ? "every row passed" : "SOME ROWS FAILED"}`)
process.exit(ok ? 0 : 1)
