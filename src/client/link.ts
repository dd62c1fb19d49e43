/**
 * One client connection to a onechat server at the protocol level: TCP connect, login (1.0–1.3),
 * then sealed records both ways — queued messages batched into one record and one write per tick,
 * PINGs answered automatically. The only client code that touches sockets and record channels;
 * no chat logic, no UI. Never delivers a message from a record that failed to open.
 * docs/protocol.md §2 (framing), §3 (login), §5 (records), §6 (messages), §7 (errors).
 */
import { createConnection, type Socket } from "node:net"
import { Result } from "effect"
import {
  type ClientHandshakeDone,
  type ClientHelloSent,
  type ClientKeysAgreed,
  clientReceiveServerAuth,
  clientReceiveServerHello,
  type LoginIdentity,
  startClientHandshake,
} from "../crypto/handshake-client.ts"
import type { HandshakeError } from "../crypto/handshake-error.ts"
import { wipeHandshakeSecrets } from "../crypto/key-schedule.ts"
import type { VerifiedServerCertificate } from "../crypto/pki-check.ts"
import { type Random, systemRandom, wipe } from "../crypto/primitives.ts"
import { closeRecordChannel, type RecordChannel, sealMessages } from "../crypto/record.ts"
import {
  type ClientMessage,
  decodeAlert,
  decodeServerMessages,
  encodedClientMessageLength,
  expectFrameType,
  FrameDecoder,
  FrameType,
  type ServerMessage,
  writeClientMessage,
} from "../protocol/index.ts"
import { describeLinkClosed, type LinkClosed, LinkError } from "./link-errors.ts"

export { describeLinkClosed, type LinkClosed, LinkError, type LinkErrorReason } from "./link-errors.ts"

export interface LinkOptions {
  readonly host: string
  readonly port: number
  /** Name expected in the server certificate; defaults to host. */
  readonly serverName?: string
  readonly trust: { readonly caCertificateDer: Uint8Array; readonly localCrlDer?: Uint8Array }
  readonly identity: LoginIdentity
  /** Default: the OS CSPRNG. */
  readonly random?: Random
  /** Clock for certificate validity; default `() => new Date()`. */
  readonly now?: () => Date
  /** Bound on TCP connect plus the whole login; default 10,000 ms. */
  readonly connectTimeoutMs?: number
}

export type MessagePredicate = (message: ServerMessage) => boolean

/** A logged-in connection. Every method is safe to call after the link closed (it does nothing). */
export interface ClientLink {
  readonly user: string
  /** The LIST of message 1.3. */
  readonly welcome: { readonly total: number; readonly names: ReadonlyArray<string> }
  /** The server's verified certificate. */
  readonly server: VerifiedServerCertificate
  /**
   * What chat peers' certificates are checked against: the trusted CA, and the CRLs the client holds
   * (the one stapled at login, verified fresh, and the client's own copy).
   */
  readonly peerTrust: { readonly caCertificateDer: Uint8Array; readonly crls: ReadonlyArray<Uint8Array> }
  /** Queues messages; all queued in one tick go out as one record (or as few as fit) in one write. */
  send(...messages: ReadonlyArray<ClientMessage>): void
  /**
   * Installs the handler (replacing any previous one) for every message after 1.3, in order;
   * messages buffered so far are handed to it at once. The handler must not throw.
   */
  onMessage(handler: (message: ServerMessage) => void): void
  /**
   * For tests, while no handler is installed (throws otherwise): the oldest buffered message
   * matching `predicate` (others stay buffered, in order), or the next one to arrive. Rejects with
   * LinkError Timeout after `timeoutMs` (default 5,000), or Closed once the link has ended.
   */
  next<M extends ServerMessage>(
    predicate: (message: ServerMessage) => message is M,
    timeoutMs?: number,
  ): Promise<M>
  next(predicate?: MessagePredicate, timeoutMs?: number): Promise<ServerMessage>
  /** Resolves once, when the connection has ended, with why. Never rejects. */
  readonly closed: Promise<LinkClosed>
  /** Flushes queued messages (after a QUIT if `quit`), then closes. Idempotent. */
  close(options?: { readonly quit?: boolean }): void
  /** Writes bytes to the socket as they are, bypassing encryption (after flushing queued messages). */
  writeRaw(bytes: Uint8Array): void
  /** For tests and load tools: stop reading from the socket for good (a client that never reads). */
  stopReading(): void
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const DEFAULT_NEXT_TIMEOUT_MS = 5_000
/** After a local close, how long the server gets to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 1_000
/** Buffered messages (no handler installed) at which reading pauses: memory stays bounded. */
const BUFFER_HIGH_WATER = 4_096

const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

const socketErrorTexts: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the peer",
  ENOTFOUND: "host name not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  EPIPE: "connection closed by the peer",
}

