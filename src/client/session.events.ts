/**
 * The vocabulary of the client session: what the user asks (commands), what the session runtime
 * reports (facts, after it did the crypto and key pinning), what the machine asks the runtime to
 * do (intents), and what the person or script is shown (UI events, the `--json` output).
 * Pure types; no I/O.
 */

/** How a peer's presented identity key compares with the pinned one (trust on first use). */
export type KeyStatus = "new" | "known" | "changed"

/**
 * Why the conversation with a peer ended on their side (NOTIFY, docs/protocol.md §6.1): they left,
 * were disconnected (or logged in elsewhere), their connection failed, they withdrew the request
 * they sent you, or a request (yours or theirs) expired unanswered.
 */
export type PeerLeftReason = "left" | "disconnected" | "failed" | "withdrawn" | "expired"

/** Why a request found no one (USER_NOT_FOUND, §6.1). */
export type NotFoundReason = "not_online" | "busy" | "yourself"

/** The server this client logged in to, as its verified certificate says (subject, names, fingerprint). */
/** Who the client logged in to, as its verified certificate says: public facts, shown once at login. */
export interface ServerIdentity {
  /** The certificate's subject, e.g. "CN=onechat.example". */
  readonly subject: string
  /** The DNS names and IP addresses it is valid for (subjectAltName), in order. */
  readonly names: ReadonlyArray<string>
  /** SHA-256 of its DER as `openssl x509 -noout -fingerprint -sha256` prints it: "AB:CD:…". */
  readonly fingerprint: string
}

/** Typed by the user (after parsing `!commands`). */
export type CommandEvent =
  | { readonly type: "LIST" }
  | { readonly type: "REQUEST"; readonly user: string }
  | { readonly type: "ACCEPT" }
  | { readonly type: "REFUSE" }
  | { readonly type: "CANCEL" }
  | { readonly type: "SAY"; readonly text: string }
  /** `!quit`: leaves the chat, withdraws your request or declines one to you; else exits. */
  | { readonly type: "QUIT" }
  /** `!verify [number]`: show the safety number; with the number the user compared, mark the key verified. */
  | { readonly type: "VERIFY"; readonly code?: string }
  /** `!trust <number>`: accept the changed key whose safety number (or fingerprint) is `code`. */
  | { readonly type: "TRUST"; readonly code?: string }
  | { readonly type: "HELP" }

/** Reported by the runtime: server messages after verification, and the connection's fate. */
export type FactEvent =
  | {
      readonly type: "LOGGED_IN"
      readonly online: ReadonlyArray<string>
      readonly server: ServerIdentity
    }
  | { readonly type: "ONLINE_LIST"; readonly online: ReadonlyArray<string> }
  | { readonly type: "REQUEST_RECEIVED"; readonly from: string; readonly keyStatus: KeyStatus }
  | { readonly type: "REQUEST_NOT_FOUND"; readonly user: string; readonly reason: NotFoundReason }
  | { readonly type: "REQUEST_REFUSED"; readonly by: string }
  | { readonly type: "PEER_ACCEPTED"; readonly from: string; readonly keyStatus: KeyStatus }
  | { readonly type: "CHAT_READY"; readonly peer: string; readonly safety: string }
  | { readonly type: "CHAT_FAILED"; readonly peer: string; readonly message: string }
  | { readonly type: "MESSAGE_RECEIVED"; readonly text: string }
  /** NOTIFY; `waitedMs`: how long the request had been pending (for "expired"). */
  | {
      readonly type: "PEER_LEFT"
      readonly peer: string
      readonly reason: PeerLeftReason
      readonly waitedMs?: number
    }
  | { readonly type: "SERVER_ERROR"; readonly code: string; readonly message: string }
  | { readonly type: "CONNECTION_CLOSED"; readonly reason: string; readonly message: string }

export type SessionEvent = CommandEvent | FactEvent

