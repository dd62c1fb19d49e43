/**
 * Model-based conformance of the client: paths generated from the session chart (xstate/graph:
 * shortest paths to every state, each extended by every event that fires a transition there) are
 * replayed with a real client session against the real server over TCP, the peer being another
 * real client session. After each step the client's state and the events it showed must match the
 * chart's prediction. Prints coverage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initialTransition, type SnapshotFrom, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import { KnownPeers } from "../../src/client/known-peers.ts"
import { type ClientLink, connectLink } from "../../src/client/link.ts"
import type { SessionEvent, UiEvent } from "../../src/client/session.events.ts"
import { sessionMachine } from "../../src/client/session.machine.ts"
import { ClientSession } from "../../src/client/session.ts"
import { startTestServer, type TestServer, userKey } from "../../testkit/server.ts"

type Snapshot = SnapshotFrom<typeof sessionMachine>
const WAIT_MS = 3_000

const EVENTS: Record<string, SessionEvent> = {
  login: { type: "LOGGED_IN", online: [], server: { subject: "CN=localhost", names: [], fingerprint: "" } },
  "!list": { type: "LIST" },
  "!request bob": { type: "REQUEST", user: "bob" },
  "!request nobody": { type: "REQUEST", user: "nobody" },
  "!request self": { type: "REQUEST", user: "alice" },
  "!accept": { type: "ACCEPT" },
  "!refuse": { type: "REFUSE" },
  "!cancel": { type: "CANCEL" },
  say: { type: "SAY", text: "hello" },
  "!quit": { type: "QUIT" },
  "!verify": { type: "VERIFY" },
  "!trust": { type: "TRUST" },
  "!help": { type: "HELP" },
  "bob requests": { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "new" },
  "bob refuses": { type: "REQUEST_REFUSED", by: "bob" },
  "bob accepts": { type: "PEER_ACCEPTED", from: "bob", keyStatus: "new" },
  "bob says": { type: "MESSAGE_RECEIVED", text: "hi" },
  /** bob withdraws his request, drops his connection while asked, or leaves the chat (the reason differs). */
  "bob leaves": { type: "PEER_LEFT", peer: "bob", reason: "left" },
  "logged in elsewhere": { type: "CONNECTION_CLOSED", reason: "session_replaced", message: "" },
  /** Replayed with a server of its own, stopped (SHUTTING_DOWN) at this step. */
  "server stops": { type: "CONNECTION_CLOSED", reason: "server_stopping", message: "" },
}
const nameOf = (event: SessionEvent) => Object.entries(EVENTS).find(([, e]) => e === event)?.[0] ?? event.type
const events = Object.values(EVENTS)

/** Facts the real client produces by itself right after a step (the model needs them too). */
const followUps = (event: SessionEvent, before: Snapshot): SessionEvent[] => {
  const state = JSON.stringify(before.value)
  if (event.type === "LIST" && state.includes("online")) return [{ type: "ONLINE_LIST", online: [] }]
  if (event.type === "REQUEST" && event.user === "nobody" && state.includes("idle")) {
    return [{ type: "REQUEST_NOT_FOUND", user: "nobody", reason: "not_online" }]
  }
  if (
    (event.type === "PEER_ACCEPTED" && state.includes("outgoing")) ||
    (event.type === "ACCEPT" && state.includes("incoming"))
  ) {
    return [{ type: "CHAT_READY", peer: "bob", safety: "" }]
  }
  return []
}

const causable = (snapshot: Snapshot, event: SessionEvent): boolean => {
  if (snapshot.status !== "active") return false
  const state = JSON.stringify(snapshot.value)
  if (state === '"connecting"') return event.type === "LOGGED_IN" || event.type === "QUIT"
  switch (event.type) {
    case "LOGGED_IN":
      return false
    case "CONNECTION_CLOSED": // one stop (with a server of its own) covers the chart's root transition
      return event.reason !== "server_stopping" || state === '{"online":"idle"}'
    case "REQUEST_RECEIVED":
      return state.includes("idle")
    case "REQUEST_REFUSED":
    case "PEER_ACCEPTED":
      return state.includes("outgoing")
    case "MESSAGE_RECEIVED":
      return state.includes("active")
    default:
      return true
  }
}

