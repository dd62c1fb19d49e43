/**
 * Child processes of the benchmark: every one runs on this Node (process.execPath) under
 * `bash -c "ulimit -n 65536; exec node …"` (falling back to the hard limit when 65536 is refused),
 * so its pid is the Node process itself. Keeps the last lines of stderr for error reports.
 * Stops only the processes it started, by pid.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"

export const WANTED_OPEN_FILES = 65_536
const ULIMIT_SCRIPT = `ulimit -n ${WANTED_OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`
const STDERR_LINES_KEPT = 40

export interface Spawned {
  readonly name: string
  readonly pid: number
  readonly process: ChildProcess
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>
  /** The last lines written to stderr. */
  stderrTail(): string
  /** The first lines written to stderr (startup messages). */
  stderrHead(): ReadonlyArray<string>
  /** Sends `signal` (SIGTERM by default) and waits for the exit, SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>
}

/** Starts `node <nodeArgs…>` with a raised open-files limit; `onLine` sees every stdout line. */
export const spawnNode = (
  name: string,
  nodeArgs: ReadonlyArray<string>,
  onLine: (line: string) => void,
  options: { readonly cwd?: string } = {},
): Spawned => {
  const child = spawn("bash", ["-c", ULIMIT_SCRIPT, "bench-ulimit", process.execPath, ...nodeArgs], {
    cwd: options.cwd ?? process.cwd(),
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "" },
  })
  if (child.pid === undefined) throw new Error(`${name}: the process did not start`)
  const tail: string[] = []
  const head: string[] = []
  createInterface({ input: child.stdout! }).on("line", onLine)
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (head.length < STDERR_LINES_KEPT) head.push(line)
    tail.push(line)
    if (tail.length > STDERR_LINES_KEPT) tail.shift()
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  )
  const pid = child.pid
  return {
    name,
    pid,
    process: child,
    exited,
    stderrTail: () => tail.join("\n"),
    stderrHead: () => head,
    stop: async (signal = "SIGTERM", graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
      const status = await exited
      clearTimeout(timer)
      return status
    },
  }
}

/** Waits for the stdout line "… listening on HOST:PORT" of a server and returns the port. */
export const spawnListeningServer = async (
  name: string,
  nodeArgs: ReadonlyArray<string>,
  timeoutMs = 60_000,
): Promise<Spawned & { readonly port: number }> => {
  let resolvePort: (port: number) => void = () => {}
  const portLine = new Promise<number>((resolve) => {
    resolvePort = resolve
  })
  const spawned = spawnNode(name, nodeArgs, (line) => {
    const match = /listening on \S+:(\d+)/.exec(line)
    if (match !== null) resolvePort(Number(match[1]))
  })
  let timer: NodeJS.Timeout | undefined
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not listen within ${timeoutMs} ms`)), timeoutMs)
    spawned.exited.then((status) =>
      reject(new Error(`${name} exited (${status}) before listening:\n${spawned.stderrTail()}`)),
    )
  })
  try {
    const port = await Promise.race([portLine, failed])
    return { ...spawned, port }
  } finally {
    clearTimeout(timer)
  }
}
