/**
 * The agent's side of bench/lib/wire.ts: events out as JSON lines on stdout, commands in from stdin
 * lines, in order.
 */
import { createInterface } from "node:readline"
import { type AgentCommand, type AgentEvent, parseAgentCommand } from "../lib/wire.ts"

export const emit = (event: AgentEvent): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

/** Commands from stdin, awaited one at a time. Ends (with `exit`) when stdin closes. */
export class CommandQueue {
  readonly #queued: AgentCommand[] = []
  readonly #waiting: Array<(command: AgentCommand) => void> = []

  constructor() {
    const lines = createInterface({ input: process.stdin })
    lines.on("line", (line) => this.#push(parseAgentCommand(line)))
    lines.on("close", () => this.#push({ cmd: "exit" }))
  }

  next(): Promise<AgentCommand> {
    const queued = this.#queued.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  /** Says `ready` and waits for `go` (a timed step starts on the parent's signal). */
  async readyThenGo(): Promise<void> {
    emit({ type: "ready" })
    const command = await this.next()
    if (command.cmd !== "go") throw new Error(`expected "go", got "${command.cmd}"`)
  }

  #push(command: AgentCommand): void {
    const waiter = this.#waiting.shift()
    if (waiter === undefined) this.#queued.push(command)
    else waiter(command)
  }
}
