/**
 * Real `onechat` processes for end-to-end tests: a server started from a data folder, and
 * clients in `--json` mode whose stdout is read as one JSON event per line.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"

export const BIN = new URL("../../bin/onechat.mjs", import.meta.url).pathname

export interface ServerProcess {
  readonly process: ChildProcess
  readonly port: number
  readonly stderr: () => string
  stop(): Promise<void>
}

export const startServerProcess = async (
  dir: string,
  env: Record<string, string> = {},
  args: ReadonlyArray<string> = [],
): Promise<ServerProcess> => {
  const child = spawn(process.execPath, [BIN, "server", "--dir", dir, "--port", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stderr = ""
  let stdout = ""
  child.stderr!.on("data", (chunk) => {
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      stdout += chunk
      const match = /listening on \S+:(\d+)/.exec(stdout)
      if (match) resolve(Number(match[1]))
    })
    void exited.then(() => reject(new Error(`server exited early: ${stdout}${stderr}`)))
  })
  return {
    process: child,
    port,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    },
  }
}

export type JsonEvent = { readonly type: string } & Record<string, unknown>

export interface JsonClient {
  readonly name: string
  readonly events: JsonEvent[]
  /** Lines on stdout that were not JSON (must stay empty). */
  readonly garbage: string[]
  send(line: string): void
  /** The next event not yet taken, optionally of one type (others stay queued), within a deadline. */
  next(type?: string, timeoutMs?: number): Promise<JsonEvent>
  readonly exit: Promise<number | null>
  kill(): void
  endInput(): void
}

export const startJsonClient = (
  name: string,
  options: {
    readonly dir: string
    readonly port: number
    readonly env?: Record<string, string>
    readonly args?: ReadonlyArray<string>
  },
): JsonClient => {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "client",
      name,
      "--json",
      "--dir",
      options.dir,
      "--port",
      String(options.port),
      ...(options.args ?? []),
    ],
    { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] },
  )
  const events: JsonEvent[] = []
  const garbage: string[] = []
  const taken = new Set<JsonEvent>()
  const waiters: Array<() => void> = []
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as JsonEvent)
    } catch {
      garbage.push(line)
    }
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr!.on("data", () => {})
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const next = (type?: string, timeoutMs = 15_000): Promise<JsonEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`${name}: no ${type ?? "event"} within ${timeoutMs} ms; got ${JSON.stringify(events)}`),
          ),
        timeoutMs,
      )
      const look = () => {
        const found = events.find((event) => !taken.has(event) && (type === undefined || event.type === type))
        if (found !== undefined) {
          taken.add(found)
          clearTimeout(timer)
          resolve(found)
        } else {
          waiters.push(look)
        }
      }
      look()
    })
  return {
    name,
    events,
    garbage,
    send: (line) => child.stdin!.write(`${line}\n`),
    next,
    exit,
    kill: () => child.kill("SIGKILL"),
    endInput: () => child.stdin!.end(),
  }
}
