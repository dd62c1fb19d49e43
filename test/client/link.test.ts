/**
 * ClientLink against a tiny fake server on real TCP (127.0.0.1, free port), built from the
 * server-side handshake steps: login, batching, PING/PONG, refused logins, ALERTs, timeouts,
 * tampered records, fatal errors and wrong trust anchors. docs/protocol.md §2–§7.
 */
import { createHash } from "node:crypto"
import { createServer, type Server, type Socket } from "node:net"
import { Result } from "effect"
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { type ClientLink, connectLink, LinkError, type LinkOptions } from "../../src/client/link.ts"
import type { LoginIdentity } from "../../src/crypto/handshake-client.ts"
import {
  type ServerAwaitingClientAuth,
  serverOpenClientAuth,
  serverReceiveClientHello,
  serverVerifyClient,
} from "../../src/crypto/handshake-server.ts"
import { generateIdentity } from "../../src/crypto/identity.ts"
import type { RecordChannel } from "../../src/crypto/record.ts"
import {
  type ClientMessage,
  decodeClientMessages,
  ErrorCode,
  encodeAlert,
  encodeFrame,
  encodeServerMessage,
  FrameDecoder,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import { makeTestPki, NOW, type TestPki } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

const alice: LoginIdentity = { name: "alice", key: generateIdentity(seededRandom("alice")) }
const WELCOME = { type: "List", total: 3, names: ["bob", "carol"] } as const

/** One client connection as the fake server sees it. */
class FakeConnection {
  /** Decoded messages of every application record received, one array per record. */
  readonly records: ClientMessage[][] = []
  /** Frames after login that failed to open or decode. */
  readonly rejected: string[] = []
  channel: RecordChannel | undefined
  readonly #waiters: Array<() => boolean> = []

  constructor(readonly socket: Socket) {}

  /** One sealed RECORD frame carrying `messages`. */
  seal(...messages: ReadonlyArray<ServerMessage>): Uint8Array {
    return Result.getOrThrow(this.channel!.sealer.seal(Buffer.concat(messages.map(encodeServerMessage))))
  }

  /** Seals `messages` into one record and writes it. */
  send(...messages: ReadonlyArray<ServerMessage>): void {
    this.socket.write(this.seal(...messages))
  }

  received(messages: ReadonlyArray<ClientMessage>): void {
    this.records.push([...messages])
    for (let i = this.#waiters.length - 1; i >= 0; i--) if (this.#waiters[i]!()) this.#waiters.splice(i, 1)
  }

  /** Resolves once `count` records (in total) have arrived. */
  receivedRecords(count: number): Promise<ReadonlyArray<ReadonlyArray<ClientMessage>>> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.records.length < count) return false
        resolve(this.records)
        return true
      }
      if (!check()) this.#waiters.push(check)
    })
  }
}

interface FakeServerOptions {
  /** What to do with CLIENT_HELLO: answer normally, send an ALERT, or say nothing. */
  readonly hello?: "answer" | "alert" | "silent"
  /** Refuse the login with this fatal ERROR code in place of 1.3. */
  readonly refuse?: ErrorCode
  /** Sends 1.3 (and whatever else); default: one record with WELCOME. */
  readonly welcome?: (connection: FakeConnection) => void
  /** Answers each application record; default: PING → PONG with the same value. */
  readonly onRecord?: (connection: FakeConnection, messages: ReadonlyArray<ClientMessage>) => void
}

interface FakeServer {
  readonly port: number
  readonly connections: FakeConnection[]
  /** Resolves with the first connection once its login has been verified (or refused). */
  readonly loggedIn: Promise<FakeConnection>
}

vi.setConfig({ testTimeout: 5_000, hookTimeout: 5_000 })

let pki: TestPki
const servers: Server[] = []
const sockets = new Set<Socket>()
const links: ClientLink[] = []

beforeAll(async () => {
  pki = await makeTestPki()
})

