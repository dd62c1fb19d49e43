/**
 * Folds adversarial scenario reports (testkit/fuzz/attack-harness.ts) into one attack
 * table row: cases and rejections summed, healthy only if every scenario held its limits and left
 * the server healthy, the pair's latency as the worst p50 and worst p99 over the scenarios.
 */
import type { ScenarioReport } from "../../testkit/fuzz/attack-harness.ts"
import type { AttackRow } from "../categories.ts"

/** Heap growth after GC (MiB) beyond which a scenario counts as leaking. */
const LEAK_MIB = 24

const describe = (report: ScenarioReport): string => {
  const memory =
    report.memory === undefined
      ? ""
      : `, heap ${report.memory.heapBeforeMiB}→${report.memory.heapAfterMiB} MiB (peak ${report.memory.heapPeakMiB}), rss ${report.memory.rssBeforeMiB}→${report.memory.rssAfterMiB} MiB`
  const pair =
    report.pair === undefined
      ? ""
      : `, pair p50 ${report.pair.p50.toFixed(1)} / p99 ${report.pair.p99.toFixed(1)} ms`
  const trouble = [...report.broken, ...(report.healthNote === undefined ? [] : [report.healthNote])]
  return `${report.name}: ${report.cases} cases, ${report.rejected} rejected${memory}${pair}${
    report.notes?.length ? ` (${report.notes.join("; ")})` : ""
  }${trouble.length > 0 ? ` FAILED: ${trouble.join("; ")}` : ""}`
}

const leaked = (report: ScenarioReport): boolean =>
  report.memory !== undefined && report.memory.heapAfterMiB - report.memory.heapBeforeMiB > LEAK_MIB

export const scenarioRow = (reports: ReadonlyArray<ScenarioReport>): AttackRow => {
  const pairs = reports.flatMap((r) => (r.pair === undefined ? [] : [r.pair]))
  const healthy = reports.every(
    (r) => r.limitsHeld && r.healthyAfter && r.pair?.failure === undefined && !leaked(r),
  )
  return {
    cases: reports.reduce((n, r) => n + r.cases, 0),
    rejected: reports.reduce((n, r) => n + r.rejected, 0),
    serverHealthy: healthy,
    ...(pairs.length === 0
      ? {}
      : {
          pairLatencyMs: {
            p50: Math.max(...pairs.map((p) => p.p50)),
            p99: Math.max(...pairs.map((p) => p.p99)),
          },
        }),
    notes: reports.map(describe).join("\n"),
  }
}
