/**
 * The bridges' pooled output buffers: a pool lends and takes back, and a pair relaying large
 * messages through reused buffers gets every byte right (a buffer reused before its write was done
 * would corrupt records, which the record tags and e2e envelopes would reject).
 */
import { afterEach, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import { BufferPool, outboundPool } from "../../src/net/buffer-pool.ts"
import { KEM_CIPHERTEXT_BYTES, KEM_ENCAPSULATION_KEY_BYTES } from "../../src/protocol/constants.ts"
import { establishChat, hear, login, say } from "../../testkit/chat.ts"
import { rawLogin } from "../../testkit/fuzz/raw-client.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer | undefined
const links: ClientLink[] = []
afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  await server?.stop()
  server = undefined
})

describe("BufferPool", () => {
  it("lends buffers of its size, takes back at most max, refuses lengths above the size", () => {
    const pool = new BufferPool(1024, 2)
    const [a, b, c] = [pool.take(10), pool.take(1024), pool.take(500)]
    expect(pool.take(1025)).toBeUndefined()
    for (const buffer of [a, b, c]) pool.give(buffer!)
    expect(pool.idle).toBe(2)
    expect(pool.take(1)).toBe(b) // the last one given back (c found the pool full)
    pool.give(Buffer.alloc(16)) // not one of its own size: dropped
    expect(pool.idle).toBe(1)
  })
})

describe("large relays through pooled buffers", () => {
  it("deliver every message intact, in order, both ways", async () => {
    server = await startTestServer({ users: ["alice", "bob"] })
    const [alice, bob] = await Promise.all(["alice", "bob"].map((name) => login(server!, name)))
    links.push(alice!, bob!)
    const chat = await establishChat(server, alice!, bob!)
    const text = (from: string, i: number) =>
      `${from}${i}:`.padEnd(16_000, String.fromCharCode(97 + (i % 26)))
    for (let i = 0; i < 120; i++) say(alice!, chat.requester, text("a", i))
    for (let i = 0; i < 120; i++) say(bob!, chat.accepter, text("b", i))
    for (let i = 0; i < 120; i++) expect(await hear(bob!, chat.accepter)).toBe(text("a", i))
    for (let i = 0; i < 120; i++) expect(await hear(alice!, chat.requester)).toBe(text("b", i))
    expect(outboundPool.idle).toBeGreaterThan(0) // the flushes did go through the pool
  })
})

type Raw = Awaited<ReturnType<typeof rawLogin>>

/** The server only routes the agreement: bytes of the right sizes put two raw clients in a chat. */
const rawChat = async (requester: Raw, accepter: Raw, names: readonly [string, string]): Promise<void> => {
  const key = new Uint8Array(32).fill(7)
  requester.send({
    type: "Rtt",
    to: names[1],
    nonce: key,
    ephemeralKey: key,
    kemKey: new Uint8Array(KEM_ENCAPSULATION_KEY_BYTES),
  })
  await accepter.next((m) => m.type === "Rtt")
  accepter.send({
    type: "Accept",
    requester: names[0],
    nonce: key,
    ephemeralKey: key,
    kemCiphertext: new Uint8Array(KEM_CIPHERTEXT_BYTES),
    signature: new Uint8Array(64),
    confirmation: key,
  })
  await requester.next((m) => m.type === "Accept")
  requester.send({
    type: "CcSessionEstablishment",
    accepter: names[1],
    signature: new Uint8Array(64),
    confirmation: key,
  })
  await accepter.next((m) => m.type === "CcSessionEstablishment")
}

const envelope = (i: number, seed: number) => new Uint8Array(16_000).fill((i + seed) % 251).fill(i >> 8, 0, 8)

/** Sends `count` envelopes, four per record. */
const sendEnvelopes = (from: Raw, count: number, seed: number): void => {
  for (let i = 0; i < count; i += 4)
    from.send(
      ...[i, i + 1, i + 2, i + 3].map((n) => ({ type: "Message" as const, envelope: envelope(n, seed) })),
    )
}

const expectEnvelopes = async (to: Raw, count: number, seed: number): Promise<void> => {
  const relayed = () => to.messages.flatMap((m) => (m.type === "Message" ? [m.envelope] : []))
  await to.until(() => relayed().length === count, "all relayed", 20_000)
  for (const [i, got] of relayed().entries()) {
    expect(Buffer.compare(got, envelope(i, seed)), `envelope ${i}`).toBe(0)
  }
  expect(to.breaches).toEqual([])
}

describe("a reader that stalls while large records are relayed to it", () => {
  it("still gets every envelope byte-exact while another pair reuses the pool meanwhile", async () => {
    const names = ["alice", "bob", "carol", "dave"]
    server = await startTestServer({ users: names, config: { maxOutboundBytes: 64 << 20 } })
    const [alice, bob, carol, dave] = await Promise.all(
      names.map((name) =>
        rawLogin({ port: server!.port, pki: server!.pki, identity: { name, key: server!.users.get(name)! } }),
      ),
    )
    try {
      await rawChat(alice!, bob!, ["alice", "bob"])
      await rawChat(carol!, dave!, ["carol", "dave"])
      bob!.socket.pause() // bob stops reading: the server's writes to him queue up
      sendEnvelopes(alice!, 1_000, 0) // 16 MB, far beyond the kernel's socket buffers
      await new Promise((resolve) => setTimeout(resolve, 300))
      // Meanwhile carol → dave flows, taking pooled buffers: none may be one still queued for bob.
      sendEnvelopes(carol!, 400, 100)
      await expectEnvelopes(dave!, 400, 100)
      bob!.socket.resume()
      await expectEnvelopes(bob!, 1_000, 0)
    } finally {
      for (const client of [alice, bob, carol, dave]) client!.kill()
    }
  }, 30_000)
})
