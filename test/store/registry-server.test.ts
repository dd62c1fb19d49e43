/**
 * The server wired as `onechat server` wires it (src/cli/server-command.ts): logins looked up through
 * a watched UserRegistry that keeps answers in memory. Real TCP clients on a temporary development
 * PKI show that kept answers never outlive `user revoke` / `user add`: a revoked user is refused at
 * the very next login, a user added after a refused login gets in, a re-registered user logs in
 * with the new key only. The registry's clock runs ahead so that fresh files are kept at once.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type ClientLink, connectLink, LinkError } from "../../src/client/link.ts"
import { exportPublicKeyPem, generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { silentLogger } from "../../src/net/log.ts"
import { serve } from "../../src/net/server.ts"
import { ErrorCode } from "../../src/protocol/index.ts"
import { loadClientKey, loadClientTrust, loadServerCredentials } from "../../src/store/credentials.ts"
import { addUser, createDevelopmentPki, revokeUser } from "../../src/store/dev-pki.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { testServerConfig } from "../support/server.ts"

const PASSPHRASE = "registry server test passphrase"

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

const startServer = async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-registry-server-"))
  const dir = join(folder, "data")
  await Effect.runPromise(createDevelopmentPki({ dir, users: ["alice", "bob"], passphrase: PASSPHRASE }))
  const credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
  const registry = new UserRegistry(dir, { now: () => Date.now() + 10_000 })
  scope = await Effect.runPromise(Scope.make())
  const server = await Effect.runPromise(
    Effect.gen(function* () {
      yield* registry.watch()
      return yield* serve(testServerConfig(), {
        credentials,
        log: silentLogger,
        lookupUser: (name) => registry.lookupUser(name),
      })
    }).pipe(Scope.provide(scope)),
  )
  const trust = await Effect.runPromise(loadClientTrust(dir))
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
  return { dir, registry, login, loginAndLeave }
}

const refusal = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error("expected the login to be refused"),
    (error: unknown) => error,
  )

describe("logins through a watched registry", () => {
  it("refuses a revoked user at the next login, however often they logged in before", async () => {
    const server = await startServer()
    expect(server.registry.cacheActive).toBe(true)
    for (let i = 0; i < 5; i++) await server.loginAndLeave("bob")
    await Effect.runPromise(revokeUser({ dir: server.dir, name: "bob" }))
    const error = await refusal(server.login("bob"))
    expect(error).toBeInstanceOf(LinkError)
    expect(error).toMatchObject({ reason: "LoginRefused", code: ErrorCode.Revoked })
    await server.loginAndLeave("alice")
  })

  it("lets in a user added after a refused login, and only with the key registered now", async () => {
    const server = await startServer()
    const carol = generateIdentity(systemRandom)
    const unknown = await refusal(server.login("carol", carol))
    expect(unknown).toMatchObject({ reason: "LoginRefused", code: ErrorCode.UnknownUser })
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
