/**
 * Timeouts and limits over real sockets: silent and half-sent clients, idle clients, the
 * connection cap, the per-address handshake limit, and a client that never reads (bounded queue,
 * SLOW_CONSUMER, everyone else unaffected).
 */
import { connect, type Socket } from "node:net"
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { ClientLink } from "../../src/client/link.ts"
import { startClientHandshake } from "../../src/crypto/handshake-client.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { decodeAlert, ErrorCode, FrameDecoder, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, hear, login, say } from "../../testkit/chat.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"

let server: TestServer | undefined
const sockets: Socket[] = []
const links: ClientLink[] = []

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const link of links.splice(0)) link.close()
  await server?.stop()
  server = undefined
})

const connectLink = async (name: string) => {
  const link = await login(server!, name)
  links.push(link)
  return link
}

/** A raw TCP client; resolves with what it received (frame bodies) once the server closes. */
const rawClient = (port: number) => {
  const socket = connect(port, "127.0.0.1")
  sockets.push(socket)
  const decoder = new FrameDecoder()
  const frames: Uint8Array[] = []
  socket.on("data", (chunk) => {
    const result = decoder.push(chunk)
    if (Result.isSuccess(result)) frames.push(...result.success.map((frame) => Uint8Array.from(frame)))
  })
  socket.on("error", () => {})
  const ended = new Promise<{ frames: Uint8Array[]; ms: number }>((resolve) => {
    const started = Date.now()
    socket.on("close", () => resolve({ frames, ms: Date.now() - started }))
  })
  return { socket, ended }
}

const alertCode = (frames: ReadonlyArray<Uint8Array>): number | undefined => {
  const alert = frames[0] === undefined ? undefined : decodeAlert(frames[0])
  return alert !== undefined && Result.isSuccess(alert) ? alert.success.code : undefined
}

const waitFor = async (condition: () => boolean, timeoutMs = 3_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("timeouts", () => {
  it("a client silent after TCP connect gets ALERT TIMEOUT and is closed", async () => {
    server = await startTestServer({ limits: { handshakeTimeoutMs: 300 } })
    const { ended } = rawClient(server.port)
    const { frames, ms } = await ended
    expect(alertCode(frames)).toBe(ErrorCode.Timeout)
    expect(ms).toBeLessThan(2_000)
    await waitFor(() => server!.server.connectionCount() === 0)
  })

  it("a half-sent frame does not pin the connection", async () => {
    server = await startTestServer({ limits: { handshakeTimeoutMs: 300 } })
    const { socket, ended } = rawClient(server.port)
    const hello = startClientHandshake(systemRandom).frame
    socket.write(hello.subarray(0, 20))
    const { frames, ms } = await ended
    expect(alertCode(frames)).toBe(ErrorCode.Timeout)
    expect(ms).toBeLessThan(2_000)
  })

  it("an idle client is pinged; one that answers stays, one that does not is closed", async () => {
    server = await startTestServer({ limits: { idlePingMs: 150, idleTimeoutMs: 150 } })
    const alive = await connectLink("alice")
    const silent = await connectLink("bob")
    silent.stopReading()
    await new Promise((resolve) => setTimeout(resolve, 900))
    expect(await expectMessage(alive, "Ping")).toMatchObject({ type: "Ping" })
    alive.send({ type: "List" })
    expect(await expectMessage(alive, "List")).toEqual({ type: "List", total: 0, names: [] })
    expect(server.server.connectionCount()).toBe(1)
  })
})

describe("admission limits", () => {
  it("the connection cap answers ALERT SERVER_BUSY and recovers when a slot frees", async () => {
    server = await startTestServer({ config: { maxConnections: 2 } })
    const first = rawClient(server.port)
    rawClient(server.port)
    await waitFor(() => server!.server.connectionCount() === 2)
    const refused = await rawClient(server.port).ended
    expect(alertCode(refused.frames)).toBe(ErrorCode.ServerBusy)
    first.socket.destroy()
    await waitFor(() => server!.server.connectionCount() === 1)
    const alice = await connectLink("alice")
    expect(alice.welcome.total).toBe(0)
  })

  it("handshakes in flight per address are limited (ALERT RATE_LIMITED)", async () => {
    server = await startTestServer({ config: { maxHandshakesPerAddress: 2 } })
    rawClient(server.port)
    rawClient(server.port)
    await waitFor(() => server!.server.connectionCount() === 2)
    const refused = await rawClient(server.port).ended
    expect(alertCode(refused.frames)).toBe(ErrorCode.RateLimited)
  })

  it("completed logins free their handshake slot", async () => {
    server = await startTestServer({ config: { maxHandshakesPerAddress: 1 } })
    await connectLink("alice")
    await connectLink("bob")
    const carol = await connectLink("carol")
    expect(carol.welcome.names).toEqual(["alice", "bob"])
  })
})

describe("a client that never reads", () => {
  it("is disconnected at the queue bound (SLOW_CONSUMER); its peer is told; other pairs keep chatting", async () => {
    server = await startTestServer({
      users: ["alice", "bob", "carol", "dave"],
      config: { maxOutboundBytes: 256 * 1024 },
    })
    const [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map(connectLink))
    await establishChat(server, alice!, bob!)
    const other = await establishChat(server, carol!, dave!)
    bob!.stopReading()
    const envelope = new Uint8Array(16 * 1024).fill(0x42)
    let sent = 0
    let notified = false
    void expectMessage(alice!, "Notify", 20_000).then((notify) => {
      expect(notify).toMatchObject({ peer: "bob", reason: NotifyReason.Disconnected })
      notified = true
    })
    while (!notified && sent < 20_000) {
      alice!.send({ type: "Message", envelope })
      sent++
      if (sent % 32 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    expect(notified).toBe(true)
    // bounded: the server gave up on bob long before the 320 MB alice could have pushed
    expect(sent).toBeLessThan(20_000)
    say(carol!, other.requester, "still here?")
    expect(await hear(dave!, other.accepter)).toBe("still here?")
    // bob's (paused) socket was closed by the server: only alice, carol and dave remain
    await waitFor(() => server!.server.connectionCount() === 3)
  })
})

describe("a client that packs thousands of requests into its records", () => {
  it("is served in turns: every PONG arrives in order, and another client is answered in between", async () => {
    server = await startTestServer({ users: ["trudy", "alice"] })
    const [trudy, alice] = await Promise.all([connectLink("trudy"), connectLink("alice")])
    const arrivals: string[] = []
    const values: bigint[] = []
    const count = 5_000 // 55,000 bytes: one record, read by the server in one go
    trudy.onMessage((message) => {
      if (message.type !== "Pong") return
      values.push(message.value)
      // alice asks as soon as the server has answered trudy's first turn
      if (values.length === 1) alice.send({ type: "Ping", value: 7n })
      if (values.length === count) arrivals.push("trudy done")
    })
    alice.onMessage((message) => {
      if (message.type === "Pong") arrivals.push("alice")
    })
    trudy.send(...Array.from({ length: count }, (_, i) => ({ type: "Ping" as const, value: BigInt(i) })))
    await waitFor(() => values.length === count && arrivals.includes("alice"))
    expect(values).toEqual(Array.from({ length: count }, (_, i) => BigInt(i)))
    expect(arrivals).toEqual(["alice", "trudy done"])
  })
})