const socketErrorText = (error: Error): string => {
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined
  return (code === undefined ? undefined : socketErrorTexts[code]) ?? error.message
}

/** Logged in: the application channel, the 1.3 LIST, and any messages that followed it. */
interface LoggedIn {
  readonly done: ClientHandshakeDone
  readonly welcome: { readonly total: number; readonly names: ReadonlyArray<string> }
  readonly rest: ReadonlyArray<ServerMessage>
}

type LoginPhase =
  | { readonly phase: "hello"; readonly sent: ClientHelloSent }
  | { readonly phase: "auth"; readonly agreed: ClientKeysAgreed }
  | { readonly phase: "welcome"; readonly done: ClientHandshakeDone }

const protocolError = (detail: string) => new LinkError({ reason: "Protocol", detail })

/** Malformed or out-of-sequence login messages break the protocol; the rest are security failures. */
const handshakeFailure = (error: HandshakeError): LinkError =>
  error.reason === "Malformed" || error.reason === "UnexpectedMessage"
    ? protocolError(error.message)
    : new LinkError({ reason: "Handshake", detail: error.message })

/** The login steps, one frame body at a time (§3). Holds the secrets until they are handed on or wiped. */
class Login {
  /** Message 1.0, written once the TCP connection is up. */
  readonly helloFrame: Uint8Array
  readonly #options: LinkOptions
  readonly #socket: Socket
  #state: LoginPhase

  constructor(options: LinkOptions, socket: Socket) {
    const sent = startClientHandshake(options.random ?? systemRandom)
    this.helloFrame = sent.frame
    this.#options = options
    this.#socket = socket
    this.#state = { phase: "hello", sent }
  }

  /** Feeds one frame body: undefined (continue), a LinkError (stop), or the completed login. */
  receive(body: Uint8Array): LinkError | LoggedIn | undefined {
    const state = this.#state
    switch (state.phase) {
      case "hello":
        return this.#receiveServerHello(state.sent, body)
      case "auth":
        return this.#receiveServerAuth(state.agreed, body)
      case "welcome":
        return this.#receiveWelcome(state.done, body)
    }
  }

  /** Wipes whatever secret the login still holds (on failure). */
  wipe(): void {
    const state = this.#state
    if (state.phase === "hello") wipe(state.sent.ephemeral.secretKey)
    else if (state.phase === "auth") wipeHandshakeSecrets(state.agreed.secrets)
    else closeRecordChannel(state.done.channel)
  }

  #receiveServerHello(sent: ClientHelloSent, body: Uint8Array): LinkError | undefined {
    if (body[0] === FrameType.Alert) {
      const alert = decodeAlert(body)
      if (Result.isFailure(alert)) return protocolError(alert.failure.message)
      return new LinkError({ reason: "Alert", code: alert.success.code, detail: alert.success.text })
    }
    const agreed = clientReceiveServerHello(sent, body)
    if (Result.isFailure(agreed)) return handshakeFailure(agreed.failure)
    this.#state = { phase: "auth", agreed: agreed.success }
    return undefined
  }

  #receiveServerAuth(agreed: ClientKeysAgreed, body: Uint8Array): LinkError | undefined {
    const isRecord = expectFrameType(body, FrameType.Record)
    if (Result.isFailure(isRecord)) return protocolError(isRecord.failure.message)
    const { trust, identity, host, serverName, now } = this.#options
    const done = clientReceiveServerAuth(
      agreed,
      body,
      {
        caCertificateDer: trust.caCertificateDer,
        ...(trust.localCrlDer === undefined ? {} : { localCrlDer: trust.localCrlDer }),
        now: now === undefined ? new Date() : now(),
        expectedServerName: serverName ?? host,
      },
      identity,
    )
    if (Result.isFailure(done)) return handshakeFailure(done.failure)
    this.#state = { phase: "welcome", done: done.success }
    this.#socket.write(done.success.frame)
    return undefined
  }

  #receiveWelcome(done: ClientHandshakeDone, body: Uint8Array): LinkError | LoggedIn {
    const isRecord = expectFrameType(body, FrameType.Record)
    if (Result.isFailure(isRecord)) return protocolError(isRecord.failure.message)
    const plaintext = done.channel.opener.open(body)
    if (Result.isFailure(plaintext)) return protocolError(plaintext.failure.message)
    const messages = decodeServerMessages(plaintext.success)
    if (Result.isFailure(messages)) return protocolError(messages.failure.message)
    const [first, ...rest] = messages.success
    if (first?.type === "List") return { done, welcome: { total: first.total, names: first.names }, rest }
    if (first?.type === "Error" && first.fatal) {
      return new LinkError({ reason: "LoginRefused", code: first.code, detail: first.text })
    }
    return protocolError(`a ${first?.type} message arrived where the user list (1.3) was expected`)
  }
}

