/**
 * Client messages that say what happened, with real `onechat` processes over real TCP: a request
 * withdrawn, a request expired (server run with a short --request-timeout-ms), busy, not online,
 * yourself, `!quit` while being asked (declines; a second `!quit` exits), the server stopping
 * (SIGTERM), and the server's certificate facts on `ready` (fingerprint computed here from the
 * certificate file). Each `--json` event is checked exactly, then the sentence the interactive
 * client prints for that very event. Four clients are started once (in parallel) and shared: each
 * test leaves them all idle.
 */
import { createHash, X509Certificate } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatUiEvent } from "../../src/cli/client-interactive.ts"
import { makeStyle } from "../../src/cli/terminal.ts"
import type { UiEvent } from "../../src/client/session.events.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import {
  type JsonClient,
  type JsonEvent,
  type ServerProcess,
  startJsonClient,
  startServerProcess,
} from "../../testkit/processes.ts"

const PASSPHRASE = "test passphrase for reasons"
/** Short enough to wait for, long enough that a loaded machine answers every other request in time. */
const REQUEST_TIMEOUT_MS = 3_000
let folder: string
let dir: string
let server: ServerProcess
let alice: JsonClient
let bob: JsonClient
let carol: JsonClient
let dave: JsonClient
/** alice's first event, taken before any test ran. */
let aliceReady: JsonEvent

/** What the interactive client prints for this event (no colours). */
const sentence = (event: JsonEvent): string =>
  formatUiEvent(event as unknown as UiEvent, makeStyle(false)).join("\n")

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-reasons-"))
  dir = join(folder, "data")
  const users = ["alice", "bob", "carol", "dave"]
  await Effect.runPromise(createDevelopmentPki({ dir, users, passphrase: PASSPHRASE }))
  server = await startServerProcess(dir, {}, ["--request-timeout-ms", String(REQUEST_TIMEOUT_MS)])
  const start = (name: string) =>
    startJsonClient(name, { dir, port: server.port, env: { ONECHAT_PASSPHRASE: PASSPHRASE } })
  ;[alice, bob, carol, dave] = users.map(start) as [JsonClient, JsonClient, JsonClient, JsonClient]
  // Four logins at once (each unlocks its key with scrypt): give a loaded machine time.
  aliceReady = await alice.next(undefined, 90_000)
  for (const c of [bob, carol, dave]) await c.next("ready", 90_000)
}, 120_000)

afterAll(async () => {
  for (const c of [alice, bob, carol, dave]) c?.kill()
  await server?.stop()
  await rm(folder, { recursive: true, force: true })
})

