/**
 * Resource attacks against a server with small limits (64 connections, 8 handshakes per address,
 * 1 s handshake timeout, 256 KiB outbound bound): slowloris, half-open connections, declared
 * lengths at the maximum and beyond, a flood of 500 concurrent hellos, a message flood, clients
 * that never read. Each: the limit holds, heap after GC stays bounded, the legitimate pair keeps
 * chatting throughout, and afterwards a fresh login works and sees no ghost. `npm run attack`
 * runs the same attacks longer and prints the measurements.
 */
import { describe, expect, it } from "vitest"
import type { AttackReport } from "../../testkit/fuzz/attack-harness.ts"
import { halfOpen, handshakeFlood, maxLength, slowloris } from "../../testkit/fuzz/resource-connections.ts"
import { messageFlood, neverReads, requestFlood } from "../../testkit/fuzz/resource-traffic.ts"

/** Heap growth (after GC) that would mean the attack left something behind. */
const LEAK_MIB = 24

const expectHealthy = (report: AttackReport): void => {
  expect(report.broken, report.name).toEqual([])
  expect(report.limitsHeld).toBe(true)
  expect(report.healthyAfter, report.healthNote).toBe(true)
  expect(report.pair.failure).toBeUndefined()
  expect(report.pair.rounds).toBeGreaterThan(0)
  expect(report.memory.heapAfterMiB - report.memory.heapBeforeMiB).toBeLessThan(LEAK_MIB)
  expect(report.cases).toBeGreaterThan(0)
}

// generous: the machine may be shared; each attack bounds its own duration
describe("resource attacks", { timeout: 90_000 }, () => {
  it("slowloris: per-address handshake limit and handshake timeout hold", async () => {
    const report = await slowloris(1_500)
    expectHealthy(report)
    expect(report.rejected).toBe(report.cases)
  })

  it("half-open connections: the connection cap and the handshake timeout hold", async () => {
    const report = await halfOpen(1_000)
    expectHealthy(report)
    expect(report.rejected).toBe(report.cases)
    expect(report.peakConnections).toBeLessThanOrEqual(64)
  })

  it("declared lengths at 65,563 and beyond: checked at the header, buffering bounded", async () => {
    const report = await maxLength(1_000)
    expectHealthy(report)
    expect(report.survived).toBeGreaterThan(0) // the largest legal record, after login
    expect(report.rejected + report.survived).toBe(report.cases)
  })

  it("500 concurrent hellos: both admission limits hold, the pair keeps chatting", async () => {
    const report = await handshakeFlood(500)
    expectHealthy(report)
    expect(report.survived).toBeGreaterThan(0)
    expect(report.peakConnections).toBeLessThanOrEqual(64)
  })

  it("a message flood: relayed without loss, the reader is never cut off", async () => {
    const report = await messageFlood(1_000)
    expectHealthy(report)
    expect(report.survived).toBe(report.cases)
  })

  it("clients that never read are cut off (SLOW_CONSUMER), memory bounded", async () => {
    const report = await neverReads(1_000)
    expectHealthy(report)
    expect(report.rejected).toBe(2)
  })

  // The flooder's replies are counted against the outbound bound as they are queued, and its
  // requests reach its actor EVENTS_PER_TURN at a time (src/net/connection-bridge.ts).
  it("a record packed with LIST requests: the flooder is cut off and the server recovers", async () => {
    const report = await requestFlood(40, 1)
    expectHealthy(report)
    expect(report.rejected).toBe(1)
  })
})
