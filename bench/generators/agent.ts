/**
 * A load-generator process (started by bench/run.ts, one or two per scenario on 2 cores): loads
 * the client trust of the data folder once, then runs commands from stdin (bench/lib/wire.ts) one
 * after the other, answering with JSON lines on stdout. Any failure is reported as an `error`
 * event; the agent then waits for the next command.
 * Usage: node --import tsx bench/generators/agent.ts --dir D
 */
import { Effect } from "effect"
import { loadClientTrust } from "../../src/store/credentials.ts"
import { tlsCaCertificate } from "../baselines/tls-credentials.ts"
import { closeIdleClients, openIdleClients } from "./idle.ts"
import { CommandQueue, emit } from "./io.ts"
import { runLatency } from "./latency.ts"
import { runLoginLoad } from "./login.ts"
import { closeRelaySession, openRelaySession, runRelayBurst, type TargetContext } from "./relay.ts"

const dirIndex = process.argv.indexOf("--dir")
const dir = process.argv[dirIndex + 1]
if (dirIndex < 0 || dir === undefined) throw new Error("usage: agent.ts --dir D")

const context: TargetContext = {
  trust: await Effect.runPromise(loadClientTrust(dir)),
  caPem: tlsCaCertificate(dir),
}
const commands = new CommandQueue()
emit({ type: "started" })

for (let command = await commands.next(); command.cmd !== "exit"; command = await commands.next()) {
  try {
    switch (command.cmd) {
      case "login-load":
        await runLoginLoad(command, context, commands)
        break
      case "relay-open":
        await openRelaySession(command, context)
        break
      case "relay-burst":
        await runRelayBurst(command, commands)
        break
      case "relay-close":
        await closeRelaySession(command.target)
        break
      case "latency":
        await runLatency(command, context, commands)
        break
      case "idle-open":
        await openIdleClients(command, context)
        break
      case "idle-close":
        await closeIdleClients()
        break
      default:
        throw new Error(`unexpected command "${command.cmd}"`)
    }
  } catch (error) {
    emit({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  }
}
process.exit(0)
