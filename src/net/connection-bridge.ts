/**
 * The socket ⇄ actor pump of one connection: frame decoder → login steps → record channel →
 * typed events into the connection actor; the actor's emitted messages → batched records → one
 * socket write per flush. Owns the socket's data path and the connection's keys; holds no
 * protocol policy (the connection machine decides). docs/architecture.md "one chat message".
 */
import type { Socket } from "node:net"
import { Result } from "effect"
import type { ClientOpcodeEvent, ConnectionEvent, OnlineUser } from "../actors/connection.events.ts"
import { clientEventOf } from "../actors/connection.events.ts"
import type { ConnectionActor } from "../actors/supervisor.machine.ts"
import { HandshakeError } from "../crypto/handshake-error.ts"
import {
  type ClientAuthPending,
  type ServerAwaitingClientAuth,
  type ServerCredentials,
  serverOpenClientAuth,
  serverReceiveClientHello,
  serverVerifyClient,
} from "../crypto/handshake-server.ts"
import type { Random } from "../crypto/primitives.ts"
import { closeRecordChannel, type RecordChannel } from "../crypto/record.ts"
import {
  batchMessages,
  decodeClientMessages,
  ErrorCode,
  encodeAlert,
  encodeFrame,
  encodeServerMessage,
  errorCodeInfo,
  FrameDecoder,
  FrameType,
  isErrorCode,
  type ServerMessage,
} from "../protocol/index.ts"
import type { Logger } from "./log.ts"

/** What the registry says about a name (see src/store/registry.ts). */
export type UserLookup = (
  name: string,
) => Promise<
  | { readonly status: "registered"; readonly publicKey: Uint8Array }
  | { readonly status: "revoked" }
  | { readonly status: "unknown" }
>

export interface BridgeOptions {
  readonly connectionId: string
  readonly socket: Socket
  readonly actor: ConnectionActor
  readonly credentials: ServerCredentials
  readonly lookupUser: UserLookup
  readonly random: Random
  readonly log: Logger
  /** Bytes queued for a client that does not read, beyond which it is disconnected. */
  readonly maxOutboundBytes: number
  /** How long a closing socket may take to flush before it is destroyed. */
  readonly closeGraceMs: number
  /** Called once when the connection leaves the login phases (to release handshake slots). */
  readonly onLoginSettled: () => void
}

type Phase =
  | { readonly name: "hello" }
  | { readonly name: "auth"; readonly state: ServerAwaitingClientAuth }
  | { readonly name: "verifying"; readonly queued: Uint8Array[] }
  | { readonly name: "app" }
  | { readonly name: "closed" }

export class ConnectionBridge {
  readonly #options: BridgeOptions
  readonly #decoder = new FrameDecoder()
  #phase: Phase = { name: "hello" }
  #channel: RecordChannel | undefined
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #flushScheduled = false
  #loginSettled = false
  readonly done: Promise<void>
  #resolveDone!: () => void