const predict = (before: Snapshot, event: SessionEvent) => {
  const ui: string[] = []
  const taken: object[] = []
  let snapshot = before
  for (const step of [event, ...followUps(event, before)]) {
    taken.push(...sessionMachine.getTransitionData(snapshot, step))
    const [next, actions] = transition(sessionMachine, snapshot, step)
    for (const action of actions as ReadonlyArray<{
      type: string
      params?: { event?: { type: string; event?: UiEvent } }
    }>) {
      const emitted = action.type === "xstate.emit" ? action.params?.event : undefined
      if (emitted?.type === "ui" && emitted.event !== undefined) ui.push(emitted.event.type)
    }
    snapshot = next
  }
  return { snapshot, ui, taken }
}

let server: TestServer
let counter = 0
const covered = new Set<object>()

/** A client session of `name` on `target`; its link, once connected, goes into `links`. */
const session = (target: TestServer, name: string, shown: UiEvent[], links: Map<string, ClientLink>) => {
  const identity = { name, key: target.users.get(name)! }
  return KnownPeers.open(undefined).then((knownPeers) => {
    const client = new ClientSession({
      identity,
      knownPeers,
      now: () => new Date("2026-06-01T12:00:00Z"), // peer certificates checked on the test PKI's date
      onUi: (event) => shown.push(event),
      connect: async () => {
        const link = await connectLink({
          host: "127.0.0.1",
          port: target.port,
          serverName: "localhost",
          trust: { caCertificateDer: target.pki.caCertificateDer },
          identity,
          now: () => new Date("2026-06-01T12:00:00Z"),
        })
        links.set(name, link)
        return link
      },
    })
    return client
  })
}

