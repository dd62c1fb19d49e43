/**
 * The Directory as it was before its sorted index of available names: the reference the property
 * test runs in lockstep with src/actors/directory.ts. Its list() is the naive algorithm (collect
 * every online name, drop those in a conversation, sort, cap) on every call. Test-only; keep it
 * as it is, so the real Directory is always checked against the original behaviour.
 */
import type { ConnectionId, OnlineUser } from "../../src/actors/connection.events.ts"
import { MAX_LIST_NAMES } from "../../src/protocol/constants.ts"
import { NotFoundReason } from "../../src/protocol/opcodes.ts"

type ConversationPhase = "requested" | "establishing" | "chatting"

interface Entry {
  readonly connectionId: ConnectionId
  readonly user: OnlineUser
}

interface Conversation {
  readonly peer: string
  readonly role: "requester" | "accepter"
  phase: ConversationPhase
}

/** The other side of a conversation that just ended or changed: whom to tell. */
interface PeerRef {
  readonly name: string
  readonly connectionId: ConnectionId
}

export class ReferenceDirectory {
  readonly #users = new Map<string, Entry>()
  readonly #names = new Map<ConnectionId, string>()
  readonly #conversations = new Map<string, Conversation>()

  get onlineCount(): number {
    return this.#users.size
  }

  nameOf(connectionId: ConnectionId): string | undefined {
    return this.#names.get(connectionId)
  }

  connectionOf(name: string): ConnectionId | undefined {
    return this.#users.get(name)?.connectionId
  }

  userOf(name: string): OnlineUser | undefined {
    return this.#users.get(name)?.user
  }

  phaseOf(name: string): ConversationPhase | undefined {
    return this.#conversations.get(name)?.phase
  }

  /**
   * Registers a login. A previous connection of the same name is displaced (returned, so the
   * supervisor can close it), and its conversation is ended (the peer returned, to be told).
   */
  register(
    connectionId: ConnectionId,
    user: OnlineUser,
  ): { readonly displaced?: ConnectionId; readonly orphanedPeer?: PeerRef } {
    const previous = this.#users.get(user.name)
    const orphanedPeer = previous === undefined ? undefined : this.endConversation(user.name)
    if (previous !== undefined) this.#names.delete(previous.connectionId)
    this.#users.set(user.name, { connectionId, user })
    this.#names.set(connectionId, user.name)
    return {
      ...(previous === undefined ? {} : { displaced: previous.connectionId }),
      ...(orphanedPeer === undefined ? {} : { orphanedPeer }),
    }
  }

  /** Forgets a closed connection; returns its conversation peer (to be told), if any. */
  unregister(connectionId: ConnectionId): { readonly name?: string; readonly peer?: PeerRef } {
    const name = this.#names.get(connectionId)
    if (name === undefined) return {}
    this.#names.delete(connectionId)
    const peer = this.endConversation(name)
    this.#users.delete(name)
    return peer === undefined ? { name } : { name, peer }
  }

  /** Available users (online, not in a conversation) other than `asker`, sorted, capped. */
  list(asker: string): { readonly total: number; readonly names: ReadonlyArray<string> } {
    const names: string[] = []
    for (const name of this.#users.keys()) {
      if (name !== asker && !this.#conversations.has(name)) names.push(name)
    }
    names.sort()
    return {
      total: names.length,
      names: names.length > MAX_LIST_NAMES ? names.slice(0, MAX_LIST_NAMES) : names,
    }
  }

  /** Opens a request from → to, or says why not (exact name match; no prefixes). */
  request(from: string, to: string): { readonly target: Entry } | { readonly refused: NotFoundReason } {
    if (from === to) return { refused: NotFoundReason.Yourself }
    const target = this.#users.get(to)
    if (target === undefined) return { refused: NotFoundReason.NotOnline }
    if (this.#conversations.has(to) || this.#conversations.has(from)) return { refused: NotFoundReason.Busy }
    this.#conversations.set(from, { peer: to, role: "requester", phase: "requested" })
    this.#conversations.set(to, { peer: from, role: "accepter", phase: "requested" })
    return { target }
  }

  /**
   * Moves the conversation of `name` (in `role`, with `peer`, in phase `from`) to phase `to`.
   * Returns the peer, or undefined when the conversation is not in that shape (a stale message).
   */
  advance(
    name: string,
    role: Conversation["role"],
    peer: string,
    from: ConversationPhase,
    to: ConversationPhase,
  ): PeerRef | undefined {
    const mine = this.#conversations.get(name)
    const theirs = this.#conversations.get(peer)
    const peerEntry = this.#users.get(peer)
    if (mine?.role !== role || mine.peer !== peer || mine.phase !== from) return undefined
    if (theirs === undefined || peerEntry === undefined) return undefined
    mine.phase = to
    theirs.phase = to
    return { name: peer, connectionId: peerEntry.connectionId }
  }

  /** The chat peer of `name` when their chat is established (the relay's hot path). */
  chatPeer(name: string): ConnectionId | undefined {
    const conversation = this.#conversations.get(name)
    if (conversation?.phase !== "chatting") return undefined
    return this.#users.get(conversation.peer)?.connectionId
  }

  /** Ends the conversation of `name` if it is with `peer` (or with anyone, when omitted). */
  endConversation(name: string, peer?: string): PeerRef | undefined {
    const conversation = this.#conversations.get(name)
    if (conversation === undefined || (peer !== undefined && conversation.peer !== peer)) return undefined
    this.#conversations.delete(name)
    if (this.#conversations.get(conversation.peer)?.peer === name)
      this.#conversations.delete(conversation.peer)
    const entry = this.#users.get(conversation.peer)
    return entry === undefined ? undefined : { name: conversation.peer, connectionId: entry.connectionId }
  }
}
