/**
 * The live inspector: XState inspection events → per-state connection counts, the supervisor's
 * state and recent transitions → a page on 127.0.0.1 fed by Server-Sent Events, coalesced to at
 * most one update per 100 ms. Exposes connection ids, state paths and event TYPES only — never
 * event payloads or context (nonces, keys, envelopes) — and user names only when asked to.
 */
import { readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { Effect } from "effect"
import { Actor, type AnyStateMachine, type InspectionEvent, type StateNode } from "xstate"
import { connectionMachine } from "../actors/connection.machine.ts"
import { supervisorMachine } from "../actors/supervisor.machine.ts"
import { inspectorPage } from "./inspector-page.ts"
import type { Logger } from "./log.ts"
import { ListenError } from "./server.ts"

/** Loopback only: the inspector is a developer tool, never served on another interface. */
const HOST = "127.0.0.1"
const FLUSH_MS = 100
const HEARTBEAT_MS = 15_000
const RECENT_TRANSITIONS = 100
const PENDING_TRANSITIONS = 300
const LISTED_CONNECTIONS = 50
const MAX_STREAMS = 16
/** A stream this far behind skips updates until it drains (each update carries full counts). */
const MAX_BUFFERED_BYTES = 256 * 1024
const MAX_CHART_BYTES = 2 * 1024 * 1024

/** One state node of a chart, as the page draws it. */
export interface ChartNode {
  readonly key: string
  /** Dotted path from the root ("" for the root). */
  readonly path: string
  readonly type: "atomic" | "compound" | "parallel" | "final" | "history"
  /** Event types this node handles (the machine's definition, not live data). */
  readonly events: ReadonlyArray<string>
  readonly children: ReadonlyArray<ChartNode>
}

export interface TransitionRecord {
  readonly at: number
  readonly id: string
  readonly name?: string
  readonly event: string
  /** Leaf state paths left and entered ([] before the first and after the last). */
  readonly from: ReadonlyArray<string>
  readonly to: ReadonlyArray<string>
}

export interface InspectorUpdate {
  readonly supervisor: { readonly states: ReadonlyArray<string>; readonly status: string }
  readonly total: number
  /** Connections in each state node (ancestors included; a connection counts once per node). */
  readonly counts: Readonly<Record<string, number>>
  readonly connections: ReadonlyArray<{ id: string; name?: string; states: ReadonlyArray<string> }>
  readonly transitions: ReadonlyArray<TransitionRecord>
  /** Transitions not sent because more happened within one update than fit. */
  readonly dropped: number
}

const chartOf = (node: StateNode<never, never>): ChartNode => ({
  key: node.key,
  path: node.path.join("."),
  type: node.type,
  events: node.ownEvents.map(eventLabel),
  children: Object.values(node.states).map((child) => chartOf(child as StateNode<never, never>)),
})

export const chartTree = (machine: AnyStateMachine): ChartNode =>
  chartOf(machine.root as unknown as StateNode<never, never>)

/** A delayed event's type is "xstate.after.<delay>.<state id>": show the delay's name. */
const eventLabel = (type: unknown): string => {
  if (typeof type !== "string") return "?"
  if (type.startsWith("xstate.after.")) return `after ${type.split(".")[2] ?? "?"}`
  return type.length > 80 ? `${type.slice(0, 79)}…` : type
}

/** `{ online: { session: "idle", liveness: "awake" } }` → ["online.session.idle", "online.liveness.awake"]. */
export const leafPaths = (value: unknown, prefix = ""): string[] => {
  if (typeof value === "string") return [prefix + value]
  if (typeof value !== "object" || value === null) return []
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, `${prefix}${key}.`))
}

/** Equal state values, without allocating (this runs on every event of every connection). */
const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  let keys = 0
  for (const key in a) {
    keys++
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false
  }
  for (const _ in b) keys--
  return keys === 0
}

const nodePaths = (leaves: ReadonlyArray<string>): Set<string> => {
  const nodes = new Set<string>()
  for (const leaf of leaves) {
    let end = leaf.indexOf(".")
    while (end !== -1) {
      nodes.add(leaf.slice(0, end))
      end = leaf.indexOf(".", end + 1)
    }
    nodes.add(leaf)
  }
  return nodes
}

interface Tracked {
  readonly id: string
  value: unknown
  leaves: string[]
  name: string | undefined
}

const userNameOf = (context: unknown): string | undefined => {
  const user = typeof context === "object" && context !== null ? Reflect.get(context, "user") : undefined
  const name = typeof user === "object" && user !== null ? Reflect.get(user, "name") : undefined
  return typeof name === "string" ? name : undefined
}

/** Folds inspection events into what the page shows. Synchronous and allocation-light. */
export class InspectorTracker {
  readonly #showNames: boolean
  readonly #connections = new Map<string, Tracked>()
  readonly #counts = new Map<string, number>()
  readonly #recent: TransitionRecord[] = []
  #pending: TransitionRecord[] = []
  #dropped = 0
  #supervisor = { states: [] as string[], status: "active" }
  #supervisorValue: unknown
  #dirty = true