/**
 * Connects and logs in. Resolves with the open link once 1.3 has arrived; rejects with a LinkError
 * (the socket destroyed, every secret wiped) otherwise, within `connectTimeoutMs`.
 */
export const connectLink = (options: LinkOptions): Promise<ClientLink> =>
  new Promise((resolve, reject) => {
    const address = formatAddress(options.host, options.port)
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    const socket = createConnection({ host: options.host, port: options.port })
    socket.setNoDelay(true)
    const decoder = new FrameDecoder()
    const login = new Login(options, socket)
    let connected = false
    let settled = false

    const settle = (): void => {
      settled = true
      clearTimeout(timer)
      socket.off("connect", onConnect).off("data", onData).off("error", onError).off("close", onClose)
    }
    const fail = (error: LinkError): void => {
      if (settled) return
      settle()
      login.wipe()
      socket.destroy()
      reject(error)
    }
    const onConnect = (): void => {
      connected = true
      socket.write(login.helloFrame)
    }
    const onData = (chunk: Buffer): void => {
      const frames = decoder.push(chunk)
      if (Result.isFailure(frames)) {
        fail(protocolError(frames.failure.message))
        return
      }
      for (let i = 0; i < frames.success.length && !settled; i++) {
        const outcome = login.receive(frames.success[i]!)
        if (outcome instanceof LinkError) fail(outcome)
        else if (outcome !== undefined) {
          settle()
          resolve(
            new Link(socket, decoder, options.identity.name, outcome, frames.success, i + 1, options.trust),
          )
        }
      }
      // A bad length header after this chunk's frames (the Link checks it too once it exists).
      if (decoder.failure !== undefined) fail(protocolError(decoder.failure.message))
    }
    const onError = (error: Error): void =>
      fail(
        connected
          ? new LinkError({
              reason: "Closed",
              detail: `The connection failed during login: ${socketErrorText(error)}`,
            })
          : new LinkError({ reason: "ConnectionRefused", detail: `${address}: ${socketErrorText(error)}` }),
      )
    const onClose = (): void => fail(new LinkError({ reason: "Closed" }))
    const timer = setTimeout(() => {
      const detail = connected
        ? `the login to ${address} did not complete within ${timeoutMs} ms`
        : `no TCP connection to ${address} within ${timeoutMs} ms`
      fail(new LinkError({ reason: "Timeout", detail }))
    }, timeoutMs)

    socket.once("connect", onConnect).on("data", onData).on("error", onError).on("close", onClose)
  })

interface Waiter {
  readonly predicate: MessagePredicate
  readonly resolve: (message: ServerMessage) => void
  readonly reject: (error: LinkError) => void
  readonly timer: NodeJS.Timeout
}

const matchAny: MessagePredicate = () => true

