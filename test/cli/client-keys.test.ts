/**
 * Key tooling end to end, through real processes: a changed peer key blocks the chat until the
 * user runs !trust (on both sides of a request), and a revoked user is refused at login with a
 * clear sentence.
 */
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  generateIdentity,
} from "../../src/crypto/identity.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { revokeUser } from "../../src/store/dev-pki.ts"
import { type DevelopmentServer, type JsonClient, startDevelopmentServer } from "../support/processes.ts"

const PASSPHRASE = "pinning test passphrase"
let dir: string
let world: DevelopmentServer
const client = (...args: Parameters<DevelopmentServer["client"]>) => world.client(...args)

beforeAll(async () => {
  world = await startDevelopmentServer("onechat-keys-", ["alice", "bob", "mallory"], PASSPHRASE)
  dir = world.dir
}, 30_000)

afterAll(() => world.stop())

/** Bob gets a brand-new key, registered with the server (as if he reinstalled — or someone lied). */
const replaceBobsKey = async () => {
  const key = generateIdentity(systemRandom)
  await writeFile(join(dir, "users", "bob.pub"), exportPublicKeyPem(key.publicKey))
  await writeFile(join(dir, "clients", "bob", "key.pem"), exportEncryptedPrivateKeyPem(key, PASSPHRASE), {
    mode: 0o600,
  })
}

const chat = async (requester: JsonClient, accepter: JsonClient) => {
  requester.send(`!request ${accepter.name}`)
  await requester.next("request_sent")
  await accepter.next("request")
  accepter.send("!accept")
  const started = [await requester.next("chat_started"), await accepter.next("chat_started")]
  requester.send("!quit")
  await requester.next("chat_ended")
  await accepter.next("peer_left")
  return started[0]!.safety as string
}

describe("pinned keys", { timeout: 60_000 }, () => {
  it("a changed key blocks the chat until !trust, for the requester and the accepter", async () => {
    const alice = client("alice")
    await alice.next("ready")
    let bob = client("bob")
    await bob.next("ready")
    const firstSafety = await chat(alice, bob) // alice pins bob's key, bob pins alice's
    bob.send("!quit")
    await bob.exit

    await replaceBobsKey()
    bob = client("bob")
    await bob.next("ready")

    // alice requests; bob (new key) accepts; alice sees the change and no chat starts
    const seenBefore = alice.events.length
    alice.send("!request bob")
    await bob.next("request")
    bob.send("!accept")
    const changed = await alice.next("key_changed")
    expect(changed).toMatchObject({ type: "key_changed", peer: "bob" })
    expect(changed.safety).not.toBe(firstSafety)
    alice.send("hello?")
    expect(await alice.next("error")).toMatchObject({ code: "key_changed" })
    alice.send("!verify")
    expect(await alice.next("safety")).toEqual({
      type: "safety",
      peer: "bob",
      safety: changed.safety,
      trusted: false,
    })
    expect(alice.events.slice(seenBefore).some((event) => event.type === "chat_started")).toBe(false)
    alice.send("!trust")
    expect(await alice.next("trusted")).toEqual({ type: "trusted", peer: "bob" })
    const aliceStarted = await alice.next("chat_started")
    const bobStarted = await bob.next("chat_started")
    expect(aliceStarted.safety).toBe(changed.safety)
    expect(bobStarted.safety).toBe(changed.safety)
    bob.send("new key, same bob")
    expect(await alice.next("message")).toEqual({ type: "message", from: "bob", text: "new key, same bob" })
    alice.send("!quit")
    await alice.next("chat_ended")
    await bob.next("peer_left")

    // the accepter side: a request from a changed key cannot be accepted before !trust
    await replaceBobsKey()
    bob.send("!quit")
    await bob.exit
    bob = client("bob")
    await bob.next("ready")
    bob.send("!request alice")
    expect(await alice.next("key_changed")).toMatchObject({ peer: "bob" })
    expect(await alice.next("request")).toEqual({ type: "request", from: "bob" })
    alice.send("!accept")
    expect(await alice.next("error")).toMatchObject({ code: "key_changed" })
    alice.send("!trust")
    await alice.next("trusted")
    alice.send("!accept")
    expect(await alice.next("chat_started")).toMatchObject({ peer: "bob" })
    expect(await bob.next("chat_started")).toMatchObject({ peer: "alice" })
  })

  it("a revoked user is refused at login with a clear sentence", async () => {
    await Effect.runPromise(revokeUser({ dir, name: "mallory" }))
    const mallory = client("mallory")
    const error = await mallory.next()
    expect(error).toMatchObject({ type: "error", code: "login_failed" })
    expect(String(error.message)).toMatch(/revoked/i)
    expect(await mallory.next()).toEqual({ type: "closed", reason: "login_failed" })
    expect(await mallory.exit).toBe(2)
  })
})
