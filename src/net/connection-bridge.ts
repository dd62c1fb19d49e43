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
  serverVerifyLogin,
} from "../crypto/handshake-server.ts"
import type { Random } from "../crypto/primitives.ts"
import { closeRecordChannel, type RecordChannel, sealMessages } from "../crypto/record.ts"
import {
  type ClientMessage,
  decodeClientMessages,
  ErrorCode,
  encodeAlert,
  encodedServerMessageLength,
  encodeFrame,
  encodeServerMessage,
  errorCodeInfo,
  FrameDecoder,
  FrameType,
  isErrorCode,
  MESSAGE_HEADER_BYTES,
  Opcode,
  type ServerMessage,
  writeServerMessage,
} from "../protocol/index.ts"
import { outboundPool } from "./buffer-pool.ts"
import type { Logger } from "./log.ts"

/** Writes one outgoing item (a server message, or a relayed envelope as MESSAGE) at `offset`. */
const writeOutgoing = (target: Uint8Array, offset: number, item: Outgoing): number => {
  if (!(item instanceof Uint8Array)) return writeServerMessage(target, offset, item)
  target[offset] = Opcode.Message
  target[offset + 1] = item.length >>> 8
  target[offset + 2] = item.length & 0xff
  target.set(item, offset + MESSAGE_HEADER_BYTES)
  return offset + MESSAGE_HEADER_BYTES + item.length
}

/** What the registry says about a name (see src/store/registry.ts). */
export type UserLookup = (
  name: string,
) => Promise<
  | { readonly status: "registered"; readonly publicKey: Uint8Array; readonly certificateDer: Uint8Array }
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
  /**
   * At most one CLIENT_ACTIVE per this many milliseconds while traffic flows (the actor's idle
   * timer needs to hear of activity, not of every read). Keep it well under the idle-ping delay.
   */
  readonly activityIntervalMs: number
}

/**
 * Client messages turned into actor events per turn of the event loop. A run of consecutive
 * MESSAGEs is one event. Past it the socket is paused and the rest waits for the next turn, so a
 * client packing thousands of requests into its records cannot hold the loop for everyone else.
 */
export const EVENTS_PER_TURN = 64

/** Flushes of at least this many bytes are written from a pooled buffer (src/net/buffer-pool.ts). */
const POOLED_FLUSH_BYTES = 32 * 1024

