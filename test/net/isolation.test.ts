/**
 * Supervision: a connection actor that fails (an exception inside it, injected on purpose) is
 * stopped, its socket closed, its peer notified and the fault logged — and every other pair keeps
 * chatting, and new logins keep working.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import type { LogFields, Logger } from "../../src/net/log.ts"
import { ErrorCode, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, hear, login, say } from "../../testkit/chat.ts"
import { forgeRequest } from "../../testkit/lies.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"
import { lyingSupervisor, POISON, poisonedSupervisor } from "../../testkit/supervisors.ts"

const recorded: Array<{ event: string; fields: LogFields }> = []
const recordingLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (event, fields = {}) => recorded.push({ event, fields }),
}

let server: TestServer
const links: ClientLink[] = []
afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  await server.stop()
})

describe("one connection fails", () => {
  it("its peer is notified, its socket closed, the fault logged; others unaffected", async () => {
    server = await startTestServer({
      users: ["alice", "bob", "carol", "dave", "erin"],
      machine: poisonedSupervisor,
      log: recordingLogger,
    })
    const [alice, bob, carol, dave] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map(async (name) => {
        const link = await login(server, name)
        links.push(link)
        return link
      }),
    )
    await establishChat(server, alice!, bob!)
    const healthy = await establishChat(server, carol!, dave!)

    alice!.send({ type: "Message", envelope: new Uint8Array(88).fill(POISON) })
    expect(await expectMessage(bob!, "Notify")).toEqual({
      type: "Notify",
      peer: "alice",
      reason: NotifyReason.Failed,
    })
    expect((await alice!.closed).reason).not.toBe("local")
    expect(recorded.some((entry) => entry.event === "connection.failed")).toBe(true)

    say(carol!, healthy.requester, "unaffected")
    expect(await hear(dave!, healthy.accepter)).toBe("unaffected")
    say(dave!, healthy.accepter, "indeed")
    expect(await hear(carol!, healthy.requester)).toBe("indeed")

    const erin = await login(server, "erin")
    links.push(erin)
    expect(erin.welcome.names).toEqual(["bob"])
  })
})

describe("a message the server cannot encode (a defect)", () => {
  it("ends that connection as INTERNAL, logged; the server keeps serving the others", async () => {
    // The supervisor hands bob a request whose certificate is empty: the encoder refuses it.
    server = await startTestServer({
      users: ["alice", "bob", "carol"],
      machine: lyingSupervisor(
        forgeRequest((incoming) => ({
          ...incoming,
          from: { ...incoming.from, certificate: new Uint8Array(0) },
        })),
      ),
      log: recordingLogger,
    })
    const [alice, bob, carol] = await Promise.all(
      ["alice", "bob", "carol"].map(async (name) => {
        const link = await login(server, name)
        links.push(link)
        return link
      }),
    )
    alice!.send({
      type: "Rtt",
      to: "bob",
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32).fill(9),
      kemKey: new Uint8Array(1184),
    })
    expect(await bob!.closed).toMatchObject({ reason: "server-error", code: ErrorCode.Internal })
    expect(recorded.some((entry) => entry.event === "connection.internal-error")).toBe(true)
    carol!.send({ type: "List" })
    expect((await expectMessage(carol!, "List")).names).toEqual(["alice"])
  })
})
