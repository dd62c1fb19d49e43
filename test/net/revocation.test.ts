/**
 * A running server picks up a new CRL (src/net/revocation-watch.ts): an in-process server on a
 * temporary development folder, real TCP clients; revoking a logged-in user (a new crl.pem in the
 * server folder) disconnects them with ERROR REVOKED within about a second and refuses their next
 * login, and other users stay online. Also covers a CRL copied in by hand (staple updated, a stale
 * or foreign one refused) and revoking a re-registered user.
 *
 * The server is wired as `onechat server` wires it (src/cli/server-command.ts): logins looked up
 * through a watched UserRegistry that keeps answers in memory, whose clock runs ahead so that fresh
 * files are kept at once. Kept answers must never outlive `user revoke` / `user add`.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { type ClientLink, connectLink, type LinkClosed, LinkError } from "../../src/client/link.ts"
import { exportPublicKeyPem, generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { createCertificateAuthority, createCrl, derToPem } from "../../src/crypto/pki.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { makeLogger } from "../../src/net/log.ts"
import { watchRevocations } from "../../src/net/revocation-watch.ts"
import { serve } from "../../src/net/server.ts"
import { ErrorCode } from "../../src/protocol/index.ts"
import { loadClientKey, loadClientTrust, loadServerCredentials } from "../../src/store/credentials.ts"
import { addUser, createDevelopmentPki, revokeUser } from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { testServerConfig } from "../../testkit/server.ts"

const PASSPHRASE = "revocation test passphrase"

const links: ClientLink[] = []
let scope: Scope.Closeable | undefined
let folder: string | undefined
afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  scope = undefined
  if (folder !== undefined) await rm(folder, { recursive: true, force: true })
  folder = undefined
})

/** A development PKI for alice and bob, a server on a free port, and the revocation watch. */
const startServer = async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-revocation-"))
  const dir = join(folder, "data")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice", "bob"],
      passphrase: PASSPHRASE,
      keyFile: { scryptLogN: 10 },
    }),
  )
  const lines: string[] = []
  const log = makeLogger({ format: "json", level: "debug", write: (line) => lines.push(line) })
  let credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
  const stapled: Uint8Array[] = []
  const registry = new UserRegistry(dir, { now: () => Date.now() + 10_000 })
  scope = await Effect.runPromise(Scope.make())
  const server = await Effect.runPromise(
    Effect.gen(function* () {
      yield* registry.watch()
      const running = yield* serve(testServerConfig(), {
        credentials: () => credentials,
        log,
        lookupUser: (name) => registry.lookupUser(name),
      })
      yield* watchRevocations({
        dir,
        supervisor: running.supervisor,
        log,
        pollMs: 200,
        onCrl: (crlDer) => {
          stapled.push(crlDer)
          credentials = { ...credentials, crlDer }
        },
      })
      return running
    }).pipe(Scope.provide(scope)),
  )
  const trust = await Effect.runPromise(loadClientTrust(dir, "alice"))
  const keys = new Map<string, IdentityKeyPair>()
  const login = async (name: string, key?: IdentityKeyPair): Promise<ClientLink> => {
    const identity = {
      name,
      key:
        key ??
        keys.get(name) ??
        (await Effect.runPromise(loadClientKey({ dir, name, passphrase: PASSPHRASE }))),
    }
    keys.set(name, identity.key)
    const link = await connectLink({ host: "127.0.0.1", port: server.port, trust, identity })
    links.push(link)
    return link
  }
  const loginAndLeave = async (name: string, key?: IdentityKeyPair) => {
    const link = await login(name, key)
    link.close()
    await link.closed
  }
  const revoked = () =>
    lines.flatMap((line) => {
      const entry = JSON.parse(line) as { event: string; user?: string }
      return entry.event === "user.revoked" ? [entry.user] : []
    })
  const events = () => lines.map((line) => (JSON.parse(line) as { event: string }).event)
  return { dir, registry, login, loginAndLeave, revoked, stapled, events }
}

/** How `link` ended, or "still open" after `ms`. */
const closedWithin = (link: ClientLink, ms: number): Promise<LinkClosed | "still open"> =>
  Promise.race([
    link.closed,
    new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms)),
  ])

const refusal = (promise: Promise<ClientLink>): Promise<unknown> =>
  promise.then(
    (link) => {
      links.push(link)
      return new Error("expected the login to be refused")
    },
    (error: unknown) => error,
  )

const REVOKED = { reason: "server-error", code: ErrorCode.Revoked }