afterEach(async () => {
  for (const link of links.splice(0)) link.close()
  for (const socket of sockets) socket.destroy()
  sockets.clear()
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

const echoPing = (connection: FakeConnection, messages: ReadonlyArray<ClientMessage>): void => {
  for (const message of messages) {
    if (message.type === "Ping") connection.send({ type: "Pong", value: message.value })
  }
}

const openRecord = (channel: RecordChannel, body: Uint8Array): ReadonlyArray<ClientMessage> | string => {
  const plaintext = channel.opener.open(body)
  if (Result.isFailure(plaintext)) return plaintext.failure.message
  const messages = decodeClientMessages(plaintext.success)
  return Result.isFailure(messages) ? messages.failure.message : messages.success
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => {
    servers.push(server)
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.setNoDelay(true)
      socket.on("error", () => {})
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })
  })

const startFakeServer = async (options: FakeServerOptions = {}): Promise<FakeServer> => {
  const connections: FakeConnection[] = []
  let markLoggedIn: (connection: FakeConnection) => void = () => {}
  const loggedIn = new Promise<FakeConnection>((resolve) => {
    markLoggedIn = resolve
  })
  const server = createServer((socket) => {
    const decoder = new FrameDecoder()
    let phase: "hello" | "auth" | "app" | "done" = "hello"
    let awaiting: ServerAwaitingClientAuth | undefined
    const connection = new FakeConnection(socket)
    connections.push(connection)
    const receive = (body: Uint8Array): void => {
      if (phase === "hello") {
        if (options.hello === "silent") return
        if (options.hello === "alert") {
          phase = "done"
          socket.end(encodeFrame(encodeAlert({ code: ErrorCode.ServerBusy, text: "Too many connections" })))
          return
        }
        awaiting = Result.getOrThrow(serverReceiveClientHello(body, pki.server, seededRandom("server")))
        socket.write(Buffer.concat(awaiting.frames))
        phase = "auth"
      } else if (phase === "auth") {
        const pending = Result.getOrThrow(serverOpenClientAuth(awaiting!, body))
        connection.channel = pending.channel
        if (options.refuse !== undefined) {
          phase = "done"
          socket.end(
            connection.seal({ type: "Error", code: options.refuse, fatal: true, text: "unknown user" }),
          )
        } else {
          Result.getOrThrow(serverVerifyClient(pending, alice.key.publicKey))
          phase = "app"
          ;(options.welcome ?? ((c) => c.send(WELCOME)))(connection)
        }
        markLoggedIn(connection)
      } else if (phase === "app") {
        const opened = openRecord(connection.channel!, body)
        if (typeof opened === "string") {
          connection.rejected.push(opened)
          return
        }
        connection.received(opened)
        ;(options.onRecord ?? echoPing)(connection, opened)
      }
    }
    socket.on("data", (chunk: Buffer) => {
      const frames = decoder.push(chunk)
      if (Result.isSuccess(frames)) for (const body of frames.success) receive(body)
    })
  })
  const port = await listen(server)
  return { port, connections, loggedIn }
}

const options = (port: number, overrides: Partial<LinkOptions> = {}): LinkOptions => ({
  host: "127.0.0.1",
  port,
  serverName: "localhost",
  trust: { caCertificateDer: pki.caCertificateDer },
  identity: alice,
  now: () => NOW,
  connectTimeoutMs: 2_000,
  ...overrides,
})

const connect = async (port: number, overrides: Partial<LinkOptions> = {}): Promise<ClientLink> => {
  const link = await connectLink(options(port, overrides))
  links.push(link)
  return link
}

const linkError = async (promise: Promise<unknown>): Promise<LinkError> => {
  const outcome = await promise.then(
    (link) => {
      links.push(link as ClientLink)
      return new Error("expected connectLink to fail")
    },
    (error: unknown) => error,
  )
  if (!(outcome instanceof LinkError)) throw outcome
  return outcome
}

