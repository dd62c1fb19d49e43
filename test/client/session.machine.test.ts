/**
 * Unit tests of the session chart for what the replay cannot reach reliably: the short window
 * while a chat is being secured, a changed peer key (both roles), and the exact UI events of each
 * way a conversation ends (NOTIFY and USER_NOT_FOUND reasons, !quit while asked, the server
 * stopping), driven with pure transitions and checking the intents and UI events the chart emits.
 */
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { SessionEvent, UiEvent } from "../../src/client/session.events.ts"
import { sessionMachine } from "../../src/client/session.machine.ts"

const run = (events: ReadonlyArray<SessionEvent>) => {
  let snapshot = initialTransition(sessionMachine, { user: "alice" })[0]
  const emitted: Array<{ type: string; detail: string }> = []
  for (const event of events) {
    const [next, actions] = transition(sessionMachine, snapshot, event)
    for (const action of actions as ReadonlyArray<{
      type: string
      params?: {
        event?: { type: string; event?: { type: string; code?: string }; intent?: { type: string } }
      }
    }>) {
      const value = action.type === "xstate.emit" ? action.params?.event : undefined
      if (value?.type === "ui")
        emitted.push({ type: "ui", detail: value.event?.code ?? value.event?.type ?? "" })
      if (value?.type === "intent") emitted.push({ type: "intent", detail: value.intent?.type ?? "" })
    }
    snapshot = next
  }
  return { value: snapshot.value, emitted }
}

const server = { subject: "CN=localhost", names: ["localhost"], fingerprint: "AB:CD" }
const online: SessionEvent[] = [{ type: "LOGGED_IN", online: ["bob"], server }]

/** The full UI events and intents of the last event of `events`, and the state it leads to. */
const last = (events: ReadonlyArray<SessionEvent>) => {
  let snapshot = initialTransition(sessionMachine, { user: "alice" })[0]
  let shown: UiEvent[] = []
  let intents: string[] = []
  for (const event of events) {
    const [next, actions] = transition(sessionMachine, snapshot, event)
    const emitted = (actions as ReadonlyArray<{ type: string; params?: { event?: unknown } }>)
      .filter((action) => action.type === "xstate.emit")
      .map((action) => action.params?.event as { type: string; event?: UiEvent; intent?: { type: string } })
    shown = emitted.flatMap((value) => (value.type === "ui" && value.event ? [value.event] : []))
    intents = emitted.flatMap((value) => (value.type === "intent" && value.intent ? [value.intent.type] : []))
    snapshot = next
  }
  return { value: snapshot.value, status: snapshot.status, shown, intents }
}

const asked: SessionEvent[] = [...online, { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "known" }]
const asking: SessionEvent[] = [...online, { type: "REQUEST", user: "bob" }]

describe("session chart", () => {
  it("a line typed while the chat is being secured is not sent", () => {
    const { value, emitted } = run([
      ...online,
      { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "known" },
      { type: "ACCEPT" },
      { type: "SAY", text: "too early" },
    ])
    expect(value).toEqual({ online: { chatting: "establishing" } })
    expect(emitted.at(-1)).toEqual({ type: "ui", detail: "not_ready" })
    expect(emitted.some((e) => e.detail === "send.say")).toBe(false)
  })

  it("requester: a changed key waits for !trust, then the chat is completed", () => {
    const start = [
      ...online,
      { type: "REQUEST", user: "bob" } as const,
      { type: "PEER_ACCEPTED", from: "bob", keyStatus: "changed" } as const,
    ]
    const blocked = run([...start, { type: "SAY", text: "hi" }])
    expect(blocked.value).toEqual({ online: { chatting: "awaitingTrust" } })
    expect(blocked.emitted.some((e) => e.detail === "complete")).toBe(false)
    expect(blocked.emitted.at(-1)).toEqual({ type: "ui", detail: "key_changed" })
    const trusted = run([...start, { type: "TRUST" }])
    expect(trusted.value).toEqual({ online: { chatting: "establishing" } })
    expect(trusted.emitted.slice(-2)).toEqual([
      { type: "intent", detail: "trust" },
      { type: "intent", detail: "complete" },
    ])
    const cancelled = run([...start, { type: "CANCEL" }])
    expect(cancelled.value).toEqual({ online: "idle" })
    expect(cancelled.emitted.some((e) => e.detail === "send.leave")).toBe(true)
  })

  it("accepter: !accept is refused until !trust", () => {
    const start = [...online, { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "changed" } as const]
    const refused = run([...start, { type: "ACCEPT" }])
    expect(refused.value).toEqual({ online: { requesting: "incoming" } })
    expect(refused.emitted.at(-1)).toEqual({ type: "ui", detail: "key_changed" })
    const accepted = run([...start, { type: "TRUST" }, { type: "ACCEPT" }])
    expect(accepted.value).toEqual({ online: { chatting: "establishing" } })
    expect(accepted.emitted.some((e) => e.detail === "send.accept")).toBe(true)
    const nothing = run([
      ...online,
      { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "known" },
      { type: "TRUST" },
    ])
    expect(nothing.emitted.at(-1)).toEqual({ type: "ui", detail: "nothing_to_trust" })
  })
})

