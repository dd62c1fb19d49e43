/**
 * Unit tests of the session chart for what the replay cannot reach reliably: the short window
 * while a chat is being secured, and a changed peer key (both roles), driven with pure
 * transitions and checking the intents and UI events the chart emits.
 */
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import type { SessionEvent } from "../../src/client/session.events.ts"
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

const online: SessionEvent[] = [{ type: "LOGGED_IN", online: ["bob"] }]

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
