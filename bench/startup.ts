/**
 * Start-up: how long `onechat` takes from the command to being useful, each run a new process —
 * `onechat --help` to its exit, and `onechat client alice --dir D` until its hidden prompt
 * "Passphrase for alice: " shows (under a pseudo-terminal, util-linux `script`; killed then) —
 * beside `node -e 0` on the same Node (the floor) and, for comparison, the same commands run from
 * the TypeScript sources through tsx (ONECHAT_NO_DIST=1: what every start cost before the build).
 * Median of 5 and min–max, after one unmeasured run of each (compile caches and the page cache
 * warm, as after any earlier use). Builds dist/ first (scripts/build.mjs). Also runs alone:
 * `npx tsx bench/startup.ts [--runs N]`.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { Effect } from "effect"
import { createDevelopmentPki } from "../src/store/dev-pki.ts"
import { fmt, median } from "./lib/stats.ts"

const ROOT = new URL("../", import.meta.url).pathname
const BIN = join(ROOT, "bin/onechat.mjs")
const RUNS = 5
const PROMPT = "Passphrase for alice: "
const TIMEOUT_MS = 60_000
/** The issue's targets, in milliseconds. */
const TARGETS = { help: 300, prompt: 500 } as const

export interface StartupRow {
  readonly label: string
  /** Milliseconds, one per run. */
  readonly runs: ReadonlyArray<number>
  readonly target?: number
}

interface Probe {
  readonly label: string
  readonly target?: number
  /** Resolves with the milliseconds from spawning to done. */
  readonly once: () => Promise<number>
}

/** `text` quoted for the shell that `script -c` runs. */
const shellQuoted = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`

/** Milliseconds until `command` exits; rejects when it fails. */
const untilExit = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => () =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => {
      stderr += chunk
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      const elapsed = performance.now() - started
      if (code === 0) resolve(elapsed)
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`))
    })
  })

/**
 * Milliseconds until `marker` appears on the terminal of `argv` run under a pseudo-terminal;
 * then the whole process group (script and what it runs) is killed.
 */
const untilOnTerminal = (argv: ReadonlyArray<string>, marker: string, env: NodeJS.ProcessEnv) => () =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const child = spawn("script", ["-qfec", argv.map(shellQuoted).join(" "), "/dev/null"], {
      env,
      detached: true,
      stdio: ["pipe", "pipe", "ignore"],
    })
    let seen = ""
    const stop = () => {
      clearTimeout(timer)
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL")
    }
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`no "${marker}" within ${TIMEOUT_MS} ms: ${JSON.stringify(seen)}`))
    }, TIMEOUT_MS)
    child.stdout.on("data", (chunk) => {
      seen += chunk
      if (!seen.includes(marker)) return
      const elapsed = performance.now() - started
      stop()
      resolve(elapsed)
    })
    child.on("error", reject)
    child.on("exit", () => {
      if (seen.includes(marker)) return
      clearTimeout(timer)
      reject(new Error(`${argv.join(" ")} ended before "${marker}": ${JSON.stringify(seen)}`))
    })
  })

/** The first `node` on PATH outside this package (the system's), with its version. */
const systemNode = (): { readonly path: string; readonly version: string } | undefined => {
  const folder = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((entry) => entry !== "" && !entry.includes("node_modules"))
    .find((entry) => existsSync(join(entry, "node")))
  if (folder === undefined) return undefined
  const path = join(folder, "node")
  const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim()
  return version === "" ? undefined : { path, version }
}

/**
 * On a system Node older than 22 (Node 20 on these machines) the launcher re-runs itself on the
 * bundled Node: what `onechat` costs when started by that Node rather than through npm's PATH.
 */
const olderSystemNode = (env: NodeJS.ProcessEnv): ReadonlyArray<Probe> => {
  const found = systemNode()
  if (found === undefined || Number(found.version.slice(1).split(".")[0]) >= 22) return []
  return [
    {
      label: `\`node -e 0\` on the system Node ${found.version}`,
      once: untilExit(found.path, ["-e", "0"], env),
    },
    {
      label: `\`onechat --help\` started by the system Node ${found.version} (re-run on the bundled Node)`,
      once: untilExit(found.path, [BIN, "--help"], env),
    },
  ]
}