describe("ClientLink login", () => {
  it("logs in and exposes the 1.3 LIST as welcome", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    expect(link.user).toBe("alice")
    expect(link.welcome).toEqual({ total: 3, names: ["bob", "carol"] })
    expect(link.server.subject).toContain("localhost")
  })

  it("exposes the server certificate's subject, names and SHA-256 fingerprint (OpenSSL's format)", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    expect({ subject: link.server.subject, names: link.server.hostNames }).toEqual({
      subject: "CN=localhost",
      names: ["localhost", "127.0.0.1"],
    })
    expect(link.server.fingerprint).toBe(
      createHash("sha256")
        .update(pki.server.certificateDer)
        .digest("hex")
        .toUpperCase()
        .match(/../g)!
        .join(":"),
    )
  })

  it("delivers messages that arrive in the same write as 1.3, and answers their PING", async () => {
    const server = await startFakeServer({
      welcome: (c) =>
        c.socket.write(
          Buffer.concat([c.seal(WELCOME, { type: "Pong", value: 1n }), c.seal({ type: "Ping", value: 2n })]),
        ),
    })
    const link = await connect(server.port)
    expect(await link.next()).toEqual({ type: "Pong", value: 1n })
    expect(await link.next()).toEqual({ type: "Ping", value: 2n })
    const connection = await server.loggedIn
    expect(await connection.receivedRecords(1)).toEqual([[{ type: "Pong", value: 2n }]])
  })

  it("rejects with LoginRefused and the code when the server answers 1.2 with a fatal ERROR", async () => {
    const server = await startFakeServer({ refuse: ErrorCode.LoginFailed })
    const error = await linkError(connectLink(options(server.port)))
    expect(error.reason).toBe("LoginRefused")
    expect(error.code).toBe(20)
    expect(error.message).toContain(
      "The server refused the login: it does not accept this user name with this key. It does not say why",
    )
  })

  it("rejects with Alert when a plaintext ALERT replaces SERVER_HELLO", async () => {
    const server = await startFakeServer({ hello: "alert" })
    const error = await linkError(connectLink(options(server.port)))
    expect(error.reason).toBe("Alert")
    expect(error.code).toBe(ErrorCode.ServerBusy)
    expect(error.message).toBe(
      "The server (or someone on the path) closed the connection: Too many connections.",
    )
  })

  it("rejects with ConnectionRefused on a closed port", async () => {
    const server = createServer()
    const port = await listen(server)
    await new Promise((resolve) => server.close(resolve))
    servers.splice(servers.indexOf(server), 1)
    const error = await linkError(connectLink(options(port)))
    expect(error.reason).toBe("ConnectionRefused")
    expect(error.message).toBe(`Could not connect to 127.0.0.1:${port}: connection refused.`)
  })

  it("rejects with Timeout within connectTimeoutMs when the server says nothing", async () => {
    const server = await startFakeServer({ hello: "silent" })
    const started = performance.now()
    const error = await linkError(connectLink(options(server.port, { connectTimeoutMs: 300 })))
    const elapsed = performance.now() - started
    expect(error.reason).toBe("Timeout")
    expect(error.message).toContain("did not complete within 300 ms")
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(1_500)
  })

  it("rejects with Handshake when the server's certificate is not from the trusted CA", async () => {
    const server = await startFakeServer()
    const other = await makeTestPki("other")
    const error = await linkError(
      connectLink(options(server.port, { trust: { caCertificateDer: other.caCertificateDer } })),
    )
    expect(error.reason).toBe("Handshake")
    expect(error.message).toContain("certificate is not trusted")
    expect(error.message).toContain("not issued by the trusted onechat CA")
  })

  it("rejects with Handshake when the certificate does not name the dialled server", async () => {
    const server = await startFakeServer()
    const error = await linkError(connectLink(options(server.port, { serverName: "chat.example" })))
    expect(error.reason).toBe("Handshake")
    // The sentence says which names the certificate does carry (src/crypto/pki-error.ts).
    expect(error.message).toContain('does not name "chat.example": it is valid for localhost, 127.0.0.1 only')
  })

  it("rejects with Closed when the server hangs up during login", async () => {
    const server = createServer((socket) => socket.end())
    const port = await listen(server)
    const error = await linkError(connectLink(options(port)))
    expect(error.reason).toBe("Closed")
    expect(error.message).toBe("The server closed the connection during login.")
  })

  it("rejects with Protocol when the server sends garbage in place of SERVER_HELLO", async () => {
    const server = createServer((socket) => socket.write(encodeFrame(Uint8Array.of(0x42, 1, 2))))
    const port = await listen(server)
    const error = await linkError(connectLink(options(port)))
    expect(error.reason).toBe("Protocol")
    expect(error.message).toMatch(/^The server broke the onechat protocol: /)
  })
})

