/**
 * A raw onechat client for adversarial tests, built from the pure login steps (1.0–1.2) and the
 * record channel: every step is explicit (so a test can stop or die between any two), the
 * application channel is exposed (so a test can seal ARBITRARY plaintext in a valid record), and
 * everything received is kept (ALERT, opened messages, records that failed to open). Test-only.
 */
import { connect, type Socket } from "node:net"
import { Result } from "effect"
import {
  type ClientHandshakeDone,
  type ClientHelloSent,
  type ClientKeysAgreed,
  clientReceiveServerAuth,
  clientReceiveServerHello,
  type LoginIdentity,
  startClientHandshake,
} from "../../src/crypto/handshake-client.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import {
  type Alert,
  type ClientMessage,
  decodeAlert,
  decodeServerMessages,
  encodeClientMessage,
  FrameDecoder,
  FrameType,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import { NOW, type TestPki } from "../pki.ts"

export interface RawClientOptions {
  readonly port: number
  /** Source address (any of 127.0.0.0/8 on Linux): per-address limits see each as a new host. */
  readonly localAddress?: string
  readonly pki: Pick<TestPki, "caCertificateDer">
  readonly identity: LoginIdentity
  /** The clock for certificate validity; default the test PKI's NOW. */
  readonly now?: Date
}

type Phase =
  | { readonly name: "hello"; readonly sent: ClientHelloSent }
  | { readonly name: "auth"; readonly agreed: ClientKeysAgreed }
  | { readonly name: "keys"; readonly done: ClientHandshakeDone }
  | { readonly name: "broken" }

interface Waiter {
  readonly condition: () => boolean
  readonly resolve: () => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

export class RawClient {
  readonly socket: Socket
  /** Every frame body received, copied, in order. */
  readonly frames: Uint8Array[] = []
  /** Messages of the server's application records, in order. */
  readonly messages: ServerMessage[] = []
  /** Why a server frame could not be handled (an honest server leaves this empty). */
  readonly breaches: string[] = []
  alert: Alert | undefined
  /** Resolves when the socket has closed (whoever closed it). */
  readonly closed: Promise<void>
  isClosed = false
  readonly #options: RawClientOptions
  readonly #decoder = new FrameDecoder()
  readonly #waiters: Waiter[] = []
  #phase: Phase
  #taken = 0

