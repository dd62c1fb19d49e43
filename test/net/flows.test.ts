/**
 * Full protocol flows against the real server over TCP on 127.0.0.1 with real keys: login and
 * encrypted list, request/accept/establish/chat, refuse, not-found cases, leaving, disconnects,
 * quit and duplicate logins.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import { NotFoundReason, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, hear, login, say } from "../../testkit/chat.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer
const links: ClientLink[] = []
const connect = async (name: string) => {
  const link = await login(server, name)
  links.push(link)
  return link
}
const nonce = new Uint8Array(32).fill(7)
const ephemeralKey = new Uint8Array(32).fill(9)
/** The server relays these opaquely: stand-ins of ML-KEM-768's sizes (key 1,184, ciphertext 1,088). */
const kemKey = new Uint8Array(1184).fill(8)
const kemCiphertext = new Uint8Array(1088).fill(6)
const rtt = (to: string) => ({ type: "Rtt", to, nonce, ephemeralKey, kemKey }) as const
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b)

beforeEach(async () => {
  server = await startTestServer({ users: ["alice", "bob", "carol", "dave"] })
})

afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  await server.stop()
})

describe("login", () => {
  it("logs in and receives the encrypted user list (1.3)", async () => {
    const alice = await connect("alice")
    expect(alice.welcome).toEqual({ total: 0, names: [] })
    const bob = await connect("bob")
    expect(bob.welcome).toEqual({ total: 1, names: ["alice"] })
  })

  it("LIST refreshes: available users, sorted, without the asker", async () => {
    const carol = await connect("carol")
    await connect("alice")
    await connect("bob")
    carol.send({ type: "List" })
    expect(await expectMessage(carol, "List")).toEqual({ type: "List", total: 2, names: ["alice", "bob"] })
  })

  it("an unknown user is refused with LOGIN_FAILED", async () => {
    await expect(login(server, "mallory")).rejects.toMatchObject({ reason: "LoginRefused", code: 20 })
  })

  it("a revoked user is refused with LOGIN_FAILED", async () => {
    server.revoked.add("dave")
    await expect(login(server, "dave")).rejects.toMatchObject({ reason: "LoginRefused", code: 20 })
  })

  it("duplicate login: the new connection replaces the old, which is told why", async () => {
    const first = await connect("alice")
    const second = await connect("alice")
    expect(await first.closed).toMatchObject({ reason: "server-error", code: 9 })
    const bob = await connect("bob")
    expect(bob.welcome.names).toEqual(["alice"])
    second.send({ type: "Ping", value: 5n })
    expect(await expectMessage(second, "Pong")).toEqual({ type: "Pong", value: 5n })
  })
})

