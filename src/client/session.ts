/**
 * The client session runtime: runs the session chart, connects and logs in through the link, does
 * the end-to-end crypto and key pinning, turns server messages into facts for the chart and the
 * chart's intents into messages. Shows everything through `onUi` (terminal or `--json`).
 * Never shows key material; peer text is handed over as-is (the terminal sanitises it).
 */
import { Result } from "effect"
import { createActor } from "xstate"
import { ChatChannel } from "../crypto/chat-channel.ts"
import {
  abandonChatAcceptance,
  abandonChatRequest,
  acceptChatRequest,
  type ChatAcceptance,
  type ChatKeys,
  type ChatRequest,
  completeChatAcceptance,
  completeChatRequest,
  type Party,
  type RequesterHello,
  requesterHelloOf,
  startChatRequest,
} from "../crypto/e2e.ts"
import type { LoginIdentity } from "../crypto/handshake-client.ts"
import { bytesEqual, type Random, systemRandom } from "../crypto/primitives.ts"
import { matchesSafety, safetyNumber } from "../crypto/safety.ts"
import {
  ErrorCode,
  errorCodeInfo,
  MAX_TEXT_BYTES,
  NotFoundReason,
  NotifyReason,
  type ServerMessage,
} from "../protocol/index.ts"
import { parseCommand } from "./commands.ts"
import type { KnownPeers } from "./known-peers.ts"
import { type ClientLink, describeLinkClosed, type LinkClosed, LinkError } from "./link.ts"
import { type CertifiedPeer, verifyPeer } from "./peer-identity.ts"
import type {
  CommandEvent,
  Intent,
  KeyStatus,
  NotFoundReason as NotFoundReasonName,
  PeerLeftReason,
  SessionEvent,
  UiEvent,
} from "./session.events.ts"
import { sessionMachine } from "./session.machine.ts"

export interface SessionOptions {
  readonly identity: LoginIdentity
  readonly connect: () => Promise<ClientLink>
  readonly knownPeers: KnownPeers
  readonly onUi: (event: UiEvent) => void
  readonly random?: Random
  /** Clock for peer certificates; default `() => new Date()`. */
  readonly now?: () => Date
  /** Monotonic milliseconds, to say how long an expired request waited; default `performance.now`. */
  readonly clock?: () => number
}

/** What the runtime knows about the current conversation, crypto included. */
interface Conversation {
  readonly peer: string
  /** When the request was sent or arrived (`clock`). */
  readonly since: number
  /** The peer as its CA certificate (relayed by the server, verified here) says. */
  certified?: CertifiedPeer
  /** The changed key the user trusted by typing its safety number (pinned once the agreement verifies). */
  approvedKey?: Uint8Array
  request?: ChatRequest
  incoming?: RequesterHello
  acceptance?: ChatAcceptance | undefined
  accept?: Extract<ServerMessage, { type: "Accept" }>
  chat?: ChatChannel
  /** The peer's authenticated goodbye: how many messages it sent, how many arrived. */
  bye?: { readonly sent: number; readonly received: number; readonly complete: boolean }
}

const snake = (name: string): string =>
  name.replace(/[A-Z]/g, (c, i: number) => `${i === 0 ? "" : "_"}${c.toLowerCase()}`)

const notFoundReason = (reason: number): NotFoundReasonName =>
  reason === NotFoundReason.Busy ? "busy" : reason === NotFoundReason.Yourself ? "yourself" : "not_online"

const peerLeftReasons: Record<NotifyReason, PeerLeftReason> = {
  [NotifyReason.Left]: "left",
  [NotifyReason.Disconnected]: "disconnected",
  [NotifyReason.Cancelled]: "withdrawn",
  [NotifyReason.TimedOut]: "expired",
  [NotifyReason.Failed]: "failed",
}

const closeReasonOf = (closed: LinkClosed): string => {
  if (closed.reason === "server-error") {
    if (closed.code === ErrorCode.ShuttingDown) return "server_stopping"
    return snake(errorCodeInfo(closed.code).name)
  }
  return closed.reason === "local" ? "quit" : closed.reason === "eof" ? "server_closed" : "connection_lost"
}

/** Decoded byte fields are views into a record buffer: keep copies. */
const copy = (bytes: Uint8Array): Uint8Array => Uint8Array.from(bytes)

export class ClientSession {
  readonly #options: SessionOptions
  readonly #actor
  readonly #random: Random
  readonly #clock: () => number
  #link: ClientLink | undefined
  #conversation: Conversation | undefined
  readonly done: Promise<{ readonly reason: string }>