  constructor(options: { readonly showNames: boolean }) {
    this.#showNames = options.showNames
  }

  /** Pass as `createActor(machine, { inspect })`; every actor of the system reports here. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== "@xstate.snapshot" || !(event.actorRef instanceof Actor)) return
    const actor = event.actorRef
    const snapshot = event.snapshot as { status?: string; value?: unknown; context?: unknown }
    if (actor.sessionId === event.rootId) this.#onSupervisor(snapshot, event.event.type)
    else if ((actor.logic as { id?: unknown }).id === connectionMachine.id)
      this.#onConnection(actor.sessionId, actor.id, snapshot, event.event.type)
  }

  #onSupervisor(snapshot: { status?: string; value?: unknown }, event: string): void {
    // A child that threw reports no snapshot of its own; its parent receives xstate.error.actor.<id>.
    if (event.startsWith("xstate.error.actor.")) {
      const failedId = event.slice("xstate.error.actor.".length)
      for (const [sessionId, tracked] of this.#connections)
        if (tracked.id === failedId) this.#change(sessionId, tracked, undefined, ["failed"], event)
    }
    const status = snapshot.status ?? "active"
    if (status === this.#supervisor.status && sameValue(snapshot.value, this.#supervisorValue)) return
    this.#supervisorValue = snapshot.value
    this.#supervisor = { states: leafPaths(snapshot.value), status }
    this.#dirty = true
  }

  #onConnection(
    sessionId: string,
    id: string,
    snapshot: { status?: string; value?: unknown; context?: unknown },
    event: string,
  ): void {
    let tracked = this.#connections.get(sessionId)
    const ended = snapshot.status !== "active"
    if (tracked === undefined) {
      if (ended) return
      tracked = { id, value: undefined, leaves: [], name: undefined }
      this.#connections.set(sessionId, tracked)
    } else if (!ended && sameValue(tracked.value, snapshot.value)) return
    if (this.#showNames) tracked.name ??= userNameOf(snapshot.context)
    // A final state ends it ("done": show where); a stop ends it wherever it was: show "stopped".
    const leaves =
      ended && snapshot.status !== "done" ? [snapshot.status ?? "stopped"] : leafPaths(snapshot.value)
    this.#change(sessionId, tracked, ended ? undefined : snapshot.value, leaves, event)
  }

  /** Moves one connection to `value` (undefined: it ended) and records the transition (`event`: its type). */
  #change(sessionId: string, tracked: Tracked, value: unknown, leaves: string[], event: string): void {
    const before = tracked.leaves
    this.#count(before, -1)
    if (value === undefined) this.#connections.delete(sessionId)
    else this.#count(leaves, +1)
    tracked.value = value
    tracked.leaves = value === undefined ? [] : leaves
    this.#record({
      at: Date.now(),
      id: tracked.id,
      ...(tracked.name === undefined ? {} : { name: tracked.name }),
      event: eventLabel(event),
      from: before.filter((leaf) => !leaves.includes(leaf)),
      to: leaves.filter((leaf) => !before.includes(leaf)),
    })
  }

  #count(leaves: ReadonlyArray<string>, delta: number): void {
    for (const path of nodePaths(leaves)) {
      const count = (this.#counts.get(path) ?? 0) + delta
      if (count === 0) this.#counts.delete(path)
      else this.#counts.set(path, count)
    }
  }

  #record(transition: TransitionRecord): void {
    this.#dirty = true
    if (this.#recent.length >= RECENT_TRANSITIONS) this.#recent.shift()
    this.#recent.push(transition)
    if (this.#pending.length >= PENDING_TRANSITIONS) {
      this.#pending.shift()
      this.#dropped++
    }
    this.#pending.push(transition)
  }

  #state(transitions: ReadonlyArray<TransitionRecord>, dropped: number): InspectorUpdate {
    const connections: Array<InspectorUpdate["connections"][number]> = []
    for (const tracked of this.#connections.values()) {
      if (connections.length >= LISTED_CONNECTIONS) break
      connections.push({
        id: tracked.id,
        ...(tracked.name === undefined ? {} : { name: tracked.name }),
        states: tracked.leaves,
      })
    }
    return {
      supervisor: this.#supervisor,
      total: this.#connections.size,
      counts: Object.fromEntries(this.#counts),
      connections,
      transitions,
      dropped,
    }
  }

  /** The whole current state, with the recent transitions, for a page that just connected. */
  current(): InspectorUpdate {
    return this.#state([...this.#recent], 0)
  }

  /** What changed since the last call, or undefined if nothing did. */
  takeUpdate(): InspectorUpdate | undefined {
    if (!this.#dirty) return undefined
    const update = this.#state(this.#pending, this.#dropped)
    this.#pending = []
    this.#dropped = 0
    this.#dirty = false
    return update
  }
}

