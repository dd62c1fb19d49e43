/**
 * Model-based conformance: paths generated from the connection chart with xstate/graph (shortest
 * paths to every state, and each of those extended by every event that fires a transition there)
 * are replayed against the real server over TCP. After every step the real connection actor must
 * be in the state the chart predicts, the client must have received the predicted frames, and the
 * peer must have been told what the chart says. Prints the coverage of states and transitions.
 */
import { connect } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createActor, setup } from "xstate"
import { getShortestPaths } from "xstate/graph"
import type { ConnectionEvent } from "../../src/actors/connection.events.ts"
import { defaultConnectionLimits } from "../../src/actors/connection.machine.ts"
import { type ConnectionActor, connectionActorOf } from "../../src/actors/supervisor.machine.ts"
import type { ClientLink } from "../../src/client/link.ts"
import { type ClientMessage, ErrorCode } from "../../src/protocol/index.ts"
import { login } from "../../testkit/chat.ts"
import { startTestServer, type TestServer, userKey } from "../../testkit/server.ts"
import {
  allStates,
  allTransitions,
  CLIENT_INPUTS,
  causable,
  eventName,
  initialSnapshot,
  MODEL_EVENTS,
  type ModelSnapshot,
  modelMachine,
  outcome,
  type Prediction,
  predict,
  serializeState,
  stateLabel,
} from "./connection-model.ts"

const WAIT_MS = 3_000
const modelInput = { connectionId: "model", limits: defaultConnectionLimits }
let server: TestServer
const covered = new Set<object>()
const matrix = new Map<string, Record<string, string>>()
const visitedStates = new Set<string>()
const events = Object.values(MODEL_EVENTS)
const traversal = {
  events: (snapshot: ModelSnapshot) => events.filter((event) => causable(snapshot, event)),
  serializeState: (snapshot: ModelSnapshot) => serializeState(snapshot),
  serializeEvent: (event: ConnectionEvent) => eventName(event),
}

interface World {
  readonly names: { readonly alice: string; readonly bob: string }
  alice?: ClientLink | undefined
  aliceId?: string | undefined
  bob?: ClientLink | undefined
  readonly extra: ClientLink[]
}

let counter = 0
const newWorld = async (): Promise<World> => {
  const id = ++counter
  const names = { alice: `m${id}a`, bob: `m${id}b` }
  for (const name of Object.values(names)) server.users.set(name, userKey(name))
  return { names, bob: await login(server, names.bob), extra: [] }
}

const realName = (world: World, name: string) =>
  name === "bob" ? world.names.bob : name === "alice" ? world.names.alice : name

const clientMessage = (world: World, event: ConnectionEvent): ClientMessage | undefined => {
  const name = (value: string) => realName(world, value)
  switch (event.type) {
    case "LIST":
      return { type: "List" }
    case "QUIT":
      return { type: "Quit" }
    case "RTT":
      return { ...event, type: "Rtt", to: name(event.to) }
    case "ACCEPT":
      return { ...event, type: "Accept", requester: name(event.requester) }
    case "REFUSE":
      return { type: "Refuse", requester: name(event.requester) }
    case "MESSAGE":
      return { type: "Message", envelope: event.envelopes[0]! }
    case "CC_SESSION_ESTABLISHMENT":
      return { ...event, type: "CcSessionEstablishment", accepter: name(event.accepter) }
    case "NOTIFY":
      return { type: "Notify", peer: name(event.peer) }
    case "PING":
      return { type: "Ping", value: event.value }
    case "PONG":
      return { type: "Pong", value: event.value }
    case "ERROR":
      return { type: "Error", code: 18, fatal: true, text: event.text }
    default:
      return undefined
  }
}

/** Makes the real system produce `event` for alice's connection actor. */
const drive = async (world: World, event: ConnectionEvent, before: ModelSnapshot): Promise<void> => {
  const { alice, bob, names } = world
  const message = clientMessage(world, event)
  if (message !== undefined) return alice!.send(message)
  switch (event.type) {
    case "LOGIN_VERIFIED":
      world.alice = await login(server, names.alice)
      world.aliceId = server.server.supervisor.getSnapshot().context.directory.connectionOf(names.alice)
      return
    case "REQUEST_INCOMING":
      return bob!.send({ ...event, type: "Rtt", to: names.alice })
    case "REQUEST_ACCEPTED":
      return bob!.send({ ...event, type: "Accept", requester: names.alice })
    case "REQUEST_REFUSED":
      return bob!.send({ type: "Refuse", requester: names.alice })
    case "CHAT_ESTABLISHED":
      return bob!.send({ ...event, type: "CcSessionEstablishment", accepter: names.alice })
    case "PEER_MESSAGE":
      return bob!.send({ type: "Message", envelope: event.envelopes[0]! })
    case "PEER_LEFT":
      // a target cannot withdraw a request it received: it leaves by disconnecting
      if (JSON.stringify(before.value).includes("outgoing")) {
        bob!.close()
        world.bob = undefined
        return
      }
      return bob!.send({ type: "Notify", peer: names.alice })
    case "KICK":
      world.extra.push(await login(server, names.alice))
      return
    case "TRANSPORT_CLOSED":
      return alice!.close()
    case "TRANSPORT_FAILED":
      if (event.code === ErrorCode.FrameTooLarge)
        return alice!.writeRaw(Uint8Array.of(0xff, 0xff, 0xff, 0xff))
      if (event.code === ErrorCode.Malformed) return alice!.writeRaw(Uint8Array.of(0, 0, 0, 3, 0x03, 0, 1))
      // a record whose counter is far ahead: rejected before decryption
      return alice!.writeRaw(
        Uint8Array.of(0, 0, 0, 40, 0x17, 2, 1, 0, 0, 0, 0, 0, 0, 3, 231, ...new Uint8Array(29)),
      )
    default:
      throw new Error(`no driver for ${event.type}`)
  }
}