  constructor(options: BridgeOptions) {
    this.#options = options
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve
    })
    const { socket, actor } = options
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => this.#guard(() => this.#onData(chunk)))
    socket.on("end", () => this.#guard(() => this.#onEnd()))
    socket.on("error", () => {}) // "close" follows; the error itself is not the client's business
    socket.on("close", () => this.#onSocketClosed())
    actor.on("outbound", ({ messages }) => this.#queue(messages))
    actor.on("close", (event) => this.#close(event.code, event.text))
  }

  /** Runs a step; an unexpected exception ends this connection only, as INTERNAL. */
  #guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#options.log.error("connection.internal-error", {
        connection: this.#options.connectionId,
        error: error instanceof Error ? error.message : String(error),
      })
      this.#fail(ErrorCode.Internal)
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#phase.name === "closed") return
    const frames = this.#decoder.push(chunk)
    if (Result.isFailure(frames)) {
      this.#fail(frames.failure.code, frames.failure.message)
      return
    }
    if (this.#phase.name === "app" && frames.success.length > 0) this.#send({ type: "CLIENT_ACTIVE" })
    const envelopes: Uint8Array[] = []
    for (const frame of frames.success) {
      if (this.#phase.name === "app") {
        if (!this.#onRecord(frame, envelopes)) break
      } else if (this.#phase.name === "verifying") {
        this.#phase.queued.push(Uint8Array.from(frame))
      } else if (this.#phase.name === "hello") {
        this.#onClientHello(frame)
      } else if (this.#phase.name === "auth") {
        this.#onClientAuth(this.#phase.state, frame)
      }
    }
    this.#flushEnvelopes(envelopes)
  }

  #onEnd(): void {
    const truncated = this.#decoder.end()
    if (Result.isFailure(truncated)) {
      this.#options.log.info("connection.truncated", { connection: this.#options.connectionId })
    }
    if (this.#phase.name !== "closed") this.#tell({ type: "TRANSPORT_CLOSED" })
  }

  #onClientHello(frame: Uint8Array): void {
    const result = serverReceiveClientHello(frame, this.#options.credentials, this.#options.random)
    if (Result.isFailure(result)) {
      this.#failLogin(result.failure)
      return
    }
    this.#phase = { name: "auth", state: result.success }
    this.#write(result.success.frames)
  }

  #onClientAuth(state: ServerAwaitingClientAuth, frame: Uint8Array): void {
    const pending = serverOpenClientAuth(state, frame)
    closeRecordChannel(state.handshake)
    if (Result.isFailure(pending)) {
      this.#failLogin(pending.failure)
      return
    }
    this.#phase = { name: "verifying", queued: [] }
    // The pending channel may seal the ERROR of a failed login (docs/protocol.md §3.3).
    this.#channel = pending.success.channel
    this.#options.lookupUser(pending.success.name).then(
      (entry) => this.#guard(() => this.#onLookup(pending.success, entry)),
      (error: unknown) =>
        this.#guard(() => {
          this.#options.log.error("registry.lookup-failed", {
            connection: this.#options.connectionId,
            error: error instanceof Error ? error.message : String(error),
          })
          this.#failLogin(new HandshakeError({ reason: "ServerRefused" }), ErrorCode.Internal)
        }),
    )
  }

  #onLookup(pending: ClientAuthPending, entry: Awaited<ReturnType<UserLookup>>): void {
    if (this.#phase.name !== "verifying") return
    const queued = this.#phase.queued
    if (entry.status !== "registered") {
      this.#failLogin(new HandshakeError({ reason: entry.status === "revoked" ? "Revoked" : "UnknownUser" }))
      return
    }
    const verified = serverVerifyClient(pending, entry.publicKey)
    if (Result.isFailure(verified)) {
      this.#failLogin(verified.failure)
      return
    }
    this.#phase = { name: "app" }
    this.#settleLogin()
    const user: OnlineUser = { name: pending.name, identityKey: entry.publicKey }
    this.#options.log.info("login.verified", { connection: this.#options.connectionId, user: user.name })
    this.#tell({ type: "LOGIN_VERIFIED", user })
    const envelopes: Uint8Array[] = []
    for (const frame of queued) if (!this.#onRecord(frame, envelopes)) break
    this.#flushEnvelopes(envelopes)
  }

  /** Opens one application record and turns its messages into events. False when it failed. */
  #onRecord(frame: Uint8Array, envelopes: Uint8Array[]): boolean {
    const channel = this.#channel
    if (channel === undefined || frame[0] !== FrameType.Record) {
      this.#fail(ErrorCode.Malformed, "Only records are allowed after login.")
      return false
    }
    const plaintext = channel.opener.open(frame)
    if (Result.isFailure(plaintext)) {
      this.#fail(plaintext.failure.code, plaintext.failure.message)
      return false
    }
    const messages = decodeClientMessages(plaintext.success)
    if (Result.isFailure(messages)) {
      this.#fail(messages.failure.code, messages.failure.message)
      return false
    }
    for (const message of messages.success) {
      if (message.type === "Message") {
        envelopes.push(message.envelope)
      } else {
        this.#flushEnvelopes(envelopes)
        this.#send(clientEventOf(message))
      }
    }
    return true
  }

  /** Consecutive MESSAGEs become one event: the relay's batching. */
  #flushEnvelopes(envelopes: Uint8Array[]): void {
    if (envelopes.length === 0) return
    this.#send({ type: "MESSAGE", envelopes: envelopes.splice(0) })
  }

  #send(event: ClientOpcodeEvent | { readonly type: "CLIENT_ACTIVE" }): void {
    if (this.#phase.name !== "closed") this.#tell(event)
  }

  /** Delivers an event unless the actor already stopped (final, failed or stopped by the supervisor). */
  #tell(event: ConnectionEvent): void {
    const { actor } = this.#options
    if (actor.getSnapshot().status === "active") actor.send(event)
  }

  #failLogin(error: HandshakeError, code: ErrorCode = error.code): void {
    this.#options.log.info("login.failed", {
      connection: this.#options.connectionId,
      reason: error.reason,
      code,
    })
    this.#tell({ type: "LOGIN_FAILED", code, text: errorCodeInfo(code).sentence })
  }

  #fail(code: number, detail?: string): void {
    this.#options.log.info("connection.rejected", { connection: this.#options.connectionId, code, detail })
    if (this.#phase.name === "app") {
      this.#tell({ type: "TRANSPORT_FAILED", code, text: errorCodeInfo(code).sentence })
    } else {
      this.#tell({ type: "LOGIN_FAILED", code, text: errorCodeInfo(code).sentence })
    }
  }

  #queue(messages: ReadonlyArray<ServerMessage>): void {
    if (this.#phase.name === "closed") return
    for (const message of messages) {
      const encoded = encodeServerMessage(message)
      this.#pending.push(encoded)
      this.#pendingBytes += encoded.length
    }
    // The bound is checked before anything is sealed or written: a client that floods requests
    // without reading replies is cut off here, not after its replies piled up.
    if (this.#options.socket.writableLength + this.#pendingBytes > this.#options.maxOutboundBytes) {
      this.#pending = []
      this.#pendingBytes = 0
      this.#fail(ErrorCode.SlowConsumer)
      return
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => this.#guard(() => this.#flush()))
    }
  }

  /** Seals everything queued into as few records as fit, and writes them in one go. */
  #flush(): void {
    this.#flushScheduled = false
    const channel = this.#channel
    if (this.#pending.length === 0 || channel === undefined || this.#phase.name !== "app") return
    const frames: Uint8Array[] = []
    this.#pendingBytes = 0
    for (const plaintext of batchMessages(this.#pending.splice(0))) {
      const sealed = channel.sealer.seal(plaintext)
      if (Result.isFailure(sealed)) {
        this.#fail(sealed.failure.code)
        return
      }
      frames.push(sealed.success)
    }
    this.#write(frames)
    if (this.#options.socket.writableLength > this.#options.maxOutboundBytes)
      this.#fail(ErrorCode.SlowConsumer)
  }

  #write(frames: ReadonlyArray<Uint8Array>): void {
    const { socket } = this.#options
    if (socket.destroyed || !socket.writable) return
    if (frames.length === 1) {
      socket.write(frames[0]!)
      return
    }
    socket.cork()
    for (const frame of frames) socket.write(frame)
    socket.uncork()
  }

  /** The actor decided the connection ends: flush, say why (if it can), end, then force. */
  #close(rawCode: number | undefined, text: string | undefined): void {
    if (this.#phase.name === "closed") return
    const code = rawCode === undefined || isErrorCode(rawCode) ? rawCode : ErrorCode.Internal
    const phase = this.#phase.name
    if (phase === "app") this.#flush()
    const channel = this.#channel
    if (code !== undefined && channel !== undefined && (phase === "app" || phase === "verifying")) {
      const error: ServerMessage = {
        type: "Error",
        code,
        fatal: true,
        text: text ?? errorCodeInfo(code).sentence,
      }
      const sealed = channel.sealer.seal(encodeServerMessage(error))
      if (Result.isSuccess(sealed)) this.#write([sealed.success])
    } else if (code !== undefined && phase === "hello") {
      this.#write([encodeFrame(encodeAlert({ code, text: text ?? errorCodeInfo(code).sentence }))])
    }
    this.#phase = { name: "closed" }
    this.#settleLogin()
    this.#wipe()
    const { socket } = this.#options
    socket.end()
    setTimeout(() => socket.destroy(), this.#options.closeGraceMs).unref()
  }

  #onSocketClosed(): void {
    if (this.#phase.name !== "closed") {
      this.#phase = { name: "closed" }
      this.#tell({ type: "TRANSPORT_CLOSED" })
    }
    this.#settleLogin()
    this.#wipe()
    this.#resolveDone()
  }

  #settleLogin(): void {
    if (this.#loginSettled) return
    this.#loginSettled = true
    this.#options.onLoginSettled()
  }

  #wipe(): void {
    if (this.#channel !== undefined) closeRecordChannel(this.#channel)
    this.#pending = []
    this.#pendingBytes = 0
  }

  /** Ends the socket now (server shutdown past its grace period, supervisor gave up). */
  destroy(): void {
    this.#options.socket.destroy()
  }
}
