/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, and self
 * time by area (our src/ folders, each package, Node internals, GC, idle). Optionally only the
 * samples inside a window of CLOCK_MONOTONIC microseconds (process.hrtime), which V8's profile
 * timestamps share on Linux. Pure over the parsed JSON; the command line reads and prints.
 * Usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [--from US --to US] [--top 20]
 */
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { anonymousFunctionName } from "./lib/frame-names.ts"
import type { ProfileEntry, ProfileResult } from "./lib/results.ts"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: CallFrame
    readonly children?: ReadonlyArray<number>
  }>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * A short location: path inside the repository or package (with the line, except for our .ts
 * files, which tsx compiles onto one line), else the URL, else "(native)".
 */
export const shortLocation = (frame: CallFrame): string => {
  if (frame.url === "") return "(native)"
  const path = frame.url.replace(/^file:\/\//, "")
  const modules = path.lastIndexOf("/node_modules/")
  if (modules >= 0) return `${path.slice(modules + "/node_modules/".length)}:${frame.lineNumber + 1}`
  const src = path.indexOf("/src/")
  if (src >= 0 && path.endsWith(".ts")) return path.slice(src + 1)
  return `${path}:${frame.lineNumber + 1}`
}

/** The function's name; for anonymous functions of our files, the name tsx's `__name` gave it. */
export const functionLabel = (frame: CallFrame): string =>
  frame.functionName !== ""
    ? frame.functionName
    : (anonymousFunctionName(frame.url, frame.lineNumber, frame.columnNumber) ?? "(anonymous)")

/** Where code lives: src/<folder>, a package name, node internals, or a V8 pseudo-function. */
export const areaOf = (frame: CallFrame): string => {
  if (frame.url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)"
  if (frame.url.startsWith("node:")) return "node internals"
  const path = frame.url.replace(/^file:\/\//, "")
  const modules = path.lastIndexOf("/node_modules/")
  if (modules >= 0) {
    const parts = path.slice(modules + "/node_modules/".length).split("/")
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const src = path.indexOf("/src/")
  return src >= 0 ? `src/${path.slice(src + 5).split("/")[0]}` : path
}

export const summarizeProfile = (
  profile: CpuProfile,
  options: {
    readonly fromUs?: number
    readonly toUs?: number
    readonly top?: number
    readonly file?: string
  } = {},
): ProfileResult => {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)
  const inclusive = new Map<string, { frame: CallFrame; us: number }>()
  const from = options.fromUs ?? profile.startTime
  const to = options.toUs ?? profile.endTime
  const byFunction = new Map<string, { frame: CallFrame; us: number }>()
  const byArea = new Map<string, number>()
  let total = 0
  let idle = 0
  let time = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0
    const duration = profile.timeDeltas[i + 1] ?? 0 // a sample stands for the time until the next one
    if (time < from || time > to) continue
    const frame = frames.get(profile.samples[i]!)
    if (frame === undefined) continue
    if (frame.functionName === "(idle)") {
      idle += duration // waiting for I/O: not CPU, left out of the percentages
      continue
    }
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}|${frame.columnNumber}`
    const entry = byFunction.get(key) ?? { frame, us: 0 }
    entry.us += duration
    byFunction.set(key, entry)
    const area = areaOf(frame)
    byArea.set(area, (byArea.get(area) ?? 0) + duration)
    total += duration
    const seen = new Set<string>()
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parents.get(id)) {
      const caller = frames.get(id)
      if (caller === undefined || !areaOf(caller).startsWith("src/")) continue
      const callerKey = `${caller.functionName}|${caller.url}|${caller.lineNumber}|${caller.columnNumber}`
      if (seen.has(callerKey)) continue
      seen.add(callerKey)
      const sum = inclusive.get(callerKey) ?? { frame: caller, us: 0 }
      sum.us += duration
      inclusive.set(callerKey, sum)
    }
  }
  const percent = (us: number) => Math.round((us / Math.max(1, total)) * 1000) / 10
  const entry = ({ frame, us }: { frame: CallFrame; us: number }): ProfileEntry => ({
    functionName: functionLabel(frame),
    location: shortLocation(frame),
    selfMs: Math.round(us / 100) / 10,
    selfPercent: percent(us),
  })
  return {
    file: options.file ?? "",
    inclusiveSrc: [...inclusive.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 15)
      .map(entry),
    windowMs: Math.round((to - from) / 1000),
    sampledMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, options.top ?? 20)
      .map(entry),
    byArea: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfPercent: percent(us) })),
  }
}

/** The summary as Markdown tables. */
export const profileMarkdown = (summary: ProfileResult): string => {
  const lines = [
    `${summary.sampledMs} ms of CPU sampled in a ${summary.windowMs} ms window (${summary.idleMs} ms idle, left out).`,
    "",
    "| # | function | location | self ms | self % |",
    "|---|---|---|---|---|",
    ...summary.top.map(
      (e, i) => `| ${i + 1} | \`${e.functionName}\` | ${e.location} | ${e.selfMs} | ${e.selfPercent} |`,
    ),
    "",
    "Our functions (src/) by total time, callees included (stages overlap: a caller contains its callees):",
    "",
    "| function | location | total ms | total % |",
    "|---|---|---|---|",
    ...summary.inclusiveSrc.map(
      (e) => `| \`${e.functionName}\` | ${e.location} | ${e.selfMs} | ${e.selfPercent} |`,
    ),
    "",
    "| area | self % |",
    "|---|---|",
    ...summary.byArea.filter((a) => a.selfPercent >= 0.5).map((a) => `| ${a.area} | ${a.selfPercent} |`),
  ]
  return lines.join("\n")
}

const option = (name: string): number | undefined => {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : undefined
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2]
  if (file === undefined) {
    console.error("usage: tsx bench/profile-summary.ts FILE.cpuprofile [--from US --to US] [--top 20]")
    process.exit(2)
  }
  const profile: CpuProfile = JSON.parse(readFileSync(file, "utf8"))
  const fromUs = option("from")
  const toUs = option("to")
  const top = option("top")
  const summary = summarizeProfile(profile, {
    file,
    ...(fromUs === undefined ? {} : { fromUs }),
    ...(toUs === undefined ? {} : { toUs }),
    ...(top === undefined ? {} : { top }),
  })
  console.log(profileMarkdown(summary))
}
