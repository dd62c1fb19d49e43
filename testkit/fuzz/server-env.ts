/**
 * The environment of the server fuzz targets: an in-process server with generous admission
 * limits, the legitimate pair chatting throughout, and the health check run after every case
 * (connections back to the baseline, the pair still chatting, no stray process faults). Test-only.
 */
import { login } from "../chat.ts"
import { startTestServer, type TestServer } from "../server.ts"
import { type LatencyReport, type PairProbe, startPairProbe } from "./pair-probe.ts"
import type { RawClientOptions } from "./raw-client.ts"
import { type ProcessFaults, waitUntil } from "./runner.ts"

export const FUZZ_USER = "mallory"

export interface ServerFuzzEnv {
  readonly server: TestServer
  readonly probe: PairProbe
  readonly faults: ProcessFaults
  /** Options of a raw client logging in as the fuzz user. */
  readonly mallory: RawClientOptions
  /** Connections open between cases (the pair). */
  readonly baseline: number
  /**
   * After a case: the connection count returns to the baseline, the pair is still chatting, no
   * stray process fault appeared; with `freshLogin`, a new login works too.
   */
  healthy(options?: { readonly freshLogin?: boolean }): Promise<void>
  /** Stops the pair and the server; reports the pair's latency. */
  stop(): Promise<LatencyReport>
}

export const startServerFuzzEnv = async (faults: ProcessFaults): Promise<ServerFuzzEnv> => {
  const server = await startTestServer({
    users: ["alice", "bob", FUZZ_USER],
    config: { maxConnections: 10_000, maxHandshakesPerAddress: 10_000 },
    limits: { handshakeTimeoutMs: 3_000 },
  })
  const probe = await startPairProbe(server)
  const baseline = server.server.connectionCount()
  const faultsAtStart = faults.unhandledRejections + faults.uncaughtExceptions
  const healthy = async (options: { readonly freshLogin?: boolean } = {}): Promise<void> => {
    await waitUntil(() => server.server.connectionCount() === baseline, "connections back to the baseline")
    const failure = probe.snapshot().failure
    if (failure !== undefined) throw new Error(`the legitimate pair stopped chatting: ${failure}`)
    if (faults.unhandledRejections + faults.uncaughtExceptions !== faultsAtStart) {
      throw new Error(`process fault: ${faults.samples.join("; ")}`)
    }
    if (options.freshLogin !== true) return
    const link = await login(server, FUZZ_USER)
    link.close({ quit: true })
    await link.closed
    await waitUntil(() => server.server.connectionCount() === baseline, "the fresh login's connection closed")
  }
  return {
    server,
    probe,
    faults,
    mallory: {
      port: server.port,
      pki: server.pki,
      identity: { name: FUZZ_USER, key: server.users.get(FUZZ_USER)! },
    },
    baseline,
    healthy,
    stop: async () => {
      const report = await probe.stop()
      await server.stop()
      return report
    },
  }
}