const realState = (world: World): unknown => {
  const actor =
    world.aliceId === undefined ? undefined : connectionActorOf(server.server.supervisor, world.aliceId)
  const snapshot = actor?.getSnapshot()
  return snapshot === undefined || snapshot.status !== "active" ? "closing" : snapshot.value
}

const waitUntil = async (what: string, condition: () => boolean): Promise<void> => {
  const deadline = Date.now() + WAIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Observes everything the chart predicted for this step. */
const check = async (
  world: World,
  prediction: Prediction,
  label: string,
  event: ConnectionEvent,
): Promise<void> => {
  const expected = JSON.stringify(prediction.snapshot.value)
  await waitUntil(
    `${label}: state ${expected} (real: ${JSON.stringify(realState(world))})`,
    () => JSON.stringify(realState(world)) === expected,
  )
  // the LIST that follows a login is message 1.3, which the link hands over as `welcome`
  const toClient = event.type === "LOGIN_VERIFIED" ? prediction.toClient.slice(1) : prediction.toClient
  for (const type of toClient) await world.alice!.next((message) => message.type === type, WAIT_MS)
  if (prediction.close !== undefined && world.alice !== undefined) {
    const closed = await world.alice.closed
    if (prediction.close.code !== undefined && closed.reason !== "local") {
      expect(closed, `${label}: closed ${JSON.stringify(closed)}`).toMatchObject({
        reason: "server-error",
        code: prediction.close.code,
      })
    }
  }
  if (world.bob !== undefined) {
    for (const type of prediction.toPeer) await world.bob.next((message) => message.type === type, WAIT_MS)
  }
}

const replay = async (steps: ReadonlyArray<{ readonly event: ConnectionEvent }>): Promise<string> => {
  const world = await newWorld()
  const labels: string[] = []
  let snapshot = initialSnapshot()
  try {
    for (const { event } of steps) {
      if (event.type === ("xstate.init" as string)) continue
      labels.push(eventName(event))
      const prediction = predict(snapshot, event)
      await drive(world, event, snapshot)
      await check(world, prediction, labels.join(" → "), event).catch((error: unknown) => {
        throw new Error(
          `path ${labels.join(" → ")}: ${error instanceof Error ? error.message : String(error)}`,
        )
      })
      for (const definition of prediction.taken) covered.add(definition)
      if ((CLIENT_INPUTS as ReadonlyArray<string>).includes(eventName(event))) {
        const row = `${stateLabel(snapshot)}${snapshot.context.role === undefined ? "" : ` (${snapshot.context.role})`}`
        matrix.set(row, { ...matrix.get(row), [eventName(event)]: outcome(snapshot, prediction) })
      }
      snapshot = prediction.snapshot
      visitedStates.add(JSON.stringify(snapshot.value))
    }
  } finally {
    for (const link of [world.alice, world.bob, ...world.extra]) link?.close()
  }
  return labels.join(" → ")
}

const statePaths = getShortestPaths(modelMachine, { ...traversal, input: modelInput })
/** Shortest path to every state, extended by every event that fires a transition there. */
const transitionPaths = statePaths.flatMap((path) =>
  events
    .filter(
      (event) => causable(path.state, event) && modelMachine.getTransitionData(path.state, event).length > 0,
    )
    .map((event) => [...path.steps, { event, state: path.state }]),
)

beforeAll(async () => {
  server = await startTestServer({ users: [] })
})
afterAll(() => server.stop())

describe("the connection chart against the real server", () => {
  it(`replays ${statePaths.length} paths to every state and ${transitionPaths.length} paths through every transition`, {
    timeout: 240_000,
  }, async () => {
    expect(new Set(statePaths.map((path) => serializeState(path.state))).size).toBe(statePaths.length)
    for (const path of [...statePaths.map((p) => p.steps), ...transitionPaths]) await replay(path)
  })
})

describe("timers, failed logins and raw sockets", () => {
  const timed = { handshakeTimeoutMs: 300, idlePingMs: 300, idleTimeoutMs: 300, requestTimeoutMs: 400 }
  let timedServer: TestServer
  beforeAll(async () => {
    timedServer = await startTestServer({ users: ["ta", "tb"], limits: timed })
  })
  afterAll(() => timedServer.stop())

  const mark = (snapshot: ModelSnapshot, event: ConnectionEvent): ModelSnapshot => {
    const prediction = predict(snapshot, event)
    for (const definition of prediction.taken) covered.add(definition)
    visitedStates.add(JSON.stringify(prediction.snapshot.value))
    return prediction.snapshot
  }
  const delayed = (delay: string, state: string): ConnectionEvent =>
    ({ type: `xstate.after.${delay}.${state}` }) as unknown as ConnectionEvent

  it("handshake timeout, a failed login and a vanished client end in closing", async () => {
    const start = initialSnapshot(timed)
    const silent = connect(timedServer.port, "127.0.0.1")
    silent.on("error", () => {})
    silent.resume()
    await new Promise((resolve) => silent.on("close", resolve))
    mark(start, delayed("handshakeTimeout", "connection.authenticating"))
    await expect(login(timedServer, "nobody")).rejects.toMatchObject({
      reason: "LoginRefused",
      code: ErrorCode.LoginFailed,
    })
    mark(start, { type: "LOGIN_FAILED", code: ErrorCode.LoginFailed, text: "" })
    const vanished = connect(timedServer.port, "127.0.0.1")
    await new Promise((resolve) => vanished.on("connect", resolve))
    vanished.destroy()
    mark(start, { type: "TRANSPORT_CLOSED" })
  })

  it("idle ping is answered (back to awake); an unanswered one closes; a request times out", async () => {
    const online = mark(initialSnapshot(timed), MODEL_EVENTS.LOGIN_VERIFIED!)
    const alice = await login(timedServer, "ta")
    await alice.next((message) => message.type === "Ping", 2_000)
    const pinged = mark(online, delayed("idlePing", "connection.online.liveness.awake"))
    mark(pinged, { type: "CLIENT_ACTIVE" })
    mark(online, { type: "CLIENT_ACTIVE" })
    const bob = await login(timedServer, "tb")
    const kemKey = new Uint8Array(1184).fill(8)
    alice.send({
      type: "Rtt",
      to: "tb",
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32).fill(9),
      kemKey,
    })
    await alice.next((message) => message.type === "Notify", 2_000)
    await bob.next((message) => message.type === "Notify", 2_000)
    const outgoing = mark(online, MODEL_EVENTS.RTT!)
    mark(outgoing, delayed("requestTimeout", "connection.online.session.requesting.outgoing"))
    alice.send({
      type: "Rtt",
      to: "nobody",
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32).fill(9),
      kemKey,
    })
    await alice.next((message) => message.type === "UserNotFound", 2_000)
    const towardsNobody = mark(online, { ...MODEL_EVENTS.RTT!, to: "nobody" } as ConnectionEvent)
    mark(towardsNobody, { type: "REQUEST_FAILED", target: "nobody", reason: 1 })
    alice.stopReading()
    expect(
      await bob.next((message) => message.type === "List" || message.type === "Pong", 50).catch(() => "none"),
    ).toBe("none")
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    expect(timedServer.server.connectionCount()).toBe(1)
    mark(pinged, delayed("idleTimeout", "connection.online.liveness.pinged"))
    bob.close()
  })
})

