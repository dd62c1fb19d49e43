/**
 * The vocabulary of a connection actor: events it receives from its transport (one per client
 * opcode, consecutive MESSAGEs batched), from the supervisor, and the events it emits to the
 * transport and sends to the supervisor. Pure types and one pure mapping; no I/O.
 */
import type { ClientMessage } from "../protocol/messages-client.ts"
import type { ServerMessage } from "../protocol/messages-server.ts"
import type { NotFoundReason, NotifyReason } from "../protocol/opcodes.ts"

export type ConnectionId = string

/**
 * A logged-in user as the server knows them: name, registered Ed25519 key, and the CA-issued
 * certificate for that key (DER), which RTT and ACCEPT carry to the peer (docs/protocol.md §8).
 */
export interface OnlineUser {
  readonly name: string
  readonly identityKey: Uint8Array
  readonly certificate: Uint8Array
}

/** Client opcodes, as events (docs/protocol.md §6.1). */
export type ClientOpcodeEvent =
  | { readonly type: "QUIT" }
  | { readonly type: "LIST" }
  | {
      readonly type: "RTT"
      readonly to: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemKey: Uint8Array
    }
  | {
      readonly type: "ACCEPT"
      readonly requester: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemCiphertext: Uint8Array
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "REFUSE"; readonly requester: string }
  | { readonly type: "MESSAGE"; readonly envelopes: ReadonlyArray<Uint8Array> }
  | {
      readonly type: "CC_SESSION_ESTABLISHMENT"
      readonly accepter: string
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "NOTIFY"; readonly peer: string }
  | { readonly type: "ERROR"; readonly code: number; readonly text: string }
  | { readonly type: "PING"; readonly value: bigint }
  | { readonly type: "PONG"; readonly value: bigint }

/** From the transport that owns the socket and the record channel. */
export type TransportEvent =
  | { readonly type: "LOGIN_VERIFIED"; readonly user: OnlineUser }
  | { readonly type: "LOGIN_FAILED"; readonly code: number; readonly text: string }
  /** Records arrived from the client (once per socket read): resets the idle timer. */
  | { readonly type: "CLIENT_ACTIVE" }
  /** The socket ended (EOF or error): nothing can be sent any more. */
  | { readonly type: "TRANSPORT_CLOSED" }
  /** The transport must end the connection (bad record, malformed message, slow consumer, …). */
  | { readonly type: "TRANSPORT_FAILED"; readonly code: number; readonly text: string }

/** From the supervisor (routing results and peers' actions). */
export type SupervisorEvent =
  | { readonly type: "LIST_READY"; readonly total: number; readonly names: ReadonlyArray<string> }
  | { readonly type: "REQUEST_FAILED"; readonly target: string; readonly reason: NotFoundReason }
  | {
      readonly type: "REQUEST_INCOMING"
      readonly from: OnlineUser
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemKey: Uint8Array
    }
  | {
      readonly type: "REQUEST_ACCEPTED"
      readonly from: OnlineUser
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemCiphertext: Uint8Array
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "REQUEST_REFUSED"; readonly from: string }
  | {
      readonly type: "CHAT_ESTABLISHED"
      readonly from: string
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "PEER_MESSAGE"; readonly envelopes: ReadonlyArray<Uint8Array> }
  | { readonly type: "PEER_LEFT"; readonly peer: string; readonly reason: NotifyReason }
  /** The server ends this connection: session replaced, user revoked, shutting down. */
  | { readonly type: "KICK"; readonly code: number; readonly text: string }

export type ConnectionEvent = ClientOpcodeEvent | TransportEvent | SupervisorEvent

/** Emitted to the transport: messages to seal and write, and the end of the connection. */
export type ConnectionEmitted =
  | { readonly type: "outbound"; readonly messages: ReadonlyArray<ServerMessage> }
  /** MESSAGEs for the client, one per envelope, in order (the relay's batch: one event, no objects per envelope). */
  | { readonly type: "relay"; readonly envelopes: ReadonlyArray<Uint8Array> }
  /** Close the socket; send a fatal ERROR with `code` first when one is given. */
  | { readonly type: "close"; readonly code?: number; readonly text?: string }

/** Why a connection ended, as the supervisor needs it to tell the peer. */
export type CloseReason = "quit" | "disconnected" | "kicked" | "failed"

/** Maps one decoded client message to its event. MESSAGE batching is done by the caller. */
export const clientEventOf = (message: ClientMessage): ClientOpcodeEvent => {
  switch (message.type) {
    case "Quit":
      return { type: "QUIT" }
    case "List":
      return { type: "LIST" }
    case "Rtt":
      return {
        type: "RTT",
        to: message.to,
        nonce: message.nonce,
        ephemeralKey: message.ephemeralKey,
        kemKey: message.kemKey,
      }
    case "Accept":
      return { ...message, type: "ACCEPT" }
    case "Refuse":
      return { type: "REFUSE", requester: message.requester }
    case "Message":
      return { type: "MESSAGE", envelopes: [message.envelope] }
    case "CcSessionEstablishment":
      return { ...message, type: "CC_SESSION_ESTABLISHMENT" }
    case "Notify":
      return { type: "NOTIFY", peer: message.peer }
    case "Error":
      return { type: "ERROR", code: message.code, text: message.text }
    case "Ping":
      return { type: "PING", value: message.value }
    case "Pong":
      return { type: "PONG", value: message.value }
  }
}

/** Sent by a connection actor to its supervisor. Every report names its connection. */
export type ConnectionReport =
  | { readonly type: "USER_ONLINE"; readonly connectionId: ConnectionId; readonly user: OnlineUser }
  | { readonly type: "LIST_REQUESTED"; readonly connectionId: ConnectionId }
  | {
      readonly type: "CHAT_REQUESTED"
      readonly connectionId: ConnectionId
      readonly to: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemKey: Uint8Array
    }
  | {
      readonly type: "CHAT_ACCEPTED"
      readonly connectionId: ConnectionId
      readonly requester: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemCiphertext: Uint8Array
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "CHAT_REFUSED"; readonly connectionId: ConnectionId; readonly requester: string }
  | {
      readonly type: "CHAT_ESTABLISHING"
      readonly connectionId: ConnectionId
      readonly accepter: string
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | {
      readonly type: "CHAT_MESSAGES"
      readonly connectionId: ConnectionId
      readonly envelopes: ReadonlyArray<Uint8Array>
    }
  | {
      readonly type: "CONVERSATION_ENDED"
      readonly connectionId: ConnectionId
      readonly peer: string
      readonly reason: NotifyReason
    }
  | { readonly type: "CONNECTION_CLOSED"; readonly connectionId: ConnectionId; readonly reason: CloseReason }