/** An item of the outbound queue: a server message, or the envelope of a relayed MESSAGE. */
type Outgoing = ServerMessage | Uint8Array

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
  /** Decoded client messages not yet told to the actor (see EVENTS_PER_TURN), from `#inboxHead`. */
  #inbox: ClientMessage[] = []
  #inboxHead = 0
  #drainScheduled = false
  /** The client closed its side while `#inbox` still held messages: tell the actor once drained. */
  #endPending = false
  /** Why the connection ends once `#inbox` is drained (see #failAfterDrain). */
  #deferredFailure: { readonly code: number; readonly detail: string } | undefined
  /** The socket emitted "close". */
  #socketGone = false
  #paused = false
  #lastActive = 0
  /**
   * The chat peer's bridge while both connections are in `chatting.active` with each other (set
   * and cleared by the supervisor's chat.open / chat.closed): MESSAGE runs go straight to it,
   * with the same effect as MESSAGE → supervisor → PEER_MESSAGE → relay, minus three actor steps.
   */
  #relayTo: ConnectionBridge | undefined
  #pending: Outgoing[] = []
  /** Encoded size of each `#pending` item, header included. */
  #sizes: number[] = []
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
    actor.on("outbound", ({ messages }) => this.#queueGuarded(messages))
    actor.on("relay", ({ envelopes }) => this.#queueGuarded(envelopes))
    actor.on("close", (event) => this.#close(event.code, event.text))
  }

  /** Runs a step; an unexpected exception ends this connection only, as INTERNAL. */
  #guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#internalError(error)
    }
  }

  /**
   * `#queue` for what the actor emits: a message that cannot be encoded (a defect) ends this
   * connection as INTERNAL instead of escaping into XState's emit (where it would be unhandled).
   * No closure per event: this is the relay path.
   */
  #queueGuarded(items: ReadonlyArray<Outgoing>): void {
    try {
      this.#queue(items)
    } catch (error) {
      this.#internalError(error)
    }
  }

  #internalError(error: unknown): void {
    this.#options.log.error("connection.internal-error", {
      connection: this.#options.connectionId,
      error: error instanceof Error ? error.message : String(error),
    })
    this.#fail(ErrorCode.Internal)
  }

  #onData(chunk: Buffer): void {
    if (this.#phase.name === "closed" || this.#deferredFailure !== undefined) return
    const frames = this.#decoder.push(chunk)
    if (Result.isFailure(frames)) {
      this.#failAfterDrain(frames.failure.code, frames.failure.message)
      this.#drain()
      return
    }
    for (const frame of frames.success) {
      if (this.#phase.name === "app") {
        if (!this.#onRecord(frame)) break
      } else if (this.#phase.name === "verifying") {
        this.#phase.queued.push(frame)
      } else if (this.#phase.name === "hello") {
        this.#onClientHello(frame)
      } else if (this.#phase.name === "auth") {
        this.#onClientAuth(this.#phase.state, frame)
      }
    }
    // A bad length header after this chunk's good frames: they are acted upon first.
    const late = this.#decoder.failure
    if (late !== undefined) this.#failAfterDrain(late.code, late.message)
    if (this.#phase.name === "app" && frames.success.length > 0) this.#noteActivity()
    this.#drain()
  }

  /**
   * The connection must end with `code`, but only once the messages already accepted before the
   * offending bytes were handled (in order, as if no turn limit existed). Nothing more is read.
   */
  #failAfterDrain(code: number, detail: string): void {
    this.#deferredFailure ??= { code, detail }
  }

  /** Tells the actor the client is active, at most once per `activityIntervalMs`. */
  #noteActivity(): void {
    const now = performance.now()
    if (now - this.#lastActive < this.#options.activityIntervalMs) return
    this.#lastActive = now
    this.#send({ type: "CLIENT_ACTIVE" })
  }

  #onEnd(): void {
    const truncated = this.#decoder.end()
    if (Result.isFailure(truncated)) {
      this.#options.log.info("connection.truncated", { connection: this.#options.connectionId })
    }
    if (this.#inboxHead < this.#inbox.length) this.#endPending = true
    else if (this.#phase.name !== "closed") this.#tell({ type: "TRANSPORT_CLOSED" })
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
    // Nothing more is read until the registry answers: what this chunk held waits in `queued`.
    this.#pause()
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
    // Unknown, revoked, wrong key, bad signature: the same work and one LOGIN_FAILED (§3.3).
    const verified = serverVerifyLogin(pending, entry)
    if (Result.isFailure(verified)) {
      this.#failLogin(verified.failure, verified.failure.code, pending.name)
      return
    }
    if (entry.status !== "registered") return // unreachable: serverVerifyLogin refused it
    this.#phase = { name: "app" }
    this.#settleLogin()
    const user: OnlineUser = {
      name: pending.name,
      identityKey: entry.publicKey,
      certificate: entry.certificateDer,
    }
    this.#options.log.info("login.verified", { connection: this.#options.connectionId, user: user.name })
    this.#lastActive = performance.now()
    this.#tell({ type: "LOGIN_VERIFIED", user })
    for (const frame of queued) if (!this.#onRecord(frame)) break
    this.#drain()
  }

  /**
   * Opens one application record (in place) and queues its messages. False when it failed: the
   * connection then ends after what was queued before it (#failAfterDrain).
   */
  #onRecord(frame: Uint8Array): boolean {
    const channel = this.#channel
    if (channel === undefined || frame[0] !== FrameType.Record) {
      this.#failAfterDrain(ErrorCode.Malformed, "Only records are allowed after login.")
      return false
    }
    const plaintext = channel.opener.openInPlace(frame)
    if (Result.isFailure(plaintext)) {
      this.#failAfterDrain(plaintext.failure.code, plaintext.failure.message)
      return false
    }
    const messages = decodeClientMessages(plaintext.success)
    if (Result.isFailure(messages)) {
      this.#failAfterDrain(messages.failure.code, messages.failure.message)
      return false
    }
    for (const message of messages.success) this.#inbox.push(message)
    return true
  }

  /**
   * Tells the actor what `#inbox` holds, up to EVENTS_PER_TURN events; consecutive MESSAGEs become
   * one event (the relay's batching). What is left waits for the next turn with the socket paused.
   */
  #drain(): void {
    this.#drainScheduled = false
    const inbox = this.#inbox
    let budget = EVENTS_PER_TURN
    let envelopes: Uint8Array[] = []
    while (this.#inboxHead < inbox.length && budget > 0 && this.#phase.name === "app") {
      const message = inbox[this.#inboxHead++]!
      if (message.type === "Message") {
        envelopes.push(message.envelope)
        continue
      }
      if (envelopes.length > 0) {
        this.#forward(envelopes)
        envelopes = []
        budget--
      }
      this.#send(clientEventOf(message))
      budget--
    }
    if (envelopes.length > 0) this.#forward(envelopes)
    if (this.#phase.name === "app" && this.#inboxHead < inbox.length) {
      this.#pause()
      if (!this.#drainScheduled) {
        this.#drainScheduled = true
        setImmediate(() => this.#guard(() => this.#drain()))
      }
      return
    }
    if (inbox.length > 0) {
      this.#inbox = []
      this.#inboxHead = 0
    }
    const failure = this.#deferredFailure
    if (failure !== undefined) {
      this.#deferredFailure = undefined
      this.#fail(failure.code, failure.detail)
      if (this.#socketGone) this.#onSocketClosed()
      return
    }
    if (this.#endPending) {
      // The client closed while its last messages waited their turn: now it may be told.
      this.#endPending = false
      if (this.#socketGone) this.#onSocketClosed()
      else if (this.#phase.name !== "closed") this.#tell({ type: "TRANSPORT_CLOSED" })
      return
    }
    if (this.#phase.name === "app") this.#resume()
  }

  /** A run of MESSAGEs: to the chat peer directly when the line is open, else to the actor. */
  #forward(envelopes: Uint8Array[]): void {
    const peer = this.#relayTo
    if (peer !== undefined) peer.#queue(envelopes)
    else this.#send({ type: "MESSAGE", envelopes })
  }

  /** Opens the direct line to `peer` (see `#relayTo`); the supervisor calls it for both sides. */
  linkChat(peer: ConnectionBridge): void {
    this.#relayTo = peer
  }

  /** Closes the direct line, if open with `peer`. */
  unlinkChat(peer: ConnectionBridge | undefined): void {
    if (peer === undefined || this.#relayTo === peer) this.#relayTo = undefined
  }

  #pause(): void {
    if (this.#paused) return
    this.#paused = true
    this.#options.socket.pause()
  }

  #resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#options.socket.resume()
  }

  #send(event: ClientOpcodeEvent | { readonly type: "CLIENT_ACTIVE" }): void {
    if (this.#phase.name !== "closed") this.#tell(event)
  }

  /** Delivers an event unless the actor already stopped (final, failed or stopped by the supervisor). */
  #tell(event: ConnectionEvent): void {
    const { actor } = this.#options
    if (actor.getSnapshot().status === "active") actor.send(event)
  }

  /** The precise reason (and claimed name) go to the log only; the client gets the code's text. */
  #failLogin(error: HandshakeError, code: ErrorCode = error.code, user?: string): void {
    this.#options.log.info("login.failed", {
      connection: this.#options.connectionId,
      reason: error.reason,
      code,
      ...(user === undefined ? {} : { user }),
    })
    this.#tell({
      type: "LOGIN_FAILED",
      code,
      text: code === error.code ? error.wireText : errorCodeInfo(code).sentence,
    })
  }

  #fail(code: number, detail?: string): void {
    this.#options.log.info("connection.rejected", { connection: this.#options.connectionId, code, detail })
    if (this.#phase.name === "app") {
      this.#tell({ type: "TRANSPORT_FAILED", code, text: errorCodeInfo(code).sentence })
    } else {
      this.#tell({ type: "LOGIN_FAILED", code, text: errorCodeInfo(code).sentence })
    }
  }

  /** Queues server messages or relayed envelopes; the bound is checked before anything is sealed. */
  #queue(items: ReadonlyArray<Outgoing>): void {
    if (this.#phase.name === "closed") return
    for (const item of items) {
      const size =
        item instanceof Uint8Array ? MESSAGE_HEADER_BYTES + item.length : encodedServerMessageLength(item)
      this.#pending.push(item)
      this.#sizes.push(size)
      this.#pendingBytes += size
    }
    // A client that floods requests without reading replies is cut off here, not after its
    // replies piled up.
    if (this.#options.socket.writableLength + this.#pendingBytes > this.#options.maxOutboundBytes) {
      this.#dropPending()
      this.#fail(ErrorCode.SlowConsumer)
      return
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => this.#guard(() => this.#flush()))
    }
  }

  /**
   * Seals everything queued into as few records as fit, encoded straight into one buffer and
   * sealed in place (no per-message buffers, no copies but the envelopes' own), one write.
   */
  #flush(): void {
    this.#flushScheduled = false
    const channel = this.#channel
    if (this.#pending.length === 0 || channel === undefined || this.#phase.name !== "app") return
    const { socket } = this.#options
    if (socket.destroyed || !socket.writable) {
      this.#dropPending() // the socket is going: nothing to seal for it
      return
    }
    const pending = this.#pending
    let lease: Buffer | undefined
    const sealed = sealMessages(
      channel.sealer,
      this.#sizes,
      (target, offset, index) => writeOutgoing(target, offset, pending[index]!),
      (length) => {
        // Pooled only for large flushes onto an empty socket queue: such a write almost always
        // completes at once, and a stalled one holds at most 4× its bytes (never a small write).
        if (length >= POOLED_FLUSH_BYTES && socket.writableLength === 0) lease = outboundPool.take(length)
        return lease === undefined ? Buffer.allocUnsafe(length) : lease.subarray(0, length)
      },
    )
    this.#dropPending()
    if (Result.isFailure(sealed)) {
      if (lease !== undefined) outboundPool.give(lease)
      this.#fail(sealed.failure.code)
      return
    }
    const lent = lease
    // A pooled buffer goes back only once this write is done with it (or failed).
    socket.write(sealed.success, lent === undefined ? undefined : () => outboundPool.give(lent))
    if (socket.writableLength > this.#options.maxOutboundBytes) this.#fail(ErrorCode.SlowConsumer)
  }

  #dropPending(): void {
    this.#pending = []
    this.#sizes = []
    this.#pendingBytes = 0
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
    this.#resume() // read (and discard) until the client's FIN, so the socket closes promptly
    socket.end()
    setTimeout(() => socket.destroy(), this.#options.closeGraceMs).unref()
  }

  #onSocketClosed(): void {
    this.#socketGone = true
    if (this.#phase.name === "app" && this.#inboxHead < this.#inbox.length) {
      this.#endPending = true // #drain calls back once the client's last messages were handled
      return
    }
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
    this.#relayTo = undefined
    if (this.#channel !== undefined) closeRecordChannel(this.#channel)
    this.#dropPending()
    this.#inbox = []
    this.#inboxHead = 0
  }

  /** Ends the socket now (server shutdown past its grace period, supervisor gave up). */
  destroy(): void {
    this.#options.socket.destroy()
  }
}