describe("client messages say what happened", { timeout: 60_000 }, () => {
  it("shows the server's certificate subject, names and SHA-256 fingerprint once, on ready", async () => {
    const pem = await readFile(join(dir, "server", "server.cert.pem"), "utf8")
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64")
    const fingerprint = createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":")
    const certificate = new X509Certificate(der)
    expect(certificate.fingerprint256).toBe(fingerprint) // the same bytes as the file, both ways
    expect(aliceReady).toEqual({
      type: "ready",
      user: "alice",
      online: expect.any(Array), // whoever of the others was quicker
      server: { subject: "CN=localhost", names: ["localhost", "127.0.0.1"], fingerprint },
    })
    expect(certificate.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1")
    expect(sentence(aliceReady).split("\n")[0]).toBe(
      `Connected to localhost (DNS localhost, IP 127.0.0.1), certificate SHA-256 ${fingerprint}`,
    )
    alice.send("!list")
    expect(await alice.next()).toEqual({ type: "list", online: ["bob", "carol", "dave"] })
    expect(alice.events.filter((event) => event.type === "ready")).toHaveLength(1)
  })

  it("a request withdrawn by its sender", async () => {
    alice.send("!request bob")
    expect(await bob.next("request")).toEqual({ type: "request", from: "alice" })
    alice.send("!cancel")
    expect(await alice.next("request_cancelled")).toEqual({ type: "request_cancelled", to: "bob" })
    const withdrawn = await bob.next("peer_left")
    expect(withdrawn).toEqual({ type: "peer_left", peer: "alice", reason: "withdrawn" })
    expect(sentence(withdrawn)).toBe("alice withdrew the request.")
  })

  it("a request nobody answered expires, and both sides are told whose it was", async () => {
    alice.send("!request carol")
    await carol.next("request")
    const sent = Date.now()
    const mine = await alice.next("peer_left", REQUEST_TIMEOUT_MS + 10_000)
    const theirs = await carol.next("peer_left", REQUEST_TIMEOUT_MS + 10_000)
    expect(Date.now() - sent).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 500)
    expect(mine).toMatchObject({ type: "peer_left", peer: "carol", reason: "expired", direction: "outgoing" })
    expect(theirs).toMatchObject({
      type: "peer_left",
      peer: "alice",
      reason: "expired",
      direction: "incoming",
    })
    for (const event of [mine, theirs]) {
      expect(Object.keys(event).sort()).toEqual(["direction", "peer", "reason", "seconds", "type"])
      expect(event.seconds).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS / 1000 - 0.5)
      expect(event.seconds).toBeLessThan(REQUEST_TIMEOUT_MS / 1000 + 2)
    }
    expect(sentence(mine)).toBe(`The request to carol expired (no answer within ${mine.seconds} s).`)
    expect(sentence(theirs)).toBe(`The request from alice expired (no answer within ${theirs.seconds} s).`)
    // Both are free again: carol's !accept has nothing to answer, alice can ask again.
    carol.send("!accept")
    expect(await carol.next()).toMatchObject({ type: "error", code: "no_request" })
    alice.send("!request carol")
    expect(await carol.next("request")).toEqual({ type: "request", from: "alice" })
    carol.send("!refuse")
    expect(await carol.next()).toEqual({ type: "request_declined", from: "alice" })
    expect(await alice.next("refused")).toEqual({ type: "refused", by: "carol" })
  })

  it("busy, not online, and yourself are three different answers", async () => {
    dave.send("!quit") // offline from now on
    expect(await dave.exit).toBe(0)
    alice.send("!request bob")
    await bob.next("request")
    bob.send("!accept")
    await alice.next("chat_started")
    await bob.next("chat_started")

    carol.send("!request alice")
    expect(await carol.next()).toEqual({ type: "request_sent", to: "alice" })
    const busy = await carol.next()
    expect(busy).toEqual({ type: "not_found", user: "alice", reason: "busy" })
    expect(sentence(busy)).toBe("alice is busy in another chat.")

    for (const absent of ["dave", "zed"]) {
      // dave is registered but offline, zed is no user: the server does not tell them apart.
      carol.send(`!request ${absent}`)
      expect(await carol.next()).toEqual({ type: "request_sent", to: absent })
      const notOnline = await carol.next()
      expect(notOnline).toEqual({ type: "not_found", user: absent, reason: "not_online" })
      expect(sentence(notOnline)).toBe(`${absent} is not online.`)
    }

    carol.send("!request carol")
    const yourself = await carol.next()
    expect(yourself).toEqual({ type: "not_found", user: "carol", reason: "yourself" })
    expect(sentence(yourself)).toBe("You cannot request a chat with yourself.")
    carol.send("!list") // nothing was sent for the request to herself: the next event is the list
    expect(await carol.next()).toEqual({ type: "list", online: [] })

    alice.send("!quit")
    expect(await alice.next("chat_ended")).toEqual({ type: "chat_ended", peer: "bob" })
    const left = await bob.next("peer_left")
    expect(left).toEqual({ type: "peer_left", peer: "alice", reason: "left" })
    expect(sentence(left)).toBe("alice left the chat.")
  })

  it("!quit while being asked declines the request; the decliner stays online until a second !quit", async () => {
    bob.send("!request carol")
    await carol.next("request")
    carol.send("!quit")
    const declined = await carol.next()
    expect(declined).toEqual({ type: "request_declined", from: "bob" })
    expect(sentence(declined)).toBe("You declined bob's request.")
    expect(await bob.next("refused")).toEqual({ type: "refused", by: "carol" })
    carol.send("!list")
    expect(await carol.next()).toEqual({ type: "list", online: ["alice", "bob"] })
    carol.send("!quit")
    expect(await carol.next()).toEqual({ type: "closed", reason: "quit" })
    expect(await carol.exit).toBe(0)
    expect(bob.events.some((event) => event.type === "peer_left" && event.peer === "carol")).toBe(false)
  })

  it("the server stopping (SIGTERM) closes every client with server_stopping, not an error", async () => {
    const before = new Map([alice, bob].map((c) => [c, c.events.length]))
    server.process.kill("SIGTERM") // runs last: alice and bob are still online
    for (const c of [alice, bob]) {
      const closed = await c.next("closed")
      expect(closed).toEqual({ type: "closed", reason: "server_stopping" })
      expect(sentence(closed)).toBe("The server is shutting down.")
      expect(c.events.slice(before.get(c))).toEqual([closed]) // no error line before it
      expect(await c.exit).toBe(1)
      expect(c.garbage).toEqual([])
    }
  })
})
