/**
 * The direct chat line: once both connections are in `chatting.active`, the supervisor lets their
 * transports relay MESSAGE envelopes to each other without three actor steps per record. It must
 * change no outcome: messages arrive once and in order, and the line closes in the same step as
 * the conversation, so a MESSAGE right behind a NOTIFY (same record) or after the peer vanished is
 * refused exactly as the chart says.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { InspectionEvent } from "xstate"
import type { ClientLink } from "../../src/client/link.ts"
import { ErrorCode, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, hear, login, say } from "../../testkit/chat.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer | undefined
const links: ClientLink[] = []
afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  await server?.stop()
  server = undefined
})

/** Event types received by the actors (supervisor and connections), in order. */
const recordEvents = () => {
  const seen: string[] = []
  const inspect = (event: InspectionEvent) => {
    if (event.type === "@xstate.event") seen.push(event.event.type)
  }
  return { seen, inspect }
}

const start = async (users: ReadonlyArray<string>, inspect?: (event: InspectionEvent) => void) => {
  server = await startTestServer({ users, ...(inspect === undefined ? {} : { inspect }) })
  const connected = await Promise.all(users.map((name) => login(server!, name)))
  links.push(...connected)
  return connected
}

describe("the direct chat line", () => {
  it("relays an established chat without actor steps, every message once and in order", async () => {
    const events = recordEvents()
    const [alice, bob] = await start(["alice", "bob"], events.inspect)
    const chat = await establishChat(server!, alice!, bob!)
    const before = events.seen.length
    for (let i = 0; i < 500; i++) say(alice!, chat.requester, `a${i}`)
    for (let i = 0; i < 500; i++) say(bob!, chat.accepter, `b${i}`)
    for (let i = 0; i < 500; i++) expect(await hear(bob!, chat.accepter)).toBe(`a${i}`)
    for (let i = 0; i < 500; i++) expect(await hear(alice!, chat.requester)).toBe(`b${i}`)
    const during = events.seen.slice(before)
    expect(during.filter((type) => ["MESSAGE", "CHAT_MESSAGES", "PEER_MESSAGE"].includes(type))).toEqual([])
  })

  it("a server without the line (openChatLine removed) routes the same messages through the actors", async () => {
    const { supervisorMachine } = await import("../../src/actors/supervisor.machine.ts")
    const events = recordEvents()
    server = await startTestServer({
      users: ["alice", "bob"],
      machine: supervisorMachine.provide({ actions: { openChatLine: () => {} } }),
      inspect: events.inspect,
    })
    const [alice, bob] = await Promise.all(["alice", "bob"].map((name) => login(server!, name)))
    links.push(alice!, bob!)
    const chat = await establishChat(server, alice!, bob!)
    say(alice!, chat.requester, "through the chart")
    expect(await hear(bob!, chat.accepter)).toBe("through the chart")
    expect(events.seen).toEqual(expect.arrayContaining(["MESSAGE", "CHAT_MESSAGES", "PEER_MESSAGE"]))
  })

  it("closes with the conversation: a MESSAGE behind a NOTIFY in the same record is ILLEGAL_STATE", async () => {
    const [alice, bob] = await start(["alice", "bob"])
    const chat = await establishChat(server!, alice!, bob!)
    const envelope = (text: string) => {
      const sealed = chat.requester.seal(text)
      if (sealed._tag !== "Success") throw new Error("seal failed")
      return sealed.success
    }
    // One send: one record holding MESSAGE, NOTIFY (leave), MESSAGE.
    alice!.send(
      { type: "Message", envelope: envelope("before") },
      { type: "Notify", peer: "bob" },
      { type: "Message", envelope: envelope("after") },
    )
    expect(await hear(bob!, chat.accepter)).toBe("before")
    expect(await expectMessage(bob!, "Notify")).toMatchObject({ peer: "alice", reason: NotifyReason.Left })
    expect(await expectMessage(alice!, "Error")).toMatchObject({ code: ErrorCode.IllegalState, fatal: false })
    // bob got nothing after the NOTIFY: his next message is the PONG he asks for now.
    bob!.send({ type: "Ping", value: 9n })
    expect(await bob!.next(() => true)).toEqual({ type: "Pong", value: 9n })
  })

  it("closes when the peer vanishes: the survivor's MESSAGE is refused, a new chat gets a new line", async () => {
    const [alice, bob, carol] = await start(["alice", "bob", "carol"])
    const first = await establishChat(server!, alice!, bob!)
    bob!.close()
    expect(await expectMessage(alice!, "Notify")).toMatchObject({
      peer: "bob",
      reason: NotifyReason.Disconnected,
    })
    say(alice!, first.requester, "anyone?")
    expect(await expectMessage(alice!, "Error")).toMatchObject({ code: ErrorCode.IllegalState })
    const second = await establishChat(server!, alice!, carol!)
    say(alice!, second.requester, "hello carol")
    expect(await hear(carol!, second.accepter)).toBe("hello carol")
    say(carol!, second.accepter, "hello alice")
    expect(await hear(alice!, second.requester)).toBe("hello alice")
  })

  it("closes when a login displaces one side: the displaced chat's peer is told, the new session starts idle", async () => {
    const [alice, bob] = await start(["alice", "bob"])
    const chat = await establishChat(server!, alice!, bob!)
    const bobAgain = await login(server!, "bob")
    links.push(bobAgain)
    expect(await expectMessage(alice!, "Notify")).toMatchObject({ peer: "bob" })
    say(alice!, chat.requester, "to the old bob")
    expect(await expectMessage(alice!, "Error")).toMatchObject({ code: ErrorCode.IllegalState })
    bobAgain.send({ type: "Ping", value: 1n })
    expect(await expectMessage(bobAgain, "Pong")).toEqual({ type: "Pong", value: 1n })
  })
})
