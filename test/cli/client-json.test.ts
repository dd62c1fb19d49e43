/**
 * The client in `--json` mode as real child processes against a real server process, three users:
 * list, request, refuse, not found, accept, chat both ways, cancel, leave, peer disconnect, quit —
 * checking the exact JSON events (with their reasons), and nothing but JSON on stdout. Each reason
 * on its own, and the server's identity on `ready`: test/cli/client-reasons.test.ts.
 */
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DevelopmentServer, startDevelopmentServer } from "../../testkit/processes.ts"

const PASSPHRASE = "test passphrase for json clients"
let dir: string
let world: DevelopmentServer
const client = (...args: Parameters<DevelopmentServer["client"]>) => world.client(...args)
/** The server's certificate facts on `ready` (checked exactly in client-reasons.test.ts). */
const server = expect.objectContaining({
  fingerprint: expect.stringMatching(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/),
})

beforeAll(async () => {
  world = await startDevelopmentServer("onechat-json-", ["alice", "bob", "carol"], PASSPHRASE)
  dir = world.dir
}, 30_000)

afterAll(() => world.stop())

describe("onechat client --json", { timeout: 60_000 }, () => {
  it("runs the whole flow for three users with the exact events", async () => {
    const alice = client("alice")
    expect(await alice.next()).toEqual({ type: "ready", user: "alice", online: [], server })
    const bob = client("bob")
    expect(await bob.next()).toEqual({ type: "ready", user: "bob", online: ["alice"], server })
    const carol = client("carol")
    expect(await carol.next()).toEqual({ type: "ready", user: "carol", online: ["alice", "bob"], server })

    alice.send("!list")
    expect(await alice.next()).toEqual({ type: "list", online: ["bob", "carol"] })

    alice.send("!request dave")
    expect(await alice.next()).toEqual({ type: "request_sent", to: "dave" })
    expect(await alice.next()).toEqual({ type: "not_found", user: "dave", reason: "not_online" })

    alice.send("!request bob")
    expect(await alice.next()).toEqual({ type: "request_sent", to: "bob" })
    expect(await bob.next()).toEqual({ type: "request", from: "alice" })
    bob.send("!refuse")
    expect(await bob.next()).toEqual({ type: "request_declined", from: "alice" })
    expect(await alice.next()).toEqual({ type: "refused", by: "bob" })

    carol.send("!request alice")
    expect(await carol.next()).toEqual({ type: "request_sent", to: "alice" })
    expect(await alice.next()).toEqual({ type: "request", from: "carol" })
    alice.send("!accept")
    const startedAlice = await alice.next()
    const startedCarol = await carol.next()
    expect(startedAlice).toMatchObject({ type: "chat_started", peer: "carol" })
    expect(startedCarol).toMatchObject({ type: "chat_started", peer: "alice" })
    expect(startedAlice.safety).toMatch(/^\d{5}( \d{5}){11}$/) // two 30-digit fingerprints
    expect(startedAlice.safety).toBe(startedCarol.safety)

    alice.send("hello carol ✓")
    expect(await carol.next()).toEqual({ type: "message", from: "alice", text: "hello carol ✓" })
    carol.send("hi alice")
    expect(await alice.next()).toEqual({ type: "message", from: "carol", text: "hi alice" })
    carol.send("!!not a command")
    expect(await alice.next()).toEqual({ type: "message", from: "carol", text: "!not a command" })

    bob.send("!request carol")
    expect(await bob.next()).toEqual({ type: "request_sent", to: "carol" })
    expect(await bob.next()).toEqual({ type: "not_found", user: "carol", reason: "busy" })

    alice.send("!quit")
    expect(await alice.next()).toEqual({ type: "chat_ended", peer: "carol" })
    expect(await carol.next()).toEqual({ type: "peer_left", peer: "alice", reason: "left" })

    bob.send("!request carol")
    expect(await bob.next()).toEqual({ type: "request_sent", to: "carol" })
    expect(await carol.next()).toEqual({ type: "request", from: "bob" })
    bob.send("!cancel")
    expect(await bob.next()).toEqual({ type: "request_cancelled", to: "carol" })
    expect(await carol.next()).toEqual({ type: "peer_left", peer: "bob", reason: "withdrawn" })

    alice.send("!request bob")
    expect(await alice.next()).toEqual({ type: "request_sent", to: "bob" })
    expect(await bob.next()).toEqual({ type: "request", from: "alice" })
    bob.send("!accept")
    expect(await alice.next()).toMatchObject({ type: "chat_started", peer: "bob" })
    expect(await bob.next()).toMatchObject({ type: "chat_started", peer: "alice" })
    bob.kill()
    // bob's process died: no goodbye came, so alice is warned that his last messages may be lost.
    expect(await alice.next()).toMatchObject({ type: "messages_lost", peer: "bob", sent: null, received: 0 })
    expect(await alice.next()).toEqual({ type: "peer_left", peer: "bob", reason: "disconnected" })

    alice.send("!quit")
    expect(await alice.next()).toEqual({ type: "closed", reason: "quit" })
    expect(await alice.exit).toBe(0)
    carol.endInput()
    expect(await carol.next("closed")).toEqual({ type: "closed", reason: "quit" })
    expect(await carol.exit).toBe(0)
    for (const c of [alice, carol]) expect(c.garbage).toEqual([])
  })

  it("commands that make no sense now are answered with an error event", async () => {
    const carol = client("carol")
    await carol.next("ready")
    carol.send("hello?")
    expect(await carol.next()).toMatchObject({ type: "error", code: "not_in_chat" })
    carol.send("!accept")
    expect(await carol.next()).toMatchObject({ type: "error", code: "no_request" })
    carol.send("!frobnicate")
    expect(await carol.next()).toMatchObject({ type: "error", code: "unknown_command" })
    carol.send("!request ../etc")
    expect(await carol.next()).toMatchObject({ type: "error", code: "usage" })
    carol.send("!request carol")
    expect(await carol.next()).toEqual({ type: "not_found", user: "carol", reason: "yourself" })
    carol.send("!quit")
    expect(await carol.next()).toEqual({ type: "closed", reason: "quit" })
    expect(await carol.exit).toBe(0)
  })

  it("a wrong passphrase fails the login with one sentence and a non-zero status", async () => {
    const bob = client("bob", { ONECHAT_PASSPHRASE: "wrong" })
    const error = await bob.next()
    expect(error).toMatchObject({ type: "error", code: "login_failed" })
    expect(String(error.message)).toMatch(/passphrase/i)
    expect(await bob.next()).toEqual({ type: "closed", reason: "login_failed" })
    expect(await bob.exit).toBe(2)
  })

  it("a user with no key in the folder cannot log in", async () => {
    const dave = client("dave")
    expect(await dave.next()).toMatchObject({ type: "error", code: "login_failed" })
    expect(await dave.next()).toEqual({ type: "closed", reason: "login_failed" })
    expect(await dave.exit).toBe(2)
  })

  it("takes the passphrase from --passphrase-file", async () => {
    const file = join(dir, "..", "bob.pass") // beside the data folder, removed with it
    await writeFile(file, `${PASSPHRASE}\n`, { mode: 0o600 })
    const bob = client("bob", { ONECHAT_PASSPHRASE: "" }, ["--passphrase-file", file])
    expect(await bob.next()).toMatchObject({ type: "ready", user: "bob" })
    bob.send("!quit")
    expect(await bob.exit).toBe(0)
  })
})
