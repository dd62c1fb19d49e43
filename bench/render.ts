/**
 * Prints the Markdown tables of a saved run again (e.g. after the report format changed):
 * `npx tsx bench/render.ts bench/results/<timestamp>.json`. Reads the file; runs nothing.
 */
import { readFileSync } from "node:fs"
import { renderReport } from "./lib/report.ts"
import type { BenchResults } from "./lib/results.ts"
import { profileMarkdown } from "./profile-summary.ts"

const file = process.argv[2]
if (file === undefined) {
  console.error("usage: npx tsx bench/render.ts bench/results/<timestamp>.json")
  process.exit(2)
}
const results: BenchResults = JSON.parse(readFileSync(file, "utf8"))
console.log(renderReport(results))
for (const profile of results.profiles) {
  console.log(
    `\n### Server CPU profile: ${profile.scenario} (${profile.file})\n\n${profileMarkdown(profile)}`,
  )
}