const probes = (dir: string): ReadonlyArray<Probe> => {
  const node = process.execPath
  const compiled = { ...process.env, ONECHAT_NO_DIST: "" }
  const sources = { ...process.env, ONECHAT_NO_DIST: "1" }
  const client = [node, BIN, "client", "alice", "--dir", dir]
  return [
    { label: "`node -e 0` (the floor)", once: untilExit(node, ["-e", "0"], compiled) },
    {
      label: "`node -e 0` under `script` (the floor of the prompt rows)",
      once: untilOnTerminal([node, "-e", "process.stdout.write('ready')"], "ready", compiled),
    },
    { label: "`onechat --help`", target: TARGETS.help, once: untilExit(node, [BIN, "--help"], compiled) },
    {
      label: "`onechat client alice --dir D` to its passphrase prompt",
      target: TARGETS.prompt,
      once: untilOnTerminal(client, PROMPT, compiled),
    },
    ...olderSystemNode(compiled),
    { label: "`npx onechat --help`", once: untilExit("npx", ["onechat", "--help"], compiled) },
    { label: "sources through tsx: `onechat --help`", once: untilExit(node, [BIN, "--help"], sources) },
    {
      label: "sources through tsx: client to its passphrase prompt",
      once: untilOnTerminal(client, PROMPT, sources),
    },
  ]
}

/** Builds dist/, makes a data folder with alice, and measures every row; rows run one at a time. */
export const runStartupScenario = async (options: {
  readonly runs?: number
  log(line: string): void
}): Promise<StartupRow[]> => {
  options.log("startup…")
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--quiet"], { stdio: "inherit" })
  const folder = await mkdtemp(join(tmpdir(), "onechat-bench-startup-"))
  try {
    const dir = join(folder, "D")
    await Effect.runPromise(
      createDevelopmentPki({ dir, users: ["alice"], passphrase: "startup-bench-passphrase" }),
    )
    const rows: StartupRow[] = []
    for (const probe of probes(dir)) {
      await probe.once() // unmeasured: fills the compile caches
      const runs: number[] = []
      for (let run = 0; run < (options.runs ?? RUNS); run++) runs.push(await probe.once())
      const row = {
        label: probe.label,
        runs,
        ...(probe.target === undefined ? {} : { target: probe.target }),
      }
      options.log(`  ${probe.label}: ${fmt(median(runs))} ms`)
      rows.push(row)
    }
    return rows
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

/** The Markdown table of the section. */
export const startupTable = (rows: ReadonlyArray<StartupRow>): string => {
  const floor = median(rows[0]?.runs ?? [])
  return [
    `### Start-up (a new process each run; median of ${rows[0]?.runs.length ?? RUNS}, min–max; Node ${process.versions.node})`,
    "",
    "| command | median | min–max | over `node -e 0` | target |",
    "|---|---|---|---|---|",
    ...rows.map((row, index) => {
      const middle = median(row.runs)
      const over = index === 0 ? "—" : `+${fmt(middle - floor)} ms`
      const target =
        row.target === undefined ? "" : `≤ ${row.target} ms ${middle <= row.target ? "(met)" : "(missed)"}`
      return `| ${row.label} | ${fmt(middle)} ms | ${fmt(Math.min(...row.runs))}–${fmt(Math.max(...row.runs))} ms | ${over} | ${target} |`
    }),
    "",
    "Wall time from spawning to the exit (help) or to the prompt on the terminal (client); the",
    "client's rows include `script`'s own start (its floor row). Without a build the launcher runs",
    "the sources through tsx, as every start did before; `npx` adds npm's own start.",
  ].join("\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runsAt = process.argv.indexOf("--runs")
  const rows = await runStartupScenario({
    ...(runsAt >= 0 ? { runs: Number(process.argv[runsAt + 1]) } : {}),
    log: (line) => console.log(line),
  })
  console.log(`\n${startupTable(rows)}`)
}
