/**
 * The harness of one resource attack: an in-process server with small limits, the legitimate
 * pair chatting throughout (latency measured), connection count and heap sampled, and the health
 * check afterwards (connections back to the pair, a fresh login sees no ghost users). Also raw
 * attack sockets from any 127.0.0.0/8 source address. Test-only.
 */
import { connect, type Socket } from "node:net"
import { Result } from "effect"
import { decodeAlert, FrameDecoder, FrameType } from "../../src/protocol/index.ts"
import { login } from "../chat.ts"
import { startTestServer, type TestServer } from "../server.ts"
import { type LatencyReport, type MemoryReport, startPairProbe, watchMemory } from "./pair-probe.ts"
import { waitUntil } from "./runner.ts"

/** The limits every resource attack runs against (small, so they are reached quickly). */
export const ATTACK_LIMITS = {
  maxConnections: 64,
  maxHandshakesPerAddress: 8,
  maxOutboundBytes: 256 * 1024,
  handshakeTimeoutMs: 1_000,
} as const

export const ATTACK_USERS = ["alice", "bob", "carol", "mallory", "eve", "trudy"] as const

export interface AttackContext {
  readonly server: TestServer
  /** Connections of the legitimate pair. */
  readonly baseline: number
  /** Date.now() after which the attack stops starting new work. */
  readonly deadline: number
  /** Records a limit that did not hold. */
  broken(what: string): void
}

/** What an attack counts: actions tried, refused or cut off by the server, and served normally. */
export interface AttackTally {
  readonly cases: number
  readonly rejected: number
  readonly survived: number
  readonly notes?: ReadonlyArray<string>
}

/** The outcome of one adversarial scenario, as the attack table and the tests read it. */
export interface ScenarioReport extends AttackTally {
  readonly name: string
  /** Every limit held (nothing recorded as broken, the connection cap never exceeded). */
  readonly limitsHeld: boolean
  readonly broken: ReadonlyArray<string>
  /** After the scenario: connections back to the pair, a fresh login works and sees no ghost. */
  readonly healthyAfter: boolean
  readonly healthNote?: string
  /** The legitimate pair's latency during the scenario, when one was chatting. */
  readonly pair?: LatencyReport
  readonly memory?: MemoryReport
}

/** A scenario run by `runAttack`: always with the pair, memory and the peak connection count. */
export interface AttackReport extends ScenarioReport {
  readonly peakConnections: number
  readonly memory: MemoryReport
  readonly pair: LatencyReport
}

const checkHealth = async (server: TestServer, baseline: number): Promise<string | undefined> => {
  try {
    const settleMs = ATTACK_LIMITS.handshakeTimeoutMs + 10_000
    await waitUntil(
      () => server.server.connectionCount() === baseline,
      "connections back to the pair",
      settleMs,
    )
    const carol = await login(server, "carol")
    const names = carol.welcome.names
    carol.close({ quit: true })
    await carol.closed
    // alice and bob are chatting (not available); everyone else must be gone
    return names.length === 0 ? undefined : `ghost users in LIST: ${names.join(", ")}`
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** Runs `attack` for `durationMs` against a fresh server, measuring everything around it. */
export const runAttack = async (
  name: string,
  durationMs: number,
  attack: (context: AttackContext) => Promise<AttackTally>,
  options: Pick<Parameters<typeof startTestServer>[0] & {}, "machine" | "limits"> & {
    /** More registered users (for attacks that need a crowd online); the cap grows by as many. */
    readonly extraUsers?: ReadonlyArray<string>
  } = {},
): Promise<AttackReport> => {
  const server = await startTestServer({
    users: [...ATTACK_USERS, ...(options.extraUsers ?? [])],
    config: {
      maxConnections: ATTACK_LIMITS.maxConnections + (options.extraUsers?.length ?? 0),
      maxHandshakesPerAddress: ATTACK_LIMITS.maxHandshakesPerAddress,
      maxOutboundBytes: ATTACK_LIMITS.maxOutboundBytes,
    },
    limits: { handshakeTimeoutMs: ATTACK_LIMITS.handshakeTimeoutMs, ...options.limits },
    ...(options.machine === undefined ? {} : { machine: options.machine }),
  })
  const broken: string[] = []
  try {
    // a round may stall for seconds under the floods (reported as latency); 30 s means "stopped"
    const probe = await startPairProbe(server, ["alice", "bob"], { roundTimeoutMs: 30_000 })
    const baseline = server.server.connectionCount()
    const memory = watchMemory()
    let peakConnections = baseline
    const sampler = setInterval(() => {
      peakConnections = Math.max(peakConnections, server.server.connectionCount())
    }, 5)
    const tally = await attack({
      server,
      baseline,
      deadline: Date.now() + durationMs,
      broken: (what) => broken.push(what),
    })
    const healthNote = await checkHealth(server, baseline)
    clearInterval(sampler)
    const pair = await probe.stop()
    const cap = ATTACK_LIMITS.maxConnections + (options.extraUsers?.length ?? 0)
    if (peakConnections > cap) broken.push(`${peakConnections} connections open at once (cap ${cap})`)
    const report = {
      name,
      ...tally,
      broken,
      limitsHeld: broken.length === 0,
      peakConnections,
      memory: memory.stop(),
      pair,
    }
    return healthNote === undefined && pair.failure === undefined
      ? { ...report, healthyAfter: true }
      : { ...report, healthyAfter: false, healthNote: healthNote ?? pair.failure ?? "" }
  } finally {
    await server.stop()
  }
}

/** Connection actors still authenticating: the handshakes in flight that admission limits count. */
export const handshakesInFlight = (server: TestServer): number => {
  let count = 0
  for (const child of server.server.supervisor.getSnapshot().context.connections.values())
    if (child.getSnapshot().value === "authenticating") count++
  return count
}

/** Source address `i` of an attacker (Linux routes all of 127.0.0.0/8 to loopback). */
export const attackerAddress = (i: number): string => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`

export interface AttackSocket {
  readonly socket: Socket
  /** Frame bodies received so far. */
  readonly frames: Uint8Array[]
  /** Resolves at close: the first ALERT's code (if any), whether the server said SERVER_HELLO, the lifetime. */
  readonly ended: Promise<{
    readonly alert?: number
    readonly hello: boolean
    readonly ms: number
    readonly connected: boolean
  }>
}

/** A raw TCP connection from `localAddress` that records what the server sends. */
export const attackSocket = (port: number, localAddress: string): AttackSocket => {
  const socket = connect({ host: "127.0.0.1", port, localAddress })
  const decoder = new FrameDecoder()
  const frames: Uint8Array[] = []
  let connected = false
  let started = Date.now()
  socket.on("connect", () => {
    connected = true
    started = Date.now()
  })
  socket.on("error", () => {})
  socket.on("data", (chunk: Buffer) => {
    const result = decoder.push(chunk)
    if (Result.isSuccess(result)) frames.push(...result.success.map((frame) => Uint8Array.from(frame)))
  })
  const ended = new Promise<{ alert?: number; hello: boolean; ms: number; connected: boolean }>((resolve) =>
    socket.on("close", () => {
      const first = frames[0]
      const alert = first?.[0] === FrameType.Alert ? decodeAlert(first) : undefined
      const ms = Date.now() - started
      const hello = first?.[0] === FrameType.ServerHello
      resolve(
        alert !== undefined && Result.isSuccess(alert)
          ? { alert: alert.success.code, hello, ms, connected }
          : { hello, ms, connected },
      )
    }),
  )
  return { socket, frames, ended }
}