/** An open link: owns the socket, the decoder and the application channel from 1.3 on. */
class Link implements ClientLink {
  readonly user: string
  readonly welcome: ClientLink["welcome"]
  readonly server: VerifiedServerCertificate
  readonly peerTrust: ClientLink["peerTrust"]
  readonly closed: Promise<LinkClosed>
  readonly #socket: Socket
  #readingStopped = false
  readonly #decoder: FrameDecoder
  readonly #channel: RecordChannel
  readonly #buffer: ServerMessage[] = []
  readonly #waiters: Waiter[] = []
  #resolveClosed: (closed: LinkClosed) => void = () => {}
  /** Set once: from then on nothing is read, delivered or sealed. */
  #ending: LinkClosed | undefined = undefined
  #pending: ClientMessage[] = []
  /** Encoded size of each `#pending` message. */
  #sizes: number[] = []
  #flushQueued = false
  #handler: ((message: ServerMessage) => void) | undefined = undefined
  #graceTimer: NodeJS.Timeout | undefined = undefined

  constructor(
    socket: Socket,
    decoder: FrameDecoder,
    user: string,
    login: LoggedIn,
    frames: ReadonlyArray<Uint8Array>,
    from: number,
    trust: LinkOptions["trust"],
  ) {
    this.user = user
    this.welcome = login.welcome
    this.server = login.done.server
    const crls = [login.done.stapledCrlDer, trust.localCrlDer]
    this.peerTrust = {
      caCertificateDer: trust.caCertificateDer,
      crls: crls.filter((crl): crl is Uint8Array => crl !== undefined && crl.length > 0),
    }
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#socket = socket
    this.#decoder = decoder
    this.#channel = login.done.channel
    socket
      .on("data", this.#onData)
      .on("end", this.#onEnd)
      .on("error", this.#onError)
      .on("close", this.#onClose)
    this.#dispatch(login.rest)
    this.#receiveFrames(frames, from)
  }

  send(...messages: ReadonlyArray<ClientMessage>): void {
    if (this.#ending !== undefined) return
    for (const message of messages) {
      this.#sizes.push(encodedClientMessageLength(message)) // throws here on invalid data
      this.#pending.push(message)
    }
    if (!this.#flushQueued && this.#pending.length > 0) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  onMessage(handler: (message: ServerMessage) => void): void {
    this.#handler = handler
    for (const message of this.#buffer.splice(0)) handler(message)
    if (this.#socket.isPaused() && !this.#readingStopped) this.#socket.resume()
  }

  next<M extends ServerMessage>(
    predicate: (message: ServerMessage) => message is M,
    timeoutMs?: number,
  ): Promise<M>
  next(predicate?: MessagePredicate, timeoutMs?: number): Promise<ServerMessage>
  next(predicate: MessagePredicate = matchAny, timeoutMs = DEFAULT_NEXT_TIMEOUT_MS): Promise<ServerMessage> {
    if (this.#handler !== undefined)
      throw new Error("next() cannot be used once onMessage() installed a handler")
    const index = this.#buffer.findIndex(predicate)
    if (index >= 0) {
      const [message] = this.#buffer.splice(index, 1)
      if (this.#socket.isPaused() && !this.#readingStopped && this.#buffer.length < BUFFER_HIGH_WATER / 2) {
        this.#socket.resume()
      }
      return Promise.resolve(message!)
    }
    if (this.#ending !== undefined) return Promise.reject(this.#closedError(this.#ending))
    if (this.#socket.isPaused() && !this.#readingStopped) this.#socket.resume() // the awaited message may be behind the pause
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          reject(
            new LinkError({ reason: "Timeout", detail: `no awaited message arrived within ${timeoutMs} ms` }),
          )
        }, timeoutMs),
      }
      this.#waiters.push(waiter)
    })
  }

  close(options: { readonly quit?: boolean } = {}): void {
    if (this.#ending !== undefined) return
    if (options.quit === true) this.send({ type: "Quit" })
    this.#flush()
    this.#end({ reason: "local" }, true)
  }

  stopReading(): void {
    this.#readingStopped = true
    this.#socket.pause()
  }

  writeRaw(bytes: Uint8Array): void {
    if (this.#ending !== undefined || !this.#socket.writable) return
    this.#flush()
    this.#socket.write(bytes)
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ending !== undefined) return
    const frames = this.#decoder.push(chunk)
    if (Result.isFailure(frames)) this.#breach(frames.failure.message)
    else this.#receiveFrames(frames.success, 0)
  }

  /** Delivers the frames' messages; a bad length header after them then ends the link. */
  #receiveFrames(bodies: ReadonlyArray<Uint8Array>, from: number): void {
    for (let i = from; i < bodies.length && this.#ending === undefined; i++) {
      const messages = this.#open(bodies[i]!)
      if (typeof messages === "string") this.#breach(messages)
      else this.#dispatch(messages)
    }
    const late = this.#decoder.failure
    if (late !== undefined && this.#ending === undefined) this.#breach(late.message)
  }

  /** One frame body → its messages, or why it must not be acted upon. */
  #open(body: Uint8Array): ReadonlyArray<ServerMessage> | string {
    const type = body[0] === FrameType.Record ? Result.void : expectFrameType(body, FrameType.Record)
    if (Result.isFailure(type)) return type.failure.message
    const plaintext = this.#channel.opener.openInPlace(body) // the decoder's frames are ours
    if (Result.isFailure(plaintext)) return plaintext.failure.message
    const messages = decodeServerMessages(plaintext.success)
    return Result.isFailure(messages) ? messages.failure.message : messages.success
  }

  /** The server broke the protocol: end at once, deliver nothing more. */
  #breach(message: string): void {
    this.#end({ reason: "protocol", message }, false)
  }

  /** Delivers the messages of one verified record in order; a fatal ERROR ends the link after them. */
  #dispatch(messages: ReadonlyArray<ServerMessage>): void {
    let fatal: LinkClosed | undefined
    for (const message of messages) {
      if (message.type === "Ping") this.send({ type: "Pong", value: message.value })
      else if (message.type === "Error" && message.fatal) {
        fatal ??= { reason: "server-error", code: message.code, text: message.text }
      }
      this.#deliver(message)
    }
    if (fatal !== undefined) this.#end(fatal, false)
  }

  #deliver(message: ServerMessage): void {
    if (this.#handler !== undefined) {
      this.#handler(message)
      return
    }
    const index = this.#waiters.findIndex((waiter) => waiter.predicate(message))
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1)
      clearTimeout(waiter!.timer)
      waiter!.resolve(message)
      return
    }
    this.#buffer.push(message)
    if (this.#buffer.length >= BUFFER_HIGH_WATER && this.#waiters.length === 0) this.#socket.pause()
  }

  /** Seals everything queued into as few records as fit and writes them with one socket write. */
  readonly #flush = (): void => {
    this.#flushQueued = false
    const pending = this.#pending
    const sizes = this.#sizes
    if (pending.length === 0) return
    this.#pending = []
    this.#sizes = []
    if (this.#ending !== undefined || !this.#socket.writable) return // `closed` reports why
    const sealed = sealMessages(this.#channel.sealer, sizes, (target, offset, index) =>
      writeClientMessage(target, offset, pending[index]!),
    )
    if (Result.isFailure(sealed)) {
      this.#end({ reason: "protocol", message: sealed.failure.message }, false) // 2^48 records (§5.4)
      return
    }
    this.#socket.write(sealed.success)
  }

  /** Stops reading and sealing, wipes the keys, then closes the socket (gracefully: after a FIN). */
  #end(closed: LinkClosed, graceful: boolean): void {
    if (this.#ending !== undefined) return
    this.#ending = closed
    this.#pending = []
    closeRecordChannel(this.#channel)
    if (!graceful) {
      this.#socket.destroy()
      return
    }
    this.#socket.end()
    this.#graceTimer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref()
  }

  readonly #onEnd = (): void => {
    const truncated = this.#decoder.end()
    if (Result.isFailure(truncated)) this.#breach(truncated.failure.message)
    else this.#end({ reason: "eof" }, false)
  }

  readonly #onError = (error: Error): void =>
    this.#end({ reason: "socket", message: socketErrorText(error) }, false)

  readonly #onClose = (): void => {
    clearTimeout(this.#graceTimer)
    this.#end({ reason: "eof" }, false) // no-op unless the socket closed without 'end' or 'error'
    const closed = this.#ending!
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(this.#closedError(closed))
    }
    this.#resolveClosed(closed)
  }

  #closedError(closed: LinkClosed): LinkError {
    return new LinkError({
      reason: "Closed",
      detail: `The connection ended before the awaited message arrived. ${describeLinkClosed(closed)}`,
    })
  }
}