/**
 * Transitions that only a race between two users' messages produces (the supervisor handles one
 * event at a time, so over TCP their order cannot be forced). They are replayed at the actor level:
 * the real machine under a parent that records what it reports, events sent in the racing order.
 */
const RACES: ReadonlyArray<{
  readonly name: string
  readonly events: ReadonlyArray<ConnectionEvent>
  readonly expect: unknown
}> = [
  {
    name: "crossed requests: our RTT is in flight when the peer's arrives",
    events: [MODEL_EVENTS.LOGIN_VERIFIED!, MODEL_EVENTS.RTT!, MODEL_EVENTS["peer RTT"]!],
    expect: { online: { session: { requesting: "incoming" }, liveness: "awake" } },
  },
  {
    name: "then the refusal of our own (crossed) RTT arrives: shown, state kept",
    events: [
      MODEL_EVENTS.LOGIN_VERIFIED!,
      MODEL_EVENTS.RTT!,
      MODEL_EVENTS["peer RTT"]!,
      { type: "REQUEST_FAILED", target: "carol", reason: 2 },
    ],
    expect: { online: { session: { requesting: "incoming" }, liveness: "awake" } },
  },
  {
    name: "a refusal for an earlier target while a new request is pending",
    events: [
      MODEL_EVENTS.LOGIN_VERIFIED!,
      MODEL_EVENTS.RTT!,
      { type: "REQUEST_FAILED", target: "zed", reason: 2 },
    ],
    expect: { online: { session: { requesting: "outgoing" }, liveness: "awake" } },
  },
]