  constructor(options: SessionOptions) {
    this.#options = options
    this.#random = options.random ?? systemRandom
    this.#clock = options.clock ?? (() => performance.now())
    this.#actor = createActor(sessionMachine, { input: { user: options.identity.name } })
    this.#actor.on("ui", ({ event }) => options.onUi(event))
    this.#actor.on("intent", ({ intent }) => this.#carryOut(intent))
    this.done = new Promise((resolve) => {
      this.#actor.subscribe({
        next: (snapshot) => {
          if (snapshot.status === "done") resolve({ reason: snapshot.context.closeReason })
        },
      })
    })
    this.#actor.start()
  }

  /** Connects and logs in; failures end the session with reason "login_failed". */
  async start(): Promise<void> {
    let link: ClientLink
    try {
      link = await this.#options.connect()
    } catch (error) {
      const message = error instanceof LinkError ? error.message : String(error)
      this.#fact({ type: "CONNECTION_CLOSED", reason: "login_failed", message })
      return
    }
    if (this.#actor.getSnapshot().status !== "active") {
      link.close({ quit: true }) // the user quit while we were connecting
      return
    }
    this.#link = link
    link.onMessage((message) => this.#onServerMessage(message))
    void link.closed.then((closed) => this.#onClosed(closed))
    this.#fact({
      type: "LOGGED_IN",
      online: link.welcome.names,
      server: {
        subject: link.server.subject,
        names: link.server.hostNames,
        fingerprint: link.server.fingerprint,
      },
    })
  }

  /** One line typed by the user (a `!command` or chat text). */
  command(line: string): void {
    const parsed = parseCommand(line)
    if (parsed === undefined) return
    if ("error" in parsed) {
      this.#options.onUi({ type: "error", code: parsed.code, message: parsed.error })
      return
    }
    if (parsed.type === "TRUST" && !this.#approve(parsed)) return
    if (parsed.type === "VERIFY" && parsed.code !== undefined) return this.#verifyTyped(parsed.code)
    this.#actor.send(parsed)
  }

  /** Ends everything (input closed, Ctrl-C): leaves any chat or request, then quits. */
  exit(): void {
    for (let i = 0; i < 3 && this.#actor.getSnapshot().status === "active"; i++)
      this.#actor.send({ type: "QUIT" })
  }

  /** The state the chart is in, e.g. `{ online: { chatting: "active" } }` (for prompts and tests). */
  get state(): unknown {
    return this.#actor.getSnapshot().value
  }

  get peer(): string | undefined {
    return this.#actor.getSnapshot().context.peer
  }

  #fact(event: SessionEvent): void {
    if (this.#actor.getSnapshot().status === "active") this.#actor.send(event)
  }

  get #me(): Party {
    return { name: this.#options.identity.name, identityKey: this.#options.identity.key.publicKey }
  }

  #onClosed(closed: LinkClosed): void {
    this.#endConversation()
    this.#fact({
      type: "CONNECTION_CLOSED",
      reason: closeReasonOf(closed),
      message: describeLinkClosed(closed),
    })
  }

  #onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case "List":
        return this.#fact({ type: "ONLINE_LIST", online: message.names })
      case "Rtt":
        return this.#onRequest(message)
      case "UserNotFound":
        if (this.#conversation?.peer === message.user && this.#conversation.request !== undefined) {
          this.#endConversation()
        }
        return this.#fact({
          type: "REQUEST_NOT_FOUND",
          user: message.user,
          reason: notFoundReason(message.reason),
        })
      case "Refuse":
        if (this.#conversation?.peer === message.from) this.#endConversation()
        return this.#fact({ type: "REQUEST_REFUSED", by: message.from })
      case "Accept":
        return this.#onAccept(message)
      case "CcSessionEstablishment":
        return this.#onEstablishment(message)
      case "Message":
        return this.#onChatMessage(message.envelope)
      case "Notify":
        return this.#onNotify(message)
      case "Error":
        if (message.fatal) return // the link closes next and reports it
        return this.#fact({
          type: "SERVER_ERROR",
          code: snake(errorCodeInfo(message.code).name),
          message: message.text,
        })
      case "Ping":
      case "Pong":
        return
    }
  }

  /** NOTIFY: the conversation ended on the peer's side (or the server's: an expired request). */
  #onNotify(message: Extract<ServerMessage, { type: "Notify" }>): void {
    const conversation = this.#conversation
    const current = conversation?.peer === message.peer ? conversation : undefined
    if (current !== undefined) {
      this.#reportLoss(current)
      this.#endConversation()
    }
    const reason = peerLeftReasons[message.reason]
    this.#fact(
      reason === "expired" && current !== undefined
        ? { type: "PEER_LEFT", peer: message.peer, reason, waitedMs: this.#clock() - current.since }
        : { type: "PEER_LEFT", peer: message.peer, reason },
    )
  }

  #keyStatus(peer: Party): KeyStatus {
    const status = this.#options.knownPeers.status(peer.name, peer.identityKey)
    if (status === "changed") {
      this.#options.onUi({ type: "key_changed", peer: peer.name, safety: safetyNumber(this.#me, peer) })
    }
    return status
  }

  #verify(name: string, certificate: Uint8Array) {
    const link = this.#link
    return verifyPeer(
      {
        caCertificateDer: link?.peerTrust.caCertificateDer ?? new Uint8Array(0),
        crls: link?.peerTrust.crls ?? [],
        now: this.#options.now ?? (() => new Date()),
      },
      name,
      certificate,
    )
  }

  /**
   * RTT. Nothing replaces a pending conversation: a request that arrives while one is open (other
   * than a crossed request from our own target) is ignored and the user is told. A peer whose
   * certificate does not verify is refused at once, and the user is told why.
   */
  #onRequest(message: Extract<ServerMessage, { type: "Rtt" }>): void {
    const current = this.#conversation
    const crossed =
      current !== undefined &&
      current.peer === message.from &&
      current.request !== undefined &&
      current.accept === undefined
    if (current !== undefined && !crossed) {
      return this.#options.onUi({
        type: "request_ignored",
        from: message.from,
        message: `${message.from} asked to chat while your conversation with ${current.peer} was pending; the request was ignored.`,
      })
    }
    const certified = this.#verify(message.from, message.certificate)
    if (Result.isFailure(certified)) {
      this.#link?.send({ type: "Refuse", requester: message.from })
      this.#options.onUi({
        type: "request_rejected",
        from: message.from,
        message: `The chat request from ${message.from} was refused: ${certified.failure.message}`,
      })
      if (crossed) {
        this.#endConversation()
        this.#fact({ type: "REQUEST_REFUSED", by: message.from })
      }
      return
    }
    this.#endConversation()
    this.#conversation = {
      peer: message.from,
      since: this.#clock(),
      certified: certified.success,
      incoming: {
        nonce: copy(message.nonce),
        ephemeralKey: copy(message.ephemeralKey),
        kemKey: copy(message.kemKey),
      },
    }
    this.#fact({
      type: "REQUEST_RECEIVED",
      from: message.from,
      keyStatus: this.#keyStatus(certified.success),
    })
  }

  #onAccept(message: Extract<ServerMessage, { type: "Accept" }>): void {
    const conversation = this.#conversation
    if (
      conversation?.peer !== message.from ||
      conversation.request === undefined ||
      conversation.accept !== undefined
    )
      return
    const certified = this.#verify(message.from, message.certificate)
    if (Result.isFailure(certified)) {
      return this.#failChat(
        conversation.peer,
        `The certificate presented for ${message.from} was refused: ${certified.failure.message}`,
      )
    }
    conversation.certified = certified.success
    conversation.accept = {
      ...message,
      certificate: copy(message.certificate),
      nonce: copy(message.nonce),
      ephemeralKey: copy(message.ephemeralKey),
      kemCiphertext: copy(message.kemCiphertext),
      signature: copy(message.signature),
      confirmation: copy(message.confirmation),
    }
    this.#fact({ type: "PEER_ACCEPTED", from: message.from, keyStatus: this.#keyStatus(certified.success) })
  }

  #onEstablishment(message: Extract<ServerMessage, { type: "CcSessionEstablishment" }>): void {
    const conversation = this.#conversation
    if (conversation?.peer !== message.from || conversation.acceptance === undefined) return
    const keys = completeChatAcceptance(conversation.acceptance.pending, message)
    conversation.acceptance = undefined
    if (Result.isFailure(keys)) return this.#failChat(conversation.peer, keys.failure.message)
    this.#ready(conversation, keys.success)
  }

  #onChatMessage(envelope: Uint8Array): void {
    const conversation = this.#conversation
    const chat = conversation?.chat
    if (chat === undefined) return
    const opened = chat.open(envelope)
    if (Result.isFailure(opened)) return this.#failChat(conversation!.peer, opened.failure.message)
    const content = opened.success
    if (content.kind === "text") return this.#fact({ type: "MESSAGE_RECEIVED", text: content.text })
    conversation!.bye = { sent: content.sent, received: content.received, complete: content.complete }
  }

  /** The agreement verified: open the ratchet, pin the key (first use, or the exact key trusted), start. */
  #ready(conversation: Conversation, keys: ChatKeys): void {
    const peer = conversation.certified!
    const status = this.#options.knownPeers.status(peer.name, peer.identityKey)
    const approved =
      conversation.approvedKey !== undefined && bytesEqual(conversation.approvedKey, peer.identityKey)
    if (status === "changed" && !approved) {
      return this.#failChat(
        peer.name,
        `${peer.name}'s key changed and was not trusted; the chat was not started.`,
      )
    }
    conversation.chat = ChatChannel.open(keys, this.#random)
    if (status === "new" || approved) void this.#pin(peer.name, peer.identityKey)
    this.#fact({ type: "CHAT_READY", peer: peer.name, safety: safetyNumber(this.#me, peer) })
  }

  /** A chat ended by the peer or the server: warn when the peer's goodbye is missing or counts more. */
  #reportLoss(conversation: Conversation): void {
    const chat = conversation.chat
    if (chat === undefined || conversation.bye?.complete === true) return
    const sent = conversation.bye?.sent ?? null
    this.#options.onUi({
      type: "messages_lost",
      peer: conversation.peer,
      sent,
      received: chat.received,
      message:
        sent === null
          ? `The chat with ${conversation.peer} ended without their goodbye: messages they sent last may have been lost.`
          : `${conversation.peer} sent ${sent} messages but ${chat.received} arrived: some were lost.`,
    })
  }

  /**
   * The chat cannot be secured or continued: tell the server (NOTIFY — or REFUSE while we are
   * still the target of the request, where NOTIFY is not allowed), drop keys, tell the user.
   */
  #failChat(peer: string, message: string, notice: "Notify" | "Refuse" = "Notify"): void {
    this.#link?.send(notice === "Refuse" ? { type: "Refuse", requester: peer } : { type: "Notify", peer })
    this.#endConversation()
    this.#fact({ type: "CHAT_FAILED", peer, message })
  }

  /** Forgets the conversation; every secret it held is wiped. */
  #endConversation(): void {
    const conversation = this.#conversation
    this.#conversation = undefined
    if (conversation === undefined) return
    conversation.chat?.close()
    if (conversation.request !== undefined && conversation.chat === undefined)
      abandonChatRequest(conversation.request)
    if (conversation.acceptance !== undefined) abandonChatAcceptance(conversation.acceptance.pending)
  }

  async #pin(peer: string, key: Uint8Array): Promise<void> {
    try {
      await this.#options.knownPeers.pin(peer, key)
    } catch (error) {
      this.#options.onUi({
        type: "error",
        code: "pin_failed",
        message: error instanceof Error ? error.message : String(error),
      })
    }
  }

  /**
   * `!trust <number>` on a changed key: only the exact key whose safety number (or fingerprint) the
   * user typed is approved; anything else is refused here, before the chart moves.
   */
  #approve(command: Extract<CommandEvent, { type: "TRUST" }>): boolean {
    const peer = this.#conversation?.certified
    if (peer === undefined || this.#options.knownPeers.status(peer.name, peer.identityKey) !== "changed")
      return true // the chart answers (no peer, or nothing to trust)
    if (command.code === undefined) {
      this.#options.onUi({
        type: "error",
        code: "trust_needs_number",
        message: `Compare the safety number with ${peer.name} first, then type !trust followed by it (the 60 digits, or ${peer.name}'s 30).`,
      })
      return false
    }
    if (!matchesSafety(command.code, this.#me, peer)) {
      this.#options.onUi({
        type: "error",
        code: "trust_mismatch",
        message: `That number does not match ${peer.name}'s current key: nothing was trusted.`,
      })
      return false
    }
    this.#conversation!.approvedKey = copy(peer.identityKey)
    return true
  }

  /** `!verify <number>`: marks the peer's pinned key verified when the number matches it. */
  #verifyTyped(code: string): void {
    const conversation = this.#conversation
    const peer = conversation?.certified
    if (peer === undefined || conversation?.chat === undefined) {
      return this.#options.onUi({
        type: "error",
        code: "no_peer",
        message: "Start a chat first: a number can be verified only for a key in use.",
      })
    }
    if (!matchesSafety(code, this.#me, peer)) {
      return this.#options.onUi({
        type: "error",
        code: "verify_mismatch",
        message: `That number does not match your safety number with ${peer.name}: do not trust this chat until you know why.`,
      })
    }
    void this.#options.knownPeers
      .markVerified(peer.name, peer.identityKey)
      .then((marked) =>
        this.#options.onUi(
          marked
            ? { type: "verified", peer: peer.name }
            : { type: "error", code: "pin_failed", message: `${peer.name}'s key is not pinned yet.` },
        ),
      )
  }

  #carryOut(intent: Intent): void {
    const link = this.#link
    switch (intent.type) {
      case "send.list":
        return link?.send({ type: "List" })
      case "send.request": {
        this.#endConversation()
        const request = startChatRequest(this.#random)
        this.#conversation = { peer: intent.to, since: this.#clock(), request }
        return link?.send({ type: "Rtt", to: intent.to, ...requesterHelloOf(request) })
      }
      case "send.accept":
        return this.#accept(intent.requester)
      case "send.refuse":
        this.#endConversation()
        return link?.send({ type: "Refuse", requester: intent.requester })
      case "send.leave":
        return this.#leave(intent.peer)
      case "send.say":
        return this.#say(intent.text)
      case "send.quit":
        this.#endConversation()
        return link?.close({ quit: true })
      case "complete":
        return this.#complete()
      case "trust":
        return this.#options.onUi({ type: "trusted", peer: intent.peer })
      case "verify": {
        const peer = this.#conversation?.certified
        if (peer === undefined) {
          return this.#options.onUi({
            type: "error",
            code: "no_peer",
            message: "No key has been presented for this peer yet.",
          })
        }
        const pins = this.#options.knownPeers
        return this.#options.onUi({
          type: "safety",
          peer: peer.name,
          safety: safetyNumber(this.#me, peer),
          trusted: pins.status(peer.name, peer.identityKey) === "known",
          verified: pins.isVerified(peer.name, peer.identityKey),
        })
      }
    }
  }

  /** Leaves a chat with an authenticated goodbye that counts what we sent, or withdraws a request. */
  #leave(peer: string): void {
    const chat = this.#conversation?.chat
    if (chat !== undefined) {
      const bye = chat.sealBye()
      if (Result.isSuccess(bye)) this.#link?.send({ type: "Message", envelope: bye.success })
    }
    this.#endConversation()
    this.#link?.send({ type: "Notify", peer })
  }

  #accept(requester: string): void {
    const conversation = this.#conversation
    const peer = conversation?.certified
    if (conversation?.peer !== requester || conversation.incoming === undefined || peer === undefined) return
    const acceptance = acceptChatRequest({
      random: this.#random,
      me: this.#options.identity,
      requester: peer,
      requesterHello: conversation.incoming,
    })
    if (Result.isFailure(acceptance)) return this.#failChat(requester, acceptance.failure.message, "Refuse")
    conversation.acceptance = acceptance.success
    const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = acceptance.success
    this.#link?.send({
      type: "Accept",
      requester,
      nonce,
      ephemeralKey,
      kemCiphertext,
      signature,
      confirmation,
    })
  }

  #complete(): void {
    const conversation = this.#conversation
    const accept = conversation?.accept
    const peer = conversation?.certified
    if (conversation?.request === undefined || accept === undefined || peer === undefined) return
    const completed = completeChatRequest({
      request: conversation.request,
      me: this.#options.identity,
      accepter: peer,
      accept,
    })
    if (Result.isFailure(completed)) return this.#failChat(conversation.peer, completed.failure.message)
    this.#link?.send({
      type: "CcSessionEstablishment",
      accepter: conversation.peer,
      signature: completed.success.signature,
      confirmation: completed.success.confirmation,
    })
    this.#ready(conversation, completed.success.keys)
  }

  #say(text: string): void {
    const chat = this.#conversation?.chat
    if (chat === undefined) return
    if (Buffer.byteLength(text, "utf8") > MAX_TEXT_BYTES) {
      return this.#options.onUi({
        type: "error",
        code: "too_long",
        message: `A message can hold at most ${MAX_TEXT_BYTES} bytes; this one was not sent.`,
      })
    }
    const envelope = chat.seal(text)
    if (Result.isFailure(envelope)) return this.#failChat(this.#conversation!.peer, envelope.failure.message)
    this.#link?.send({ type: "Message", envelope: envelope.success })
  }
}