describe("a running server and revocation", () => {
  it("disconnects a revoked user at once with REVOKED and refuses the next login", async () => {
    const server = await startServer()
    const alice = await server.login("alice")
    const bob = await server.login("bob")

    const started = Date.now()
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))

    expect(await closedWithin(bob, 2_000)).toMatchObject(REVOKED)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await closedWithin(alice, 300)).toBe("still open")
    const error = await refusal(server.login("bob"))
    expect(error).toBeInstanceOf(LinkError)
    expect(error).toMatchObject({ reason: "LoginRefused", code: ErrorCode.LoginFailed })
    expect(server.revoked()).toEqual(["bob"])
  })

  it("staples a CRL copied in by hand from then on, and refuses a stale or foreign one", async () => {
    const server = await startServer()
    await server.loginAndLeave("alice")
    const crlPath = dataLayout(server.dir).crl
    const before = await readFile(crlPath, "utf8")
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))
    const fresh = await readFile(crlPath, "utf8")
    // The watcher may see one write as several events: what counts is the CRL stapled last.
    const stapledLast = () => derToPem(server.stapled.at(-1) ?? new Uint8Array(0), "X509 CRL")
    await vi.waitFor(() => expect(stapledLast()).toBe(fresh), { timeout: 3_000 })
    // An older (but still valid) CRL copied back by hand is taken as it is: the CA signed it.
    await writeFile(crlPath, before)
    await vi.waitFor(() => expect(stapledLast()).toBe(before), { timeout: 3_000 })
    const stapledCount = server.stapled.length
    // A CRL of another CA is refused: the staple stays.
    const other = await createCertificateAuthority({
      commonName: "x",
      now: new Date(),
      validityDays: 1,
      random: systemRandom,
    })
    const foreign = await createCrl({
      ca: other,
      revokedSerials: [],
      thisUpdate: new Date(Date.now() - 60_000),
      nextUpdate: new Date(Date.now() + 86_400_000),
    })
    await writeFile(crlPath, foreign.crlPem)
    await vi.waitFor(() => expect(server.events()).toContain("crl.refused"), { timeout: 3_000 })
    expect(server.stapled).toHaveLength(stapledCount)
    expect(stapledLast()).toBe(before)
    await server.loginAndLeave("alice")
  })

  it("notices a user revoked again after being registered anew", async () => {
    const server = await startServer()
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))
    const newKey = generateIdentity(systemRandom)
    await Effect.runPromise(
      addUser({ dir: server.dir, name: "bob", publicKeyPem: exportPublicKeyPem(newKey.publicKey) }),
    )
    const bob = await server.login("bob", newKey)
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))
    expect(await closedWithin(bob, 2_000)).toMatchObject(REVOKED)
    // Only the online bob was disconnected (and logged); the first revocation found nobody online.
    expect(server.revoked()).toEqual(["bob"])
  })
})

describe("logins through a watched registry", () => {
  it("refuses a revoked user at the next login, however often they logged in before", async () => {
    const server = await startServer()
    expect(server.registry.cacheActive).toBe(true)
    for (let i = 0; i < 5; i++) await server.loginAndLeave("bob")
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))
    const error = await refusal(server.login("bob"))
    expect(error).toBeInstanceOf(LinkError)
    expect(error).toMatchObject({ reason: "LoginRefused", code: ErrorCode.LoginFailed })
    await server.loginAndLeave("alice")
  })

  it("lets in a user added after a refused login, and only with the key registered now", async () => {
    const server = await startServer()
    const carol = generateIdentity(systemRandom)
    const unknown = await refusal(server.login("carol", carol))
    expect(unknown).toMatchObject({ reason: "LoginRefused", code: ErrorCode.LoginFailed })
    await Effect.runPromise(
      addUser({ dir: server.dir, name: "carol", publicKeyPem: exportPublicKeyPem(carol.publicKey) }),
    )
    await server.loginAndLeave("carol", carol)
    await server.loginAndLeave("carol", carol)
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "carol" }))
    const replacement = generateIdentity(systemRandom)
    await Effect.runPromise(
      addUser({ dir: server.dir, name: "carol", publicKeyPem: exportPublicKeyPem(replacement.publicKey) }),
    )
    const oldKey = await refusal(server.login("carol", carol))
    expect(oldKey).toBeInstanceOf(LinkError)
    expect(oldKey).toMatchObject({ reason: "LoginRefused" })
    await server.loginAndLeave("carol", replacement)
  })
})