/** What the machine asks the runtime to do. */
export type Intent =
  | { readonly type: "send.list" }
  | { readonly type: "send.request"; readonly to: string }
  | { readonly type: "send.accept"; readonly requester: string }
  | { readonly type: "send.refuse"; readonly requester: string }
  /** NOTIFY: withdraw a request or leave a chat; the runtime drops that conversation's keys. */
  | { readonly type: "send.leave"; readonly peer: string }
  | { readonly type: "send.say"; readonly text: string }
  | { readonly type: "send.quit" }
  /** Requester: verify ACCEPT and answer with CC_SESSION_ESTABLISHMENT. */
  | { readonly type: "complete"; readonly peer: string }
  /** The user trusted the peer's changed key (the runtime checked the number they typed against it). */
  | { readonly type: "trust"; readonly peer: string }
  /** Show the safety number of the current peer. */
  | { readonly type: "verify"; readonly peer: string }

/** Shown to the person, or printed as one JSON object per line in `--json` mode. */
export type UiEvent =
  | {
      readonly type: "ready"
      readonly user: string
      readonly online: ReadonlyArray<string>
      readonly server: ServerIdentity
    }
  | { readonly type: "list"; readonly online: ReadonlyArray<string> }
  | { readonly type: "request_sent"; readonly to: string }
  | { readonly type: "request"; readonly from: string }
  | { readonly type: "request_cancelled"; readonly to: string }
  | { readonly type: "refused"; readonly by: string }
  /** You answered `from`'s request with no (`!refuse`, or `!quit` while being asked). */
  | { readonly type: "request_declined"; readonly from: string }
  | { readonly type: "not_found"; readonly user: string; readonly reason: NotFoundReason }
  | { readonly type: "chat_started"; readonly peer: string; readonly safety: string }
  | { readonly type: "message"; readonly from: string; readonly text: string }
  | {
      readonly type: "peer_left"
      readonly peer: string
      readonly reason: Exclude<PeerLeftReason, "expired">
    }
  /** A request expired unanswered: yours to `peer` (outgoing) or theirs to you (incoming). */
  | {
      readonly type: "peer_left"
      readonly peer: string
      readonly reason: "expired"
      readonly direction: "outgoing" | "incoming"
      /** How long it had been pending, as this client measured it (tenths below 10 s). */
      readonly seconds: number
    }
  | { readonly type: "chat_ended"; readonly peer: string }
  | { readonly type: "key_changed"; readonly peer: string; readonly safety: string }
  | {
      readonly type: "safety"
      readonly peer: string
      readonly safety: string
      readonly trusted: boolean
      readonly verified: boolean
    }
  | { readonly type: "trusted"; readonly peer: string }
  | { readonly type: "verified"; readonly peer: string }
  /** A request refused by this client: the peer's certificate did not verify (`message` says why). */
  | { readonly type: "request_rejected"; readonly from: string; readonly message: string }
  /** A request that arrived while another request or chat was pending: ignored, never replacing it. */
  | { readonly type: "request_ignored"; readonly from: string; readonly message: string }
  /** The chat ended without the peer's authenticated goodbye, or with fewer messages than it counted. */
  | {
      readonly type: "messages_lost"
      readonly peer: string
      readonly sent: number | null
      readonly received: number
      readonly message: string
    }
  | { readonly type: "help"; readonly commands: ReadonlyArray<string> }
  | { readonly type: "error"; readonly code: string; readonly message: string }
  /**
   * Last event. `reason`: "quit", "login_failed", "server_stopping", "server_closed",
   * "connection_lost", or the server's fatal error code in snake case ("session_replaced", …).
   */
  | { readonly type: "closed"; readonly reason: string }

export type SessionEmitted =
  | { readonly type: "intent"; readonly intent: Intent }
  | { readonly type: "ui"; readonly event: UiEvent }

export const HELP_LINES: ReadonlyArray<string> = [
  "!list              show who is online and available",
  "!request <user>    ask <user> to chat",
  "!accept / !refuse  answer a chat request",
  "!cancel            withdraw your pending request",
  "!verify [number]   show the safety number with your peer; with the number you compared, mark it verified",
  "!trust <number>    accept your peer's changed key: type the safety number you compared",
  "!help              this list",
  "!quit              leave the chat, withdraw your request or decline one; otherwise exit",
  "anything else      in a chat: send it as a message",
]
