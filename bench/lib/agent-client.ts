/**
 * The parent's handle on one load-generator process (bench/generators/agent.ts): send commands,
 * await typed events. An `error` event, or the agent exiting, rejects whatever is awaited.
 */

import { type Spawned, spawnNode } from "./child.ts"
import { type AgentCommand, type AgentEvent, type AgentEventOf, parseAgentEvent } from "./wire.ts"

const AGENT_SCRIPT = "bench/generators/agent.ts"

interface Waiter {
  readonly type: AgentEvent["type"]
  readonly resolve: (event: AgentEvent) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

export class AgentClient {
  readonly name: string
  readonly spawned: Spawned
  readonly #queue: AgentEvent[] = []
  readonly #waiters: Waiter[] = []
  #failure: Error | undefined

  private constructor(name: string, dataDir: string) {
    this.name = name
    this.spawned = spawnNode(name, ["--import", "tsx", AGENT_SCRIPT, "--dir", dataDir], (line) =>
      this.#onLine(line),
    )
    this.spawned.exited.then((status) =>
      this.#fail(new Error(`${name} exited (${status}):\n${this.spawned.stderrTail()}`)),
    )
  }

  /** Starts an agent and waits until it has loaded its code. */
  static async start(name: string, dataDir: string): Promise<AgentClient> {
    const agent = new AgentClient(name, dataDir)
    await agent.expect("started", 120_000)
    return agent
  }

  get pid(): number {
    return this.spawned.pid
  }

  send(command: AgentCommand): void {
    this.spawned.process.stdin!.write(`${JSON.stringify(command)}\n`)
  }

  /** The next event of `type` (events of other types arriving first are an error). */
  expect<T extends AgentEvent["type"]>(type: T, timeoutMs = 300_000): Promise<AgentEventOf<T>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const queued = this.#queue.shift()
    if (queued !== undefined) {
      try {
        return Promise.resolve(this.#check(queued, type))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve: (event) => {
          try {
            resolve(this.#check(event, type))
          } catch (error) {
            reject(error)
          }
        },
        reject,
        timer: setTimeout(
          () => this.#fail(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`)),
          timeoutMs,
        ),
      }
      this.#waiters.push(waiter)
    })
  }

  /** Asks the agent to exit and waits for it. */
  async exit(): Promise<void> {
    if (this.spawned.process.exitCode === null) this.send({ cmd: "exit" })
    await this.spawned.stop("SIGTERM", 5_000).catch(() => undefined)
  }

  #check<T extends AgentEvent["type"]>(event: AgentEvent, type: T): AgentEventOf<T> {
    if (event.type === "error") throw new Error(`${this.name}: ${event.message}`)
    if (event.type !== type) throw new Error(`${this.name}: expected "${type}", got "${event.type}"`)
    return event as AgentEventOf<T>
  }

  #onLine(line: string): void {
    const event = parseAgentEvent(line)
    if (event === undefined) return
    const waiter = this.#waiters.shift()
    if (waiter === undefined) {
      this.#queue.push(event)
      return
    }
    clearTimeout(waiter.timer)
    waiter.resolve(event)
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
    }
  }
}

/** Sends a command to every agent, waits for all `ready`, runs `beforeGo`, then sends `go`. */
export const startTogether = async (
  agents: ReadonlyArray<AgentClient>,
  commands: ReadonlyArray<AgentCommand>,
  beforeGo: () => void,
): Promise<void> => {
  for (const [i, agent] of agents.entries()) agent.send(commands[i]!)
  await Promise.all(agents.map((agent) => agent.expect("ready")))
  beforeGo()
  for (const agent of agents) agent.send({ cmd: "go" })
}