const until = async (what: string, condition: () => boolean) => {
  const deadline = Date.now() + WAIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

const replay = async (steps: ReadonlyArray<{ readonly event: SessionEvent }>) => {
  const id = ++counter
  const names = { alice: `s${id}a`, bob: `s${id}b` }
  const stops = steps.some(({ event }) => nameOf(event) === "server stops")
  const target = stops ? await startTestServer({ users: [] }) : server
  let stopped: Promise<void> | undefined
  for (const name of Object.values(names)) target.users.set(name, userKey(name))
  const shownByAlice: UiEvent[] = []
  const shownByBob: UiEvent[] = []
  const links = new Map<string, ClientLink>()
  const alice = await session(target, names.alice, shownByAlice, links)
  const bob = await session(target, names.bob, shownByBob, links)
  await bob.start()
  const others: Array<{ close(): void }> = []
  let snapshot = initialTransition(sessionMachine, { user: "alice" })[0]
  const labels: string[] = []
  const line = (command: string) => command.replace(/\bbob\b/, names.bob).replace(/\balice\b/, names.alice)
  try {
    for (const { event } of steps) {
      if (event.type === ("xstate.init" as string)) continue
      labels.push(nameOf(event))
      const prediction = predict(snapshot, event)
      const seen = shownByAlice.length
      const name = nameOf(event)
      const state = JSON.stringify(snapshot.value)
      const bobIn = (part: string) =>
        until(`${labels.join(" → ")}: bob in ${part} (real ${JSON.stringify(bob.state)})`, () =>
          JSON.stringify(bob.state).includes(part),
        )
      if (name === "bob accepts" || name === "bob refuses") await bobIn("incoming")
      if (name === "bob says") await bobIn("active")
      if (name === "bob leaves")
        await bobIn(
          state.includes("outgoing") ? "incoming" : state.includes("incoming") ? "outgoing" : "active",
        )
      if (name === "login") await alice.start()
      else if (name.startsWith("!"))
        alice.command(name === "!request self" ? `!request ${names.alice}` : line(name))
      else if (name === "say") alice.command("hello")
      else if (name === "bob requests") bob.command(`!request ${names.alice}`)
      else if (name === "bob refuses") bob.command("!refuse")
      else if (name === "bob accepts") bob.command("!accept")
      else if (name === "bob says") bob.command("hi")
      // While asked, bob's !quit would decline (alice sees "refused"): he drops the connection instead.
      else if (name === "bob leaves" && state.includes("outgoing")) links.get(names.bob)?.close()
      else if (name === "bob leaves") bob.command(state.includes("incoming") ? "!cancel" : "!quit")
      else if (name === "server stops") stopped = target.stop()
      else if (name === "logged in elsewhere") {
        others.push(
          await connectLink({
            host: "127.0.0.1",
            port: target.port,
            serverName: "localhost",
            trust: { caCertificateDer: target.pki.caCertificateDer },
            identity: { name: names.alice, key: target.users.get(names.alice)! },
            now: () => new Date("2026-06-01T12:00:00Z"),
          }),
        )
      }
      const label = labels.join(" → ")
      const expected = JSON.stringify(prediction.snapshot.value)
      await until(
        `${label}: state ${expected} (real ${JSON.stringify(alice.state)})`,
        () => JSON.stringify(alice.state) === expected,
      )
      await until(
        `${label}: shown ${prediction.ui.join(", ")}`,
        () => shownByAlice.length - seen >= prediction.ui.length,
      )
      expect(
        shownByAlice.slice(seen, seen + prediction.ui.length).map((shown) => shown.type),
        label,
      ).toEqual(prediction.ui)
      for (const definition of prediction.taken) covered.add(definition)
      snapshot = prediction.snapshot
    }
  } finally {
    alice.exit()
    bob.exit()
    for (const other of others) other.close()
    if (stops) await (stopped ?? target.stop())
  }
}

/** The chart with each step's automatic follow-ups folded in: what a user observes per action. */
const observedLogic: typeof sessionMachine = Object.create(sessionMachine)
observedLogic.transition = (snapshot, event, scope) => {
  let next = sessionMachine.transition(snapshot, event, scope)
  for (const followUp of followUps(event, snapshot)) next = sessionMachine.transition(next, followUp, scope)
  return next
}

const paths = getShortestPaths(observedLogic, {
  input: { user: "alice" },
  events: (snapshot) => events.filter((event) => causable(snapshot, event)),
  serializeState: (snapshot) => JSON.stringify(snapshot.value),
  serializeEvent: (event) => nameOf(event),
})
const extended = paths.flatMap((path) =>
  events
    .filter(
      (event) =>
        causable(path.state, event) && sessionMachine.getTransitionData(path.state, event).length > 0,
    )
    .map((event) => [...path.steps, { event, state: path.state }]),
)

beforeAll(async () => {
  server = await startTestServer({ users: [] })
})
afterAll(() => server.stop())

/** Transitions an honest peer and server never cause; each is covered by the test named. */
const JUSTIFIED: Record<string, string> = {
  "session.online ─ REQUEST_NOT_FOUND":
    "a refusal that is not for the current peer: race only (test/net/flows.test.ts)",
  "chatting.establishing ─ SAY":
    "establishing lasts one round trip; what it answers is unit-tested (test/client/session.machine.test.ts)",
  CHAT_FAILED:
    "needs a refused certificate, a forged signature or envelope (test/adversarial/malicious-identity.test.ts, malicious-server.test.ts)",
  SERVER_ERROR:
    "a non-fatal server error needs a race or a misbehaving client (test/net/conformance.test.ts)",
  "REQUEST_RECEIVED in requesting.outgoing": "crossed requests: a race (test/net/flows.test.ts)",
  awaitingTrust: "needs a changed peer key (test/cli/client-keys.test.ts)",
  keyChanged: "needs a changed peer key (test/cli/client-keys.test.ts)",
  ChangedKey: "needs a changed peer key (test/cli/client-keys.test.ts)",
}

describe("the client session chart against a real server and peer", () => {
  it(`replays ${paths.length} paths to every state and ${extended.length} through every transition`, {
    timeout: 240_000,
  }, async () => {
    for (const steps of [...paths.map((path) => path.steps), ...extended]) await replay(steps)
  })
})

describe("coverage (runs last)", () => {
  it("every transition of the session chart is replayed or justified", () => {
    const all: Array<{ definition: object; label: string }> = []
    const visit = (node: typeof sessionMachine.root): void => {
      for (const [eventType, definitions] of node.transitions) {
        definitions.forEach((definition, index) => {
          const guard = typeof definition.guard === "string" ? ` [${definition.guard}]` : ""
          all.push({
            definition,
            label: `${node.id} ─ ${eventType}${guard}${definitions.length > 1 ? ` #${index + 1}` : ""}`,
          })
        })
      }
      for (const child of Object.values(node.states)) visit(child)
    }
    visit(sessionMachine.root)
    const missing = all.filter(({ definition }) => !covered.has(definition))
    const reason = (label: string) =>
      Object.entries(JUSTIFIED).find(
        ([key]) =>
          label.includes(key.split(" in ")[0]!) &&
          (!key.includes(" in ") || label.includes(key.split(" in ")[1]!)),
      )?.[1]
    process.stdout.write(
      `${[
        `session chart coverage: ${all.length - missing.length}/${all.length} transitions`,
        ...missing.map(({ label }) => `  not replayed: ${label} — ${reason(label) ?? "UNJUSTIFIED"}`),
      ].join("\n")}\n`,
    )
    expect(missing.filter(({ label }) => reason(label) === undefined).map(({ label }) => label)).toEqual([])
  })
})
