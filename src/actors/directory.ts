/**
 * The supervisor's directory: who is online on which connection, and who is in a request or chat
 * with whom. Pure bookkeeping; every routing decision the supervisor makes is a question asked
 * here. Lookups are O(1). The names LIST shows (online, not in a conversation) are kept in a sorted
 * array maintained as they change (a binary search, then one splice: a memmove, no sort), so a LIST
 * costs O(log N + MAX_LIST_NAMES) however many users are online. Owned by exactly one supervisor
 * actor; never shared. docs/protocol.md §11.
 */
import { MAX_LIST_NAMES } from "../protocol/constants.ts"
import { NotFoundReason } from "../protocol/opcodes.ts"
import type { ConnectionId, OnlineUser } from "./connection.events.ts"

export type ConversationPhase = "requested" | "establishing" | "chatting"

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
export interface PeerRef {
  readonly name: string
  readonly connectionId: ConnectionId
}

/**
 * Index of the first name in `sorted` that is not less than `name`, in the order of a default
 * `Array.prototype.sort` (UTF-16 code units, which is also the order of `<` on strings).
 */
const lowerBound = (sorted: ReadonlyArray<string>, name: string): number => {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (sorted[mid]! < name) low = mid + 1
    else high = mid
  }
  return low
}

export class Directory {
  readonly #users = new Map<string, Entry>()
  readonly #names = new Map<ConnectionId, string>()
  readonly #conversations = new Map<string, Conversation>()
  /** Available names (online and not in a conversation), sorted; see #refresh. */
  readonly #available: string[] = []

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
    this.#refresh(user.name)
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
    this.#refresh(name)
    return peer === undefined ? { name } : { name, peer }
  }

  /** Available users (online, not in a conversation) other than `asker`, sorted, capped. */
  list(asker: string): { readonly total: number; readonly names: ReadonlyArray<string> } {
    const available = this.#available
    const at = lowerBound(available, asker)
    const askerAvailable = available[at] === asker
    const total = askerAvailable ? available.length - 1 : available.length
    if (!askerAvailable || at >= MAX_LIST_NAMES) return { total, names: available.slice(0, MAX_LIST_NAMES) }
    const names = available.slice(0, MAX_LIST_NAMES + 1)
    names.splice(at, 1)
    return { total, names }
  }

  /** Opens a request from → to, or says why not (exact name match; no prefixes). */
  request(from: string, to: string): { readonly target: Entry } | { readonly refused: NotFoundReason } {
    if (from === to) return { refused: NotFoundReason.Yourself }
    const target = this.#users.get(to)
    if (target === undefined) return { refused: NotFoundReason.NotOnline }
    if (this.#conversations.has(to) || this.#conversations.has(from)) return { refused: NotFoundReason.Busy }
    this.#conversations.set(from, { peer: to, role: "requester", phase: "requested" })
    this.#conversations.set(to, { peer: from, role: "accepter", phase: "requested" })
    this.#refresh(from)
    this.#refresh(to)
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
    this.#refresh(name)
    this.#refresh(conversation.peer)
    const entry = this.#users.get(conversation.peer)
    return entry === undefined ? undefined : { name: conversation.peer, connectionId: entry.connectionId }
  }

  /**
   * Puts `name` in or out of the available index to match the maps: the one place the index
   * changes, called for every name whose online or conversation state may just have changed
   * (advance only changes a phase, which LIST does not look at).
   */
  #refresh(name: string): void {
    const available = this.#users.has(name) && !this.#conversations.has(name)
    const at = lowerBound(this.#available, name)
    const listed = this.#available[at] === name
    if (available && !listed) this.#available.splice(at, 0, name)
    else if (!available && listed) this.#available.splice(at, 1)
  }
}