export interface InspectorOptions {
  /** 0 picks a free port. */
  readonly port: number
  /** Show user names (context.user.name) beside connection ids. */
  readonly showNames: boolean
  readonly log?: Logger
}

export interface RunningInspector {
  readonly port: number
  readonly url: string
  readonly inspect: (event: InspectionEvent) => void
  /** Open event streams right now. */
  streamCount(): number
}

/** A chart generated into docs/charts (src/charts), if there is one; the page links it as an <img>. */
const readChart = (name: string): string | undefined => {
  try {
    const svg = readFileSync(new URL(`../../docs/charts/${name}.svg`, import.meta.url), "utf8")
    return svg.length <= MAX_CHART_BYTES && svg.includes("<svg") ? svg : undefined
  } catch {
    return undefined
  }
}

const sse = (type: string, data: unknown): string => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
} as const

const listen = (server: Server, port: number) =>
  Effect.callback<number, ListenError>((resume) => {
    const fail = (code: string) => resume(Effect.fail(new ListenError({ host: HOST, port, code })))
    const onError = (error: NodeJS.ErrnoException) => fail(error.code ?? "UNKNOWN")
    server.once("error", onError)
    try {
      server.listen({ host: HOST, port, exclusive: true }, () => {
        server.off("error", onError)
        const address = server.address()
        if (address === null || typeof address === "string") fail("NOADDRESS")
        else resume(Effect.succeed(address.port))
      })
    } catch (error) {
      fail((error as NodeJS.ErrnoException).code ?? "EINVAL")
    }
  })

/** Serves the inspector for as long as the enclosing scope; closing it ends every stream. */
export const startInspector = Effect.fn("Inspector.start")(function* (options: InspectorOptions) {
  const tracker = new InspectorTracker({ showNames: options.showNames })
  const charts = {
    connection: chartTree(connectionMachine),
    supervisor: chartTree(supervisorMachine),
  }
  const svgs = new Map<string, string>()
  for (const name of ["connection", "supervisor"]) {
    const svg = readChart(name)
    if (svg !== undefined) svgs.set(name, svg)
  }
  const streams = new Set<ServerResponse>()
  let port = options.port

  const openStream = (request: IncomingMessage, response: ServerResponse): void => {
    if (streams.size >= MAX_STREAMS) {
      response.writeHead(503, SECURITY_HEADERS).end("too many inspector pages open\n")
      return
    }
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8" })
    response.write("retry: 2000\n\n")
    const init = { charts, svgs: [...svgs.keys()], names: options.showNames, state: tracker.current() }
    response.write(sse("init", init))
    streams.add(response)
    request.on("close", () => streams.delete(response))
  }

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    // Only this origin's own names: a DNS-rebinding page must not read the stream.
    const host = request.headers.host ?? ""
    if (host !== `${HOST}:${port}` && host !== `localhost:${port}`) {
      response.writeHead(403, SECURITY_HEADERS).end("forbidden host\n")
      return
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { ...SECURITY_HEADERS, allow: "GET, HEAD" }).end()
      return
    }
    const path = (request.url ?? "/").split("?")[0]
    const chart = path?.match(/^\/charts\/(connection|supervisor)\.svg$/)?.[1]
    const svg = chart === undefined ? undefined : svgs.get(chart)
    if (path === "/") {
      response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" })
      response.end(inspectorPage)
    } else if (path === "/events") openStream(request, response)
    else if (path === "/favicon.ico") response.writeHead(204, SECURITY_HEADERS).end()
    else if (svg !== undefined) {
      response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "image/svg+xml" })
      response.end(svg)
    } else response.writeHead(404, SECURITY_HEADERS).end("not found\n")
  }

  let sinceHeartbeat = 0
  const flush = (): void => {
    sinceHeartbeat += FLUSH_MS
    const heartbeat = sinceHeartbeat >= HEARTBEAT_MS
    if (heartbeat) sinceHeartbeat = 0
    const update = tracker.takeUpdate()
    if (streams.size === 0 || (update === undefined && !heartbeat)) return
    const chunk = update === undefined ? ": heartbeat\n\n" : sse("update", update)
    for (const stream of streams) if (stream.writableLength <= MAX_BUFFERED_BYTES) stream.write(chunk)
  }

  const server = createServer(handle)
  let timer: ReturnType<typeof setInterval> | undefined
  port = yield* Effect.acquireRelease(listen(server, options.port), () =>
    Effect.callback<void>((resume) => {
      clearInterval(timer)
      for (const stream of streams) stream.end()
      streams.clear()
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    }),
  )
  timer = setInterval(flush, FLUSH_MS)
  timer.unref()
  const url = `http://${HOST}:${port}/`
  options.log?.info("inspector.listening", { url, names: options.showNames })
  const running: RunningInspector = {
    port,
    url,
    inspect: tracker.inspect,
    streamCount: () => streams.size,
  }
  return running
})
