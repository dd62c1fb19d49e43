/**
 * Key tooling end to end, through real processes: a changed peer key blocks the chat until the
 * user runs !trust (on both sides of a request), a revoked user is refused at login with a clear
 * sentence, and so is a private key file that other users may read.
 */
import { chmod, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  generateIdentity,
} from "../../src/crypto/identity.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { addUser, revokeUser } from "../../src/store/dev-users.ts"
import { type DevelopmentServer, type JsonClient, startDevelopmentServer } from "../../testkit/processes.ts"

const PASSPHRASE = "pinning test passphrase"
let dir: string
let world: DevelopmentServer
const client = (...args: Parameters<DevelopmentServer["client"]>) => world.client(...args)

beforeAll(async () => {
  world = await startDevelopmentServer("onechat-keys-", ["alice", "bob", "mallory"], PASSPHRASE)
  dir = world.dir
}, 30_000)

afterAll(() => world.stop())

/** Bob gets a brand-new key, which the CA certifies (as if he reinstalled and asked the operator). */
const replaceBobsKey = async () => {
  const key = generateIdentity(systemRandom)
  await Effect.runPromise(revokeUser({ dir, name: "bob" }))
  await Effect.runPromise(addUser({ dir, name: "bob", publicKeyPem: exportPublicKeyPem(key.publicKey) }))
  // The cheapest scrypt cost keeps the test fast; the client reads it all the same (with a warning).
  const pem = exportEncryptedPrivateKeyPem(key, PASSPHRASE, { scryptLogN: 10 })
  await writeFile(join(dir, "clients", "bob", "key.pem"), pem, { mode: 0o600 })
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
      verified: false,
    })
    expect(alice.events.slice(seenBefore).some((event) => event.type === "chat_started")).toBe(false)
    alice.send("!trust")
    expect(await alice.next("error")).toMatchObject({ code: "trust_needs_number" })
    alice.send(`!trust ${firstSafety}`) // the number of the old key: nothing is trusted
    expect(await alice.next("error")).toMatchObject({ code: "trust_mismatch" })
    alice.send(`!trust ${changed.safety}`)
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
    const changedAgain = await alice.next("key_changed")
    expect(changedAgain).toMatchObject({ peer: "bob" })
    expect(await alice.next("request")).toEqual({ type: "request", from: "bob" })
    alice.send("!accept")
    expect(await alice.next("error")).toMatchObject({ code: "key_changed" })
    alice.send(`!trust ${changedAgain.safety}`)
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

  it("a private key file that other users may read is refused before any connection", async () => {
    const path = join(dir, "clients", "alice", "key.pem")
    await chmod(path, 0o644)
    try {
      const alice = client("alice")
      expect(await alice.next()).toEqual({
        type: "error",
        code: "login_failed",
        message: `The private key for user "alice" at ${path} has mode 0644: other users may read or change it, so onechat refuses it (as ssh does). Run \`chmod 600 ${path}\` and try again.`,
      })
      expect(await alice.next()).toEqual({ type: "closed", reason: "login_failed" })
      expect(await alice.exit).toBe(2)
    } finally {
      await chmod(path, 0o600)
    }
  })
})