  private constructor(socket: Socket, options: RawClientOptions) {
    this.socket = socket
    this.#options = options
    this.#phase = { name: "hello", sent: startClientHandshake(systemRandom) }
    socket.setNoDelay(true)
    socket.on("error", () => {})
    socket.on("data", (chunk: Buffer) => this.#onData(chunk))
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.isClosed = true
        this.#wake()
        resolve()
      }),
    )
  }

  /** Opens the TCP connection (nothing is sent). */
  static connect(options: RawClientOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: "127.0.0.1",
        port: options.port,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      })
      const client = new RawClient(socket, options)
      socket.once("connect", () => resolve(client))
      socket.once("error", reject)
    })
  }

  /** Message 1.0 (the real one unless `frame` replaces it). */
  sendHello(frame?: Uint8Array): void {
    const phase = this.#phase
    this.write(frame ?? (phase.name === "hello" ? phase.sent.frame : new Uint8Array(0)))
  }

  /** Resolves once SERVER_HELLO and the server's authentication record were verified. */
  awaitServerAuth(timeoutMs = 5_000): Promise<void> {
    return this.until(() => this.#phase.name === "keys", "the server's authentication (1.1)", timeoutMs)
  }

  /** Message 1.2. */
  sendClientAuth(): void {
    this.write(this.#done().frame)
  }

  /** Resolves with the 1.3 LIST. */
  async awaitWelcome(timeoutMs = 5_000): Promise<ServerMessage> {
    return this.next(() => true, timeoutMs)
  }

  /** The whole login: 1.0, 1.1 checked, 1.2, 1.3 received. */
  async login(timeoutMs = 5_000): Promise<ServerMessage> {
    this.sendHello()
    await this.awaitServerAuth(timeoutMs)
    this.sendClientAuth()
    const welcome = await this.awaitWelcome(timeoutMs)
    if (welcome.type !== "List") throw new Error(`login refused: ${JSON.stringify(welcome)}`)
    return welcome
  }

  /** A complete RECORD frame carrying `plaintext` as is, sealed with the client's application key. */
  seal(plaintext: Uint8Array): Uint8Array {
    return Result.getOrThrow(this.#done().channel.sealer.seal(plaintext))
  }

  sendPlaintext(plaintext: Uint8Array): void {
    this.write(this.seal(plaintext))
  }

  /** Encodes `messages` into one record and sends it. */
  send(...messages: ReadonlyArray<ClientMessage>): void {
    this.sendPlaintext(Uint8Array.from(Buffer.concat(messages.map(encodeClientMessage))))
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable && bytes.length > 0) this.socket.write(bytes)
  }

  /** Half-closes: nothing more is sent; the server's answer can still be read. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end()
  }

  /** Waits for the server to close; after `patienceMs` half-closes first (a stream that just stops). */
  async awaitServerClose(patienceMs: number, timeoutMs = 5_000): Promise<void> {
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, patienceMs))])
    this.end()
    await this.until(() => this.isClosed, "the server closes the connection", timeoutMs)
  }

  /** Dies: "destroy" closes with a FIN and stops reading, "reset" aborts with a TCP RST. */
  kill(mode: "destroy" | "reset" = "destroy"): void {
    if (mode === "reset" && !this.socket.destroyed) this.socket.resetAndDestroy()
    else this.socket.destroy()
  }

  /** The first message after the last one taken that matches (earlier ones are passed over), waiting if needed. */
  async next(predicate: (message: ServerMessage) => boolean, timeoutMs = 5_000): Promise<ServerMessage> {
    let found: ServerMessage | undefined
    await this.until(
      () => {
        const index = this.messages.findIndex((m, i) => i >= this.#taken && predicate(m))
        if (index < 0) return false
        found = this.messages[index]!
        this.#taken = index + 1
        return true
      },
      "an awaited server message",
      timeoutMs,
    )
    return found!
  }

  /** Resolves once `condition` holds; rejects after `timeoutMs`, or on close if it still fails. */
  until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        condition,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          reject(new Error(`${what}: not within ${timeoutMs} ms (${this.#describe()})`))
        }, timeoutMs),
      }
      this.#waiters.push(waiter)
      if (this.isClosed) this.#wake()
    })
  }

  #describe(): string {
    const alert = this.alert === undefined ? "" : ` alert ${this.alert.code}`
    return `${this.frames.length} frames, ${this.messages.length} messages${alert}, closed ${this.isClosed}`
  }

  #done(): ClientHandshakeDone {
    if (this.#phase.name !== "keys") throw new Error(`no application keys yet (phase ${this.#phase.name})`)
    return this.#phase.done
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      const done = waiter.condition()
      if (!done && !this.isClosed) continue
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
      clearTimeout(waiter.timer)
      if (done) waiter.resolve()
      else waiter.reject(new Error(`the connection closed first (${this.#describe()})`))
    }
  }

  #onData(chunk: Buffer): void {
    const frames = this.#decoder.push(chunk)
    if (Result.isFailure(frames)) this.breaches.push(frames.failure.message)
    else for (const body of frames.success) this.#onFrame(Uint8Array.from(body))
    this.#wake()
  }

  #onFrame(body: Uint8Array): void {
    this.frames.push(body)
    const phase = this.#phase
    if (body[0] === FrameType.Alert) {
      const alert = decodeAlert(body)
      if (Result.isSuccess(alert)) this.alert = alert.success
      else this.breaches.push(alert.failure.message)
      return
    }
    if (phase.name === "hello") {
      const agreed = clientReceiveServerHello(phase.sent, body)
      this.#phase = Result.isSuccess(agreed) ? { name: "auth", agreed: agreed.success } : this.#broken(agreed)
    } else if (phase.name === "auth") {
      const { pki, identity } = this.#options
      const now = this.#options.now ?? NOW
      const trust = { caCertificateDer: pki.caCertificateDer, now, expectedServerName: "localhost" }
      const done = clientReceiveServerAuth(phase.agreed, body, trust, identity)
      this.#phase = Result.isSuccess(done) ? { name: "keys", done: done.success } : this.#broken(done)
    } else if (phase.name === "keys") {
      const plaintext = phase.done.channel.opener.open(body)
      if (Result.isFailure(plaintext)) return void this.breaches.push(plaintext.failure.message)
      const messages = decodeServerMessages(plaintext.success)
      if (Result.isFailure(messages)) return void this.breaches.push(messages.failure.message)
      this.messages.push(...messages.success)
    } else {
      this.breaches.push("a frame after a failed login step")
    }
  }

  #broken(result: Result.Failure<unknown, Error>): Phase {
    this.breaches.push(result.failure.message)
    return { name: "broken" }
  }
}

/** Connects and logs in completely. */
export const rawLogin = async (options: RawClientOptions): Promise<RawClient> => {
  const client = await RawClient.connect(options)
  try {
    await client.login()
    return client
  } catch (error) {
    client.kill()
    throw error
  }
}
