/**
 * Real `onechat` processes for end-to-end tests: a server started from a data folder, and
 * clients in `--json` mode whose stdout is read as one JSON event per line.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Effect } from "effect"
import { createDevelopmentPki } from "../src/store/dev-pki.ts"

export const BIN = new URL("../bin/onechat.mjs", import.meta.url).pathname

/** How a `runOnechat` process ended. */
export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const unfinished = new Set<ChildProcess>()
const temporaryFolders: string[] = []

/**
 * Runs `onechat ...args` in `cwd` to its end, with the environment of the tests minus
 * ONECHAT_PASSPHRASE and ONECHAT_DIR, plus `env`.
 */
export const runOnechat = (
  cwd: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
): Promise<Run> => {
  const { ONECHAT_PASSPHRASE: _p, ONECHAT_DIR: _d, ...inherited } = process.env
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  unfinished.add(child)
  return finished(child).finally(() => unfinished.delete(child))
}

/** A child process with piped stdout and stderr, run to its end: its status and everything it wrote. */
export const finished = (child: ChildProcess): Promise<Run> => {
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk) => {
    stdout += chunk
  })
  child.stderr?.on("data", (chunk) => {
    stderr += chunk
  })
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
}

/** A new empty folder under the system's temporary folder, removed by `cleanUpRuns`. */
export const temporaryFolder = async (prefix: string): Promise<string> => {
  const folder = await mkdtemp(join(tmpdir(), prefix))
  temporaryFolders.push(folder)
  return folder
}

/** Kills the `runOnechat` processes still running and removes the temporary folders (afterEach). */
export const cleanUpRuns = async (): Promise<void> => {
  for (const child of unfinished) child.kill("SIGKILL")
  unfinished.clear()
  await Promise.all(temporaryFolders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })))
}

export interface ServerProcess {
  readonly process: ChildProcess
  readonly port: number
  readonly stderr: () => string
  readonly stdout: () => string
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
    stdout: () => stdout,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    },
  }
}

/** A development PKI in a temporary folder and a server process serving it. */
export interface DevelopmentServer {
  /** The data folder. */
  readonly dir: string
  readonly server: ServerProcess
  /** Starts `onechat client NAME --json` against the server (passphrase in the env by default). */
  client(name: string, env?: Record<string, string>, args?: ReadonlyArray<string>): JsonClient
  /** Kills the clients, stops the server and removes the folder. */
  stop(): Promise<void>
}

/** Creates a development PKI for `users` (one passphrase for all) and starts a server on it. */
export const startDevelopmentServer = async (
  prefix: string,
  users: ReadonlyArray<string>,
  passphrase: string,
): Promise<DevelopmentServer> => {
  const folder = await mkdtemp(join(tmpdir(), prefix))
  const dir = join(folder, "data")
  await Effect.runPromise(createDevelopmentPki({ dir, users: [...users], passphrase }))
  const server = await startServerProcess(dir)
  const clients: JsonClient[] = []
  return {
    dir,
    server,
    client: (name, env = { ONECHAT_PASSPHRASE: passphrase }, args = []) => {
      const started = startJsonClient(name, { dir, port: server.port, env, args })
      clients.push(started)
      return started
    },
    stop: async () => {
      for (const client of clients) client.kill()
      await server.stop()
      await rm(folder, { recursive: true, force: true })
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
  return jsonEventsOf(name, child)
}

/**
 * The JSON-lines side of a running `onechat client --json` (started any way: directly, or by a
 * shell running a documented command): its events, in order, taken one at a time.
 */
export const jsonEventsOf = (name: string, child: ChildProcess): JsonClient => {
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

/**
 * Two `--json` clients start a chat the way users do (`!request`, `!accept`) and say one line each
 * way; fails unless both see the chat start with the same safety number and each line arrives
 * intact. Returns the safety number.
 */
export const chatBothWays = async (
  requester: JsonClient,
  accepter: JsonClient,
  lines: readonly [string, string] = [`hello from ${requester.name}`, `hello from ${accepter.name}`],
): Promise<string> => {
  requester.send(`!request ${accepter.name}`)
  const request = await accepter.next("request")
  if (request.from !== requester.name) throw new Error(`${accepter.name} got ${JSON.stringify(request)}`)
  accepter.send("!accept")
  const started = [await requester.next("chat_started"), await accepter.next("chat_started")]
  if (started[0]?.peer !== accepter.name || started[1]?.peer !== requester.name) {
    throw new Error(`the chat started between the wrong users: ${JSON.stringify(started)}`)
  }
  const safety = started[0]?.safety
  if (typeof safety !== "string" || safety !== started[1]?.safety) {
    throw new Error(`the safety numbers differ: ${JSON.stringify(started)}`)
  }
  for (const [from, to, text] of [
    [requester, accepter, lines[0]],
    [accepter, requester, lines[1]],
  ] as const) {
    from.send(text)
    const message = await to.next("message")
    if (message.from !== from.name || message.text !== text) {
      throw new Error(
        `${to.name} got ${JSON.stringify(message)} instead of ${JSON.stringify(text)} from ${from.name}`,
      )
    }
  }
  return safety
}
