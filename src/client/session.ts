/**
 * The client session runtime: runs the session chart, connects and logs in through the link, does
 * the end-to-end crypto and key pinning, turns server messages into facts for the chart and the
 * chart's intents into messages. Shows everything through `onUi` (terminal or `--json`).
 * Never shows key material; peer text is handed over as-is (the terminal sanitises it).
 */
import { Result } from "effect"
import { createActor } from "xstate"
import {
  acceptChatRequest,
  type ChatAcceptance,
  type ChatChannel,
  type ChatRequest,
  completeChatAcceptance,
  completeChatRequest,
  startChatRequest,
} from "../crypto/e2e.ts"
import type { LoginIdentity } from "../crypto/handshake-client.ts"
import { type Random, systemRandom } from "../crypto/primitives.ts"
import { safetyNumber } from "../crypto/safety.ts"
import {
  ErrorCode,
  errorCodeInfo,
  MAX_TEXT_BYTES,
  NotFoundReason,
  type ServerMessage,
} from "../protocol/index.ts"
import { parseCommand } from "./commands.ts"
import type { KnownPeers } from "./known-peers.ts"
import { type ClientLink, describeLinkClosed, type LinkClosed, LinkError } from "./link.ts"
import type { Intent, KeyStatus, SessionEvent, UiEvent } from "./session.events.ts"
import { sessionMachine } from "./session.machine.ts"

export interface SessionOptions {
  readonly identity: LoginIdentity
  readonly connect: () => Promise<ClientLink>
  readonly knownPeers: KnownPeers
  readonly onUi: (event: UiEvent) => void
  readonly random?: Random
}

/** What the runtime knows about the current conversation, crypto included. */
interface Conversation {
  readonly peer: string
  /** The identity key the server presented for the peer. */
  presentedKey?: Uint8Array
  request?: ChatRequest
  incoming?: { readonly nonce: Uint8Array; readonly ephemeralKey: Uint8Array }
  acceptance?: ChatAcceptance | undefined
  accept?: Extract<ServerMessage, { type: "Accept" }>
  chat?: ChatChannel
}

const snake = (name: string): string =>
  name.replace(/[A-Z]/g, (c, i: number) => `${i === 0 ? "" : "_"}${c.toLowerCase()}`)

const notFoundReason = (reason: number): string =>
  reason === NotFoundReason.Busy ? "busy" : reason === NotFoundReason.Yourself ? "yourself" : "not_online"

const closeReasonOf = (closed: LinkClosed): string => {
  if (closed.reason === "server-error") {
    if (closed.code === ErrorCode.ShuttingDown) return "server_shutdown"
    return snake(errorCodeInfo(closed.code).name)
  }
  return closed.reason === "local" ? "quit" : closed.reason === "eof" ? "server_closed" : "connection_lost"
}

export class ClientSession {
  readonly #options: SessionOptions
  readonly #actor
  readonly #random: Random
  #link: ClientLink | undefined
  #conversation: Conversation | undefined
  readonly done: Promise<{ readonly reason: string }>

  constructor(options: SessionOptions) {
    this.#options = options
    this.#random = options.random ?? systemRandom
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
    this.#fact({ type: "LOGGED_IN", online: link.welcome.names })
  }

  /** One line typed by the user (a `!command` or chat text). */
  command(line: string): void {
    const parsed = parseCommand(line)
    if (parsed === undefined) return
    if ("error" in parsed) {
      this.#options.onUi({ type: "error", code: parsed.code, message: parsed.error })
      return
    }
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
        if (this.#conversation?.peer === message.peer) this.#endConversation()
        return this.#fact({ type: "PEER_LEFT", peer: message.peer })
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

  #keyStatus(peer: string, key: Uint8Array): KeyStatus {
    const status = this.#options.knownPeers.status(peer, key)
    if (status === "changed") {
      this.#options.onUi({ type: "key_changed", peer, safety: this.#safety(peer, key) })
    }
    return status
  }

  #safety(peer: string, key: Uint8Array): string {
    const me = this.#options.identity
    return safetyNumber({ name: me.name, identityKey: me.key.publicKey }, { name: peer, identityKey: key })
  }