describe("ClientLink after login", () => {
  it("sends messages and receives the server's answers", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    link.send({ type: "Ping", value: 42n })
    expect(await link.next((m) => m.type === "Pong")).toEqual({ type: "Pong", value: 42n })
  })

  it("packs every message queued in one tick into one record, and later ticks into new records", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    link.send({ type: "List" })
    link.send({ type: "Ping", value: 1n }, { type: "Ping", value: 2n })
    link.send({ type: "Notify", peer: "bob" })
    await connection.receivedRecords(1)
    link.send({ type: "Ping", value: 3n })
    const records = await connection.receivedRecords(2)
    expect(records.map((record) => record.map((m) => m.type))).toEqual([
      ["List", "Ping", "Ping", "Notify"],
      ["Ping"],
    ])
  })

  it("answers a server PING with a PONG of the same value and also delivers the PING", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    const value = 0xfedc_ba98_7654_3210n
    connection.send({ type: "Ping", value })
    expect(await connection.receivedRecords(1)).toEqual([[{ type: "Pong", value }]])
    expect(await link.next()).toEqual({ type: "Ping", value })
  })

  it("closes with reason protocol on a tampered record and delivers nothing from it", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const delivered: ServerMessage[] = []
    link.onMessage((message) => delivered.push(message))
    const connection = await server.loggedIn
    const frame = connection.seal({ type: "Ping", value: 7n })
    frame[frame.length - 1]! ^= 0x01
    connection.socket.write(frame)
    const closed = await link.closed
    expect(closed.reason).toBe("protocol")
    expect(closed).toMatchObject({ message: expect.stringContaining("tampering") })
    expect(delivered).toEqual([])
    expect(connection.records).toEqual([]) // no PONG went out for the forged PING
  })

  it("closes with reason server-error and the code after a fatal ERROR", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    connection.send({ type: "Error", code: ErrorCode.ShuttingDown, fatal: true, text: "Bye" })
    connection.socket.end()
    expect(await link.closed).toEqual({ reason: "server-error", code: 13, text: "Bye" })
    expect(await link.next()).toMatchObject({ type: "Error", code: 13, fatal: true })
  })

  it("keeps going after a non-fatal ERROR", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    connection.send({ type: "Error", code: ErrorCode.IllegalState, fatal: false, text: "" })
    expect(await link.next()).toMatchObject({ type: "Error", code: ErrorCode.IllegalState })
    link.send({ type: "Ping", value: 5n })
    expect(await link.next()).toEqual({ type: "Pong", value: 5n })
  })

  it("closes with reason eof when the server hangs up, and next() then rejects with Closed", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const waiting = link.next(undefined, 2_000)
    ;(await server.loggedIn).socket.end()
    expect(await link.closed).toEqual({ reason: "eof" })
    await expect(waiting).rejects.toMatchObject({ _tag: "LinkError", reason: "Closed" })
  })

  it("close({ quit: true }) sends QUIT, flushes what was queued, and ends with reason local", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    link.send({ type: "List" })
    link.close({ quit: true })
    link.close()
    link.send({ type: "Ping", value: 1n }) // dropped silently
    expect(await link.closed).toEqual({ reason: "local" })
    expect(connection.records).toEqual([[{ type: "List" }, { type: "Quit" }]])
  })

  it("next() times out with LinkError Timeout", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    await expect(link.next(undefined, 50)).rejects.toMatchObject({ reason: "Timeout" })
  })

  it("writeRaw bypasses encryption (the server cannot open the bytes)", async () => {
    const server = await startFakeServer()
    const link = await connect(server.port)
    const connection = await server.loggedIn
    link.writeRaw(encodeFrame(Uint8Array.of(0x17, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, ...new Uint8Array(17))))
    link.send({ type: "List" })
    await expect.poll(() => connection.rejected.length).toBe(1)
  })
})