describe("requests and chats", () => {
  it("RTT → ACCEPT → CC_SESSION_ESTABLISHMENT → MESSAGE both ways, end to end", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    const chat = await establishChat(server, alice, bob)
    say(alice, chat.requester, "hello bob")
    expect(await hear(bob, chat.accepter)).toBe("hello bob")
    say(bob, chat.accepter, "hi alice")
    expect(await hear(alice, chat.requester)).toBe("hi alice")
  })

  it("busy users are hidden from LIST while they chat", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    const carol = await connect("carol")
    await establishChat(server, alice, bob)
    carol.send({ type: "List" })
    expect(await expectMessage(carol, "List")).toEqual({ type: "List", total: 0, names: [] })
  })

  it("REFUSE: the requester is told and both are available again", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    // Relayed unchanged, with alice's certificate added by the server (§6.1).
    const relayed = await expectMessage(bob, "Rtt")
    expect(relayed.from).toBe("alice")
    expect(relayed.certificate.length).toBeGreaterThan(0)
    expect(same(relayed.nonce, nonce) && same(relayed.ephemeralKey, ephemeralKey)).toBe(true)
    expect(same(relayed.kemKey, kemKey)).toBe(true)
    bob.send({ type: "Refuse", requester: "alice" })
    expect(await expectMessage(alice, "Refuse")).toEqual({ type: "Refuse", from: "bob" })
    const chat = await establishChat(server, bob, alice)
    say(bob, chat.requester, "second try")
    expect(await hear(alice, chat.accepter)).toBe("second try")
  })

  it.each([
    ["unknown", "nobody", NotFoundReason.NotOnline],
    ["offline", "carol", NotFoundReason.NotOnline],
    ["self", "alice", NotFoundReason.Yourself],
  ] as const)("USER_NOT_FOUND for %s", async (_case, target, reason) => {
    const alice = await connect("alice")
    alice.send(rtt(target))
    expect(await expectMessage(alice, "UserNotFound")).toEqual({ type: "UserNotFound", user: target, reason })
    alice.send({ type: "List" })
    await expectMessage(alice, "List")
  })

  it("USER_NOT_FOUND for a busy user, and no prefix matching", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    const carol = await connect("carol")
    await establishChat(server, alice, bob)
    carol.send(rtt("bob"))
    expect(await expectMessage(carol, "UserNotFound")).toMatchObject({
      user: "bob",
      reason: NotFoundReason.Busy,
    })
    carol.send(rtt("bo"))
    expect(await expectMessage(carol, "UserNotFound")).toMatchObject({
      user: "bo",
      reason: NotFoundReason.NotOnline,
    })
  })

  it("leaving a chat (NOTIFY) tells the peer; both can chat again", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    await establishChat(server, alice, bob)
    alice.send({ type: "Notify", peer: "bob" })
    expect(await expectMessage(bob, "Notify")).toEqual({
      type: "Notify",
      peer: "alice",
      reason: NotifyReason.Left,
    })
    const again = await establishChat(server, bob, alice)
    say(alice, again.accepter, "back")
    expect(await hear(bob, again.requester)).toBe("back")
  })

  it("withdrawing a pending request (NOTIFY) tells the target", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    await expectMessage(bob, "Rtt")
    alice.send({ type: "Notify", peer: "bob" })
    expect(await expectMessage(bob, "Notify")).toEqual({
      type: "Notify",
      peer: "alice",
      reason: NotifyReason.Cancelled,
    })
    // bob's late ACCEPT is not acted upon
    bob.send({
      type: "Accept",
      requester: "alice",
      nonce,
      ephemeralKey,
      kemCiphertext,
      signature: new Uint8Array(64),
      confirmation: new Uint8Array(32),
    })
    expect(await expectMessage(bob, "Error")).toMatchObject({ code: 2, fatal: false })
  })

  it("a target who disconnects mid-request: the requester is told at once", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    await expectMessage(bob, "Rtt")
    bob.close()
    expect(await expectMessage(alice, "Notify")).toEqual({
      type: "Notify",
      peer: "bob",
      reason: NotifyReason.Disconnected,
    })
  })

  it("a requester who disconnects mid-request: the target is told at once", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    await expectMessage(bob, "Rtt")
    alice.close()
    expect(await expectMessage(bob, "Notify")).toMatchObject({
      peer: "alice",
      reason: NotifyReason.Disconnected,
    })
  })

  it("a peer who disconnects mid-chat: NOTIFY at once", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    await establishChat(server, alice, bob)
    bob.close()
    expect(await expectMessage(alice, "Notify")).toMatchObject({
      peer: "bob",
      reason: NotifyReason.Disconnected,
    })
  })

  it("QUIT mid-chat: the peer is told the user left; the quitter's socket is closed", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    await establishChat(server, alice, bob)
    alice.send({ type: "Quit" })
    expect(await expectMessage(bob, "Notify")).toMatchObject({ peer: "alice", reason: NotifyReason.Left })
    expect(await alice.closed).toMatchObject({ reason: "eof" })
    bob.send({ type: "List" })
    expect(await expectMessage(bob, "List")).toEqual({ type: "List", total: 0, names: [] })
  })

  it("a request that is never answered times out for both sides", async () => {
    await server.stop()
    server = await startTestServer({ limits: { requestTimeoutMs: 200 } })
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    await expectMessage(bob, "Rtt")
    expect(await expectMessage(alice, "Notify")).toMatchObject({ peer: "bob", reason: NotifyReason.TimedOut })
    expect(await expectMessage(bob, "Notify")).toMatchObject({ peer: "alice", reason: NotifyReason.TimedOut })
  })

  it("crossed requests resolve: one request goes through, the other RTT is answered (no one waits)", async () => {
    const alice = await connect("alice")
    const bob = await connect("bob")
    alice.send(rtt("bob"))
    bob.send(rtt("alice"))
    // Whoever's RTT reached the supervisor first is the requester; the other now has an incoming
    // request, so its own RTT is answered (busy, or illegal in that state): no one waits forever.
    const incoming = await Promise.race([
      expectMessage(alice, "Rtt").then(() => alice),
      expectMessage(bob, "Rtt").then(() => bob),
    ])
    const answer = await incoming.next((m) => m.type === "UserNotFound" || m.type === "Error", 2_000)
    expect(answer).toMatchObject(
      answer.type === "Error" ? { code: 2, fatal: false } : { reason: NotFoundReason.Busy },
    )
  })
})
