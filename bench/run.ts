/**
 * `npm run bench [-- --quick] [--only logins,relay,latency,scale,profile,ratchet,startup] [--runs N]
 * [--pairs 1,10]`: runs the onechat server and the baselines as their own processes, drives them
 * from load-generator processes, prints Markdown tables (medians, ratios to the baselines of the
 * same run, server CPU per unit of work) and writes everything to bench/results/<timestamp>.json.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import { join } from "node:path"
import { AgentClient } from "./lib/agent-client.ts"
import { WANTED_OPEN_FILES } from "./lib/child.ts"
import type { BenchContext } from "./lib/context.ts"
import { describeMachine } from "./lib/machine.ts"
import { openFilesLimit } from "./lib/proc.ts"
import { renderReport } from "./lib/report.ts"
import type {
  BenchResults,
  LatencyResult,
  LoginResult,
  ProfileResult,
  RelayResult,
  ScaleResult,
} from "./lib/results.ts"
import { startTargetServers } from "./lib/servers.ts"
import { createBenchDataDir } from "./lib/users.ts"
import type { Target } from "./lib/wire.ts"
import { profileMarkdown } from "./profile-summary.ts"
import { runLatencyScenario } from "./scenarios/latency.ts"
import { runLoginScenario } from "./scenarios/logins.ts"
import { runProfileScenario } from "./scenarios/profile.ts"
import { ratchetTable, runRatchetScenario } from "./scenarios/ratchet.ts"
import { runRelayScenario } from "./scenarios/relay.ts"
import { runScaleScenario, startScaleServer } from "./scenarios/scale.ts"
import { runStartupScenario, startupTable } from "./startup.ts"

const SECTIONS = ["logins", "relay", "latency", "scale", "profile", "ratchet", "startup"] as const
type Section = (typeof SECTIONS)[number]

const argValue = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? process.argv[index + 1] : undefined
}

const quick = process.argv.includes("--quick")
const runs = Number(argValue("runs") ?? 3)
const only = argValue("only")?.split(",")
// The profiles cost a minute on top: in --quick they run only when asked for (--only …,profile).
const defaults = quick ? SECTIONS.filter((s) => s !== "profile") : SECTIONS
const chosen = new Set<Section>(only === undefined ? defaults : SECTIONS.filter((s) => only.includes(s)))
const startedAt = new Date()
const timestamp = startedAt.toISOString().replace(/[:.]/g, "-")
const resultsDir = join(process.cwd(), "bench", "results")
mkdirSync(resultsDir, { recursive: true })
const t0 = performance.now()
const log = (line: string): void =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`)

const machine = describeMachine(process.cwd())
log(
  `onechat bench, ${quick ? "quick" : "full"}: ${[...chosen].join(", ")}; ${machine.cores} cores, load average ${machine.loadAverageAtStart.join(" ")}`,
)
// In-process and first, while no server or generator shares the cores.
const startup = chosen.has("startup") ? await runStartupScenario({ log }) : []
const ratchet = chosen.has("ratchet") ? runRatchetScenario({ quick, runs, log }) : []
if ([...chosen].every((section) => section === "startup" || section === "ratchet")) {
  // Nothing else chosen: no servers, generators or data folder to start.
  if (startup.length > 0) console.log(`\n${startupTable(startup)}`)
  if (ratchet.length > 0) console.log(`\n${ratchetTable(ratchet)}`)
  process.exit(0)
}
const dir = await createBenchDataDir(quick ? 5_000 : 10_000)
log(`data folder ${dir} ready`)
// One onechat server, TLS relay and plaintext relay serve the logins, relay and latency sections;
// they start while the load generators load their code.
const targets: Target[] = chosen.has("relay")
  ? ["onechat", "tls", "plain"]
  : chosen.has("latency")
    ? ["onechat", "tls"]
    : ["onechat"]
const needsShared = ["logins", "relay", "latency"].some((s) => chosen.has(s as Section))
const [shared, scaleServer, first, second, probe] = await Promise.all([
  needsShared ? startTargetServers(targets, dir) : Promise.resolve(undefined),
  chosen.has("scale") ? startScaleServer({ dir }) : Promise.resolve(undefined),
  ...["load-1", "load-2", "probe"].map((name) => AgentClient.start(name, dir)),
])
log("servers and load generators started")
const agents = [first!, second!]
const notes: string[] = []
const pairCounts = argValue("pairs")?.split(",").map(Number)
const ctx: BenchContext = {
  dir,
  quick,
  runs,
  pairCounts,
  agents,
  probe: probe!,
  resultsDir,
  timestamp,
  notes,
  log,
}
const limit = openFilesLimit(first!.pid)
if (limit < WANTED_OPEN_FILES) {
  notes.push(
    `\`ulimit -n ${WANTED_OPEN_FILES}\` was refused (hard limit); processes ran with ${limit} open files at most.`,
  )
}

let logins: LoginResult[] = []
let relay: RelayResult[] = []
let latency: LatencyResult[] = []
let scale: ScaleResult | undefined
let profiles: ProfileResult[] = []
const section = async <T>(name: Section, run: () => Promise<T>, fallback: T): Promise<T> => {
  if (!chosen.has(name)) return fallback
  log(`${name}…`)
  return run()
}
try {
  if (shared !== undefined) {
    const { servers } = shared
    logins = await section("logins", () => runLoginScenario(ctx, servers.get("onechat")!), [])
    relay = await section("relay", () => runRelayScenario(ctx, servers), [])
    latency = await section("latency", () => runLatencyScenario(ctx, servers, relay), [])
    await shared.stop()
  }
  scale =
    scaleServer === undefined
      ? undefined
      : await section("scale", () => runScaleScenario(ctx, scaleServer), undefined)
  profiles = await section("profile", () => runProfileScenario(ctx), [])
} finally {
  await shared?.stop()
  await scaleServer?.stop()
  await Promise.all([...agents, probe!].map((agent) => agent.exit()))
  rmSync(dir, { recursive: true, force: true })
}

const loadAtEnd = os.loadavg().map((x) => x.toFixed(2))
notes.push(
  `Load average at start ${machine.loadAverageAtStart.join(" / ")}, at end ${loadAtEnd.join(" / ")} (1/5/15 min): ` +
    "the server, the generators and anything else on the machine share its cores.",
)
const failures = [...relay.map((r) => r.failures), ...latency.map((r) => r.failures)].reduce(
  (a, b) => a + b,
  0,
)
if (failures > 0) notes.push(`${failures} messages failed verification (see the JSON).`)
const results: BenchResults = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  runsPerFigure: runs,
  machine,
  notes,
  logins,
  relay,
  latency,
  scale,
  profiles,
}
const file = join(resultsDir, `${timestamp}.json`)
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\n${renderReport(results)}`)
if (ratchet.length > 0) console.log(`\n${ratchetTable(ratchet)}`)
if (startup.length > 0) console.log(`\n${startupTable(startup)}`)
for (const profile of profiles) {
  console.log(
    `\n### Server CPU profile: ${profile.scenario} (${profile.file})\n\n${profileMarkdown(profile)}`,
  )
}
console.log(`\nResults: ${file} (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
process.exit(0)