describe("how a conversation ends, as shown", () => {
  it("login shows the server's certificate facts on ready", () => {
    expect(last(online).shown).toEqual([{ type: "ready", user: "alice", online: ["bob"], server }])
  })

  it("!quit while being asked declines (REFUSE) and stays online; a second !quit exits", () => {
    const declined = last([...asked, { type: "QUIT" }])
    expect(declined.value).toEqual({ online: "idle" })
    expect(declined.intents).toEqual(["send.refuse"])
    expect(declined.shown).toEqual([{ type: "request_declined", from: "bob" }])
    const exited = last([...asked, { type: "QUIT" }, { type: "QUIT" }])
    expect(exited.status).toBe("done")
    expect(exited.intents).toEqual(["send.quit"])
    expect(exited.shown).toEqual([{ type: "closed", reason: "quit" }])
    expect(last([...asked, { type: "REFUSE" }]).shown).toEqual([{ type: "request_declined", from: "bob" }])
  })

  it("!quit with your own request pending withdraws it first, also while a changed key awaits !trust", () => {
    for (const start of [
      asking,
      [...asking, { type: "PEER_ACCEPTED", from: "bob", keyStatus: "changed" } as const],
    ]) {
      const quit = last([...start, { type: "QUIT" }])
      expect(quit.value).toEqual({ online: "idle" })
      expect(quit.intents).toEqual(["send.leave"])
      expect(quit.shown).toEqual([{ type: "request_cancelled", to: "bob" }])
    }
  })

  it("a request withdrawn by its sender, and a peer that left, disconnected or failed", () => {
    const withdrawn = last([...asked, { type: "PEER_LEFT", peer: "bob", reason: "withdrawn" }])
    expect(withdrawn.value).toEqual({ online: "idle" })
    expect(withdrawn.shown).toEqual([{ type: "peer_left", peer: "bob", reason: "withdrawn" }])
    const chatting: SessionEvent[] = [
      ...asked,
      { type: "ACCEPT" },
      { type: "CHAT_READY", peer: "bob", safety: "1" },
    ]
    for (const reason of ["left", "disconnected", "failed"] as const) {
      const ended = last([...chatting, { type: "PEER_LEFT", peer: "bob", reason }])
      expect(ended.value).toEqual({ online: "idle" })
      expect(ended.shown).toEqual([{ type: "peer_left", peer: "bob", reason }])
    }
  })

  it("an expired request says whose it was and how long it waited", () => {
    expect(
      last([...asking, { type: "PEER_LEFT", peer: "bob", reason: "expired", waitedMs: 1_480 }]).shown,
    ).toEqual([{ type: "peer_left", peer: "bob", reason: "expired", direction: "outgoing", seconds: 1.5 }])
    expect(
      last([...asked, { type: "PEER_LEFT", peer: "bob", reason: "expired", waitedMs: 59_970 }]).shown,
    ).toEqual([{ type: "peer_left", peer: "bob", reason: "expired", direction: "incoming", seconds: 60 }])
    // Crossed requests: bob's request replaced ours, so it is bob's request that expired.
    const crossed = [...asking, { type: "REQUEST_RECEIVED", from: "bob", keyStatus: "known" } as const]
    expect(
      last([...crossed, { type: "PEER_LEFT", peer: "bob", reason: "expired", waitedMs: 5_000 }]).shown,
    ).toEqual([{ type: "peer_left", peer: "bob", reason: "expired", direction: "incoming", seconds: 5 }])
  })

  it("USER_NOT_FOUND says why; a request to yourself is answered the same way without being sent", () => {
    for (const reason of ["busy", "not_online", "yourself"] as const) {
      const answered = last([...asking, { type: "REQUEST_NOT_FOUND", user: "bob", reason }])
      expect(answered.value).toEqual({ online: "idle" })
      expect(answered.shown).toEqual([{ type: "not_found", user: "bob", reason }])
    }
    const self = last([...online, { type: "REQUEST", user: "alice" }])
    expect(self.value).toEqual({ online: "idle" })
    expect(self.intents).toEqual([])
    expect(self.shown).toEqual([{ type: "not_found", user: "alice", reason: "yourself" }])
  })

  it("the server stopping closes without an error; other endings show one first", () => {
    const stopping = last([...online, { type: "CONNECTION_CLOSED", reason: "server_stopping", message: "m" }])
    expect(stopping.status).toBe("done")
    expect(stopping.shown).toEqual([{ type: "closed", reason: "server_stopping" }])
    const replaced = last([
      ...online,
      { type: "CONNECTION_CLOSED", reason: "session_replaced", message: "m" },
    ])
    expect(replaced.shown).toEqual([
      { type: "error", code: "session_replaced", message: "m" },
      { type: "closed", reason: "session_replaced" },
    ])
  })
})
