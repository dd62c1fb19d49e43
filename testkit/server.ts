/**
 * An in-process onechat server on 127.0.0.1 (free port) for integration tests: real TCP, real
 * keys (the test PKI), an in-memory user registry that tests can change while it runs; registered
 * users are answered with an identity certificate the test CA issues for their current key.
 */
import { Effect, Exit, Scope } from "effect"
import { type ConnectionLimits, defaultConnectionLimits } from "../src/actors/connection.machine.ts"
import type { IdentityKeyPair } from "../src/crypto/identity.ts"
import { type Logger, makeLogger, silentLogger } from "../src/net/log.ts"
import { type RunningServer, type ServerConfig, type ServerDeps, serve } from "../src/net/server.ts"
import { makeTestPki, type TestPki, userKey } from "./pki.ts"

export interface TestServer {
  readonly server: RunningServer
  readonly pki: TestPki
  readonly port: number
  /** name → key; edit freely: the server looks names up at every login. */
  readonly users: Map<string, IdentityKeyPair>
  readonly revoked: Set<string>
  stop(): Promise<void>
}

export const testServerConfig = (overrides: Partial<ServerConfig> = {}): ServerConfig => ({
  host: "127.0.0.1",
  port: 0,
  maxConnections: 1_000,
  maxHandshakesPerAddress: 1_000,
  maxOutboundBytes: 4 * 1024 * 1024,
  closeGraceMs: 500,
  shutdownGraceMs: 2_000,
  limits: defaultConnectionLimits,
  ...overrides,
})

export { userKey }

let cachedPki: Promise<TestPki> | undefined

export const startTestServer = async (
  options: {
    readonly users?: ReadonlyArray<string>
    readonly config?: Partial<ServerConfig>
    readonly limits?: Partial<ConnectionLimits>
    readonly log?: Logger | "stderr"
    readonly machine?: ServerDeps["machine"]
    readonly inspect?: ServerDeps["inspect"]
    /** The server's credentials (e.g. stapling another CRL); default: the test PKI's server. */
    readonly credentials?: (pki: TestPki) => Promise<ServerDeps["credentials"]>
  } = {},
): Promise<TestServer> => {
  cachedPki ??= makeTestPki()
  const pki = await cachedPki
  const users = new Map((options.users ?? ["alice", "bob", "carol"]).map((name) => [name, userKey(name)]))
  const revoked = new Set<string>()
  const scope = await Effect.runPromise(Scope.make())
  const log =
    options.log === "stderr" ? makeLogger({ format: "text", level: "debug" }) : (options.log ?? silentLogger)
  const config = testServerConfig({
    ...options.config,
    limits: { ...defaultConnectionLimits, ...options.config?.limits, ...options.limits },
  })
  const server = await Effect.runPromise(
    serve(config, {
      credentials: options.credentials === undefined ? pki.server : await options.credentials(pki),
      log,
      ...(options.machine === undefined ? {} : { machine: options.machine }),
      ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
      lookupUser: async (name) => {
        if (revoked.has(name)) return { status: "revoked" }
        const key = users.get(name)
        if (key === undefined) return { status: "unknown" }
        const certificateDer = await pki.userCertificate(name, key.publicKey)
        return { status: "registered", publicKey: key.publicKey, certificateDer }
      },
    }).pipe(Scope.provide(scope)),
  )
  return {
    server,
    pki,
    port: server.port,
    users,
    revoked,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