  #onRequest(message: Extract<ServerMessage, { type: "Rtt" }>): void {
    if (this.#conversation?.chat !== undefined || this.#conversation?.acceptance !== undefined) return
    this.#endConversation()
    this.#conversation = {
      peer: message.from,
      presentedKey: Uint8Array.from(message.identityKey),
      incoming: {
        nonce: Uint8Array.from(message.nonce),
        ephemeralKey: Uint8Array.from(message.ephemeralKey),
      },
    }
    this.#fact({
      type: "REQUEST_RECEIVED",
      from: message.from,
      keyStatus: this.#keyStatus(message.from, message.identityKey),
    })
  }

  #onAccept(message: Extract<ServerMessage, { type: "Accept" }>): void {
    const conversation = this.#conversation
    if (conversation?.peer !== message.from || conversation.request === undefined) return
    conversation.presentedKey = Uint8Array.from(message.identityKey)
    conversation.accept = message
    this.#fact({
      type: "PEER_ACCEPTED",
      from: message.from,
      keyStatus: this.#keyStatus(message.from, message.identityKey),
    })
  }

  #onEstablishment(message: Extract<ServerMessage, { type: "CcSessionEstablishment" }>): void {
    const conversation = this.#conversation
    if (conversation?.peer !== message.from || conversation.acceptance === undefined) return
    const chat = completeChatAcceptance(conversation.acceptance.pending, message)
    conversation.acceptance = undefined
    if (Result.isFailure(chat)) return this.#failChat(conversation.peer, chat.failure.message)
    conversation.chat = chat.success
    this.#ready(conversation)
  }

  #onChatMessage(envelope: Uint8Array): void {
    const conversation = this.#conversation
    if (conversation?.chat === undefined) return
    const text = conversation.chat.open(envelope)
    if (Result.isFailure(text)) return this.#failChat(conversation.peer, text.failure.message)
    this.#fact({ type: "MESSAGE_RECEIVED", text: text.success })
  }

  #ready(conversation: Conversation): void {
    const key = conversation.presentedKey!
    if (this.#options.knownPeers.status(conversation.peer, key) === "new")
      void this.#pin(conversation.peer, key)
    this.#fact({ type: "CHAT_READY", peer: conversation.peer, safety: this.#safety(conversation.peer, key) })
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

  #endConversation(): void {
    this.#conversation?.chat?.close()
    this.#conversation = undefined
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

  #carryOut(intent: Intent): void {
    const link = this.#link
    switch (intent.type) {
      case "send.list":
        return link?.send({ type: "List" })
      case "send.request": {
        const request = startChatRequest(this.#random)
        this.#endConversation()
        this.#conversation = { peer: intent.to, request }
        return link?.send({
          type: "Rtt",
          to: intent.to,
          nonce: request.nonce,
          ephemeralKey: request.ephemeral.publicKey,
        })
      }
      case "send.accept":
        return this.#accept(intent.requester)
      case "send.refuse":
        this.#endConversation()
        return link?.send({ type: "Refuse", requester: intent.requester })
      case "send.leave":
        this.#endConversation()
        return link?.send({ type: "Notify", peer: intent.peer })
      case "send.say":
        return this.#say(intent.text)
      case "send.quit":
        this.#endConversation()
        return link?.close({ quit: true })
      case "complete":
        return this.#complete()
      case "trust": {
        const key = this.#conversation?.presentedKey
        if (key === undefined) return
        void this.#pin(intent.peer, key)
        return this.#options.onUi({ type: "trusted", peer: intent.peer })
      }
      case "verify": {
        const key = this.#conversation?.presentedKey
        if (key === undefined) {
          return this.#options.onUi({
            type: "error",
            code: "no_peer",
            message: "No key has been presented for this peer yet.",
          })
        }
        const trusted = this.#options.knownPeers.status(intent.peer, key) === "known"
        return this.#options.onUi({
          type: "safety",
          peer: intent.peer,
          safety: this.#safety(intent.peer, key),
          trusted,
        })
      }
    }
  }

  #accept(requester: string): void {
    const conversation = this.#conversation
    if (
      conversation?.peer !== requester ||
      conversation.incoming === undefined ||
      conversation.presentedKey === undefined
    )
      return
    const acceptance = acceptChatRequest({
      random: this.#random,
      me: this.#options.identity,
      requester: { name: requester, identityKey: conversation.presentedKey },
      requesterNonce: conversation.incoming.nonce,
      requesterEphemeralKey: conversation.incoming.ephemeralKey,
    })
    if (Result.isFailure(acceptance)) return this.#failChat(requester, acceptance.failure.message, "Refuse")
    conversation.acceptance = acceptance.success
    const { nonce, ephemeralKey, signature, confirmation } = acceptance.success
    this.#link?.send({ type: "Accept", requester, nonce, ephemeralKey, signature, confirmation })
  }

  #complete(): void {
    const conversation = this.#conversation
    const accept = conversation?.accept
    if (
      conversation?.request === undefined ||
      accept === undefined ||
      conversation.presentedKey === undefined
    )
      return
    const completed = completeChatRequest({
      request: conversation.request,
      me: this.#options.identity,
      accepter: { name: conversation.peer, identityKey: conversation.presentedKey },
      accept,
    })
    if (Result.isFailure(completed)) return this.#failChat(conversation.peer, completed.failure.message)
    conversation.chat = completed.success.chat
    this.#link?.send({
      type: "CcSessionEstablishment",
      accepter: conversation.peer,
      signature: completed.success.signature,
      confirmation: completed.success.confirmation,
    })
    this.#ready(conversation)
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
