/**
 * Concurrency: 200 clients in 100 chatting pairs, 100 end-to-end messages per direction each, all
 * at once. Every message must arrive exactly once, in order, at the right peer only (a message
 * delivered to anyone else would fail to open under that pair's keys).
 */
import { Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import type { ChatChannel } from "../../src/crypto/chat-channel.ts"
import { establishChat, login } from "../../testkit/chat.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

const PAIRS = 100
const MESSAGES = 100
const names = Array.from({ length: PAIRS * 2 }, (_, i) => `u${i.toString().padStart(3, "0")}`)

let server: TestServer
let links: ClientLink[] = []
beforeAll(async () => {
  server = await startTestServer({ users: names })
})
afterAll(async () => {
  for (const link of links) link.close()
  await server.stop()
})

/** Collects every chat text a link receives, opened with its chat channel. */
const collect = (link: ClientLink, chat: ChatChannel, expected: number) => {
  const texts: string[] = []
  const failures: string[] = []
  const done = new Promise<void>((resolve) => {
    link.onMessage((message) => {
      if (message.type !== "Message") return
      const opened = chat.open(message.envelope)
      if (Result.isFailure(opened)) failures.push(opened.failure.message)
      else if (opened.success.kind === "text") texts.push(opened.success.text)
      else failures.push(`unexpected ${opened.success.kind}`)
      if (texts.length + failures.length === expected) resolve()
    })
  })
  return { texts, failures, done }
}

describe("200 clients, 100 pairs", () => {
  it("delivers every message once, in order, to the right peer only", { timeout: 60_000 }, async () => {
    links = await Promise.all(names.map((name) => login(server, name)))
    const pairs = await Promise.all(
      Array.from({ length: PAIRS }, async (_, i) => {
        const a = links[2 * i]!
        const b = links[2 * i + 1]!
        return { a, b, chat: await establishChat(server, a, b) }
      }),
    )
    const inboxes = pairs.map(({ a, b, chat }) => ({
      a: collect(a, chat.requester, MESSAGES),
      b: collect(b, chat.accepter, MESSAGES),
    }))
    for (let n = 0; n < MESSAGES; n++) {
      for (const { a, b, chat } of pairs) {
        a.send({
          type: "Message",
          envelope: Result.getOrThrow(chat.requester.seal(`${a.user}→${b.user} #${n}`)),
        })
        b.send({
          type: "Message",
          envelope: Result.getOrThrow(chat.accepter.seal(`${b.user}→${a.user} #${n}`)),
        })
      }
      if (n % 10 === 9) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(inboxes.flatMap(({ a, b }) => [a.done, b.done]))
    pairs.forEach(({ a, b }, i) => {
      const inbox = inboxes[i]!
      expect(inbox.a.failures).toEqual([])
      expect(inbox.b.failures).toEqual([])
      expect(inbox.b.texts).toEqual(Array.from({ length: MESSAGES }, (_, n) => `${a.user}→${b.user} #${n}`))
      expect(inbox.a.texts).toEqual(Array.from({ length: MESSAGES }, (_, n) => `${b.user}→${a.user} #${n}`))
    })
    // nothing extra arrives afterwards
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(inboxes.every(({ a, b }) => a.texts.length === MESSAGES && b.texts.length === MESSAGES)).toBe(true)
  })
})