describe("race-only transitions, at the actor level", () => {
  for (const race of RACES) {
    it(race.name, () => {
      const outbound: string[] = []
      const parent = createActor(
        setup({ actors: { connection: modelMachine } }).createMachine({
          invoke: { id: "c", src: "connection", input: modelInput },
        }),
      ).start()
      const child = parent.getSnapshot().children.c as unknown as ConnectionActor
      child.on("outbound", ({ messages }) => outbound.push(...messages.map((message) => message.type)))
      child.on("relay", ({ envelopes }) => outbound.push(...envelopes.map(() => "Message")))
      let snapshot = initialSnapshot()
      for (const event of race.events) {
        child.send(event)
        const prediction = predict(snapshot, event)
        for (const definition of prediction.taken) covered.add(definition)
        snapshot = prediction.snapshot
      }
      expect(child.getSnapshot().value).toEqual(race.expect)
      expect(snapshot.value).toEqual(race.expect)
      if (race.events.at(-1)?.type === "REQUEST_FAILED") expect(outbound.at(-1)).toBe("UserNotFound")
      parent.stop()
    })
  }
})

/** Transitions no client or peer can cause on their own (none left: races are replayed above). */
const JUSTIFIED: Record<string, string> = {}

describe("coverage (runs last)", () => {
  it("every state and transition of the connection chart is covered", () => {
    const transitions = allTransitions()
    const missing = transitions.filter(({ definition }) => !covered.has(definition))
    const unjustified = missing.filter(
      ({ label }) => !Object.keys(JUSTIFIED).some((prefix) => label.startsWith(prefix)),
    )
    const states = allStates()
    // every replay starts in the initial state (authenticating)
    const entered = new Set<string>(["connection", `connection.${String(initialSnapshot().value)}`])
    for (const definition of covered as Set<{
      source?: { id: string }
      target?: ReadonlyArray<{ id: string }>
    }>) {
      for (const target of definition.target ?? []) {
        for (let id = target.id; id.includes("."); id = id.slice(0, id.lastIndexOf("."))) entered.add(id)
      }
    }
    for (const value of visitedStates) {
      const walk = (node: unknown, prefix: string): void => {
        if (typeof node === "string") entered.add(`${prefix}.${node}`)
        else if (node !== null && typeof node === "object") {
          for (const [key, child] of Object.entries(node)) {
            entered.add(`${prefix}.${key}`)
            walk(child, `${prefix}.${key}`)
          }
        }
      }
      walk(JSON.parse(value), "connection")
    }
    const statesReached = states.filter((id) => entered.has(id)).length
    const lines = [
      `connection chart coverage: ${transitions.length - missing.length}/${transitions.length} transitions, ${statesReached}/${states.length} states`,
      ...missing.map(
        ({ label }) =>
          `  not replayed: ${label} — ${JUSTIFIED[Object.keys(JUSTIFIED).find((prefix) => label.startsWith(prefix)) ?? ""] ?? "UNJUSTIFIED"}`,
      ),
    ]
    const short = (input: string) => input.replace("CC_SESSION_ESTABLISHMENT", "CCSE").replace(" other", "*")
    const widths = CLIENT_INPUTS.map((input) =>
      Math.max(short(input).length, ...[...matrix.values()].map((cells) => (cells[input] ?? "—").length)),
    )
    const rowWidth = Math.max(...[...matrix.keys()].map((row) => row.length))
    const table = [
      "state × client input, every cell replayed against the real server (Ex = ERROR code x, closeX = fatal ERROR then close, * = names another user):",
      `  ${"".padEnd(rowWidth)}  ${CLIENT_INPUTS.map((input, i) => short(input).padEnd(widths[i]!)).join(" ")}`,
      ...[...matrix].map(
        ([row, cells]) =>
          `  ${row.padEnd(rowWidth)}  ${CLIENT_INPUTS.map((input, i) => (cells[input] ?? "—").padEnd(widths[i]!)).join(" ")}`,
      ),
    ]
    process.stdout.write(`${[...lines, ...table].join("\n")}\n`)
    expect(matrix.size).toBeGreaterThanOrEqual(6)
    for (const [row, cells] of matrix) expect(Object.keys(cells).length, row).toBe(CLIENT_INPUTS.length)
    expect(unjustified.map(({ label }) => label)).toEqual([])
    expect(statesReached).toBe(states.length)
  })
})
