/**
 * One actor per client connection: the rule book of what a client may do in each state
 * (authenticating → online{session: idle | requesting | chatting, liveness} → closing).
 * Pure data + named actions/guards/delays: no sockets, no crypto. Outbound messages are emitted
 * for the transport; routing requests go to the supervisor. docs/protocol.md §6, §11.
 */
import { assign, emit, sendParent, setup } from "xstate"
import { ErrorCode, errorCodeInfo } from "../protocol/error-codes.ts"
import type { ServerMessage } from "../protocol/messages-server.ts"
import { NotifyReason } from "../protocol/opcodes.ts"
import type {
  CloseReason,
  ConnectionEmitted,
  ConnectionEvent,
  ConnectionId,
  ConnectionReport,
  OnlineUser,
} from "./connection.events.ts"

/** Timeouts in milliseconds; the named delays of the chart. */
export interface ConnectionLimits {
  readonly handshakeTimeoutMs: number
  readonly idlePingMs: number
  readonly idleTimeoutMs: number
  readonly requestTimeoutMs: number
}

export const defaultConnectionLimits: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  idlePingMs: 30_000,
  idleTimeoutMs: 15_000,
  requestTimeoutMs: 60_000,
}

export interface ConnectionInput {
  readonly connectionId: ConnectionId
  readonly limits: ConnectionLimits
}

export interface ConnectionContext {
  readonly connectionId: ConnectionId
  readonly limits: ConnectionLimits
  readonly user: OnlineUser | undefined
  /** The other user of the current request or chat. */
  readonly peer: string | undefined
  readonly role: "requester" | "accepter" | undefined
  /** How the connection ends, set by the transition into `closing`. */
  readonly ending: { readonly reason: CloseReason; readonly code?: number; readonly text?: string }
}

const out = (...messages: ServerMessage[]): ConnectionEmitted => ({ type: "outbound", messages })
const errorMessage = (code: ErrorCode, fatal: boolean): ServerMessage => ({
  type: "Error",
  code,
  fatal,
  text: errorCodeInfo(code).sentence,
})
const report = (event: ConnectionReport): ConnectionReport => event
const ending = (reason: CloseReason, code?: number, text?: string): ConnectionContext["ending"] =>
  code === undefined ? { reason } : { reason, code, text: text ?? errorCodeInfo(code).sentence }

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
    emitted: {} as ConnectionEmitted,
  },
  delays: {
    handshakeTimeout: ({ context }) => context.limits.handshakeTimeoutMs,
    idlePing: ({ context }) => context.limits.idlePingMs,
    idleTimeout: ({ context }) => context.limits.idleTimeoutMs,
    requestTimeout: ({ context }) => context.limits.requestTimeoutMs,
  },
  guards: {
    namesRequester: ({ context, event }) =>
      (event.type === "ACCEPT" || event.type === "REFUSE") && event.requester === context.peer,
    namesAccepter: ({ context, event }) =>
      event.type === "CC_SESSION_ESTABLISHMENT" &&
      context.role === "requester" &&
      event.accepter === context.peer,
    isRequester: ({ context }) => context.role === "requester",
    namesPeer: ({ context, event }) => event.type === "NOTIFY" && event.peer === context.peer,
    fromPeer: ({ context, event }) =>
      ((event.type === "REQUEST_ACCEPTED" || event.type === "REQUEST_INCOMING") &&
        event.from.name === context.peer) ||
      ((event.type === "REQUEST_REFUSED" || event.type === "CHAT_ESTABLISHED") &&
        event.from === context.peer) ||
      (event.type === "PEER_LEFT" && event.peer === context.peer) ||
      (event.type === "REQUEST_FAILED" && event.target === context.peer),
  },
  actions: {
    rememberUser: assign({ user: ({ event }) => (event.type === "LOGIN_VERIFIED" ? event.user : undefined) }),
    reportOnline: sendParent(({ context, event }) =>
      report({
        type: "USER_ONLINE",
        connectionId: context.connectionId,
        user: event.type === "LOGIN_VERIFIED" ? event.user : (context.user as OnlineUser),
      }),
    ),
    requestList: sendParent(({ context }) =>
      report({ type: "LIST_REQUESTED", connectionId: context.connectionId }),
    ),
    sendList: emit(({ event }) =>
      event.type === "LIST_READY" ? out({ type: "List", total: event.total, names: event.names }) : out(),
    ),
    sendUserNotFound: emit(({ event }) =>
      event.type === "REQUEST_FAILED"
        ? out({ type: "UserNotFound", user: event.target, reason: event.reason })
        : out(),
    ),
    sendPong: emit(({ event }) => out({ type: "Pong", value: event.type === "PING" ? event.value : 0n })),
    sendPing: emit(() => out({ type: "Ping", value: BigInt(Date.now()) })),
    rejectIllegal: emit(() => out(errorMessage(ErrorCode.IllegalState, false))),
    rejectWrongPeer: emit(() => out(errorMessage(ErrorCode.WrongPeer, false))),
    rememberRequestTarget: assign({
      peer: ({ event }) => (event.type === "RTT" ? event.to : undefined),
      role: "requester" as const,
    }),
    reportChatRequested: sendParent(({ context, event }) =>
      event.type === "RTT"
        ? report({ ...event, type: "CHAT_REQUESTED", connectionId: context.connectionId })
        : report({ type: "LIST_REQUESTED", connectionId: context.connectionId }),
    ),
    rememberRequester: assign({
      peer: ({ event }) => (event.type === "REQUEST_INCOMING" ? event.from.name : undefined),
      role: "accepter" as const,
    }),
    deliverRequest: emit(({ event }) =>
      event.type === "REQUEST_INCOMING"
        ? out({
            type: "Rtt",
            from: event.from.name,
            identityKey: event.from.identityKey,
            nonce: event.nonce,
            ephemeralKey: event.ephemeralKey,
          })
        : out(),
    ),
    acceptRequest: sendParent(({ context, event }) =>
      event.type === "ACCEPT"
        ? report({ ...event, type: "CHAT_ACCEPTED", connectionId: context.connectionId })
        : report({ type: "LIST_REQUESTED", connectionId: context.connectionId }),
    ),
    refuseRequest: sendParent(({ context }) =>
      report({ type: "CHAT_REFUSED", connectionId: context.connectionId, requester: context.peer ?? "" }),
    ),
    deliverAcceptance: emit(({ event }) =>
      event.type === "REQUEST_ACCEPTED"
        ? out({
            type: "Accept",
            from: event.from.name,
            identityKey: event.from.identityKey,
            nonce: event.nonce,
            ephemeralKey: event.ephemeralKey,
            signature: event.signature,
            confirmation: event.confirmation,
          })
        : out(),
    ),
    deliverRefusal: emit(({ event }) =>
      event.type === "REQUEST_REFUSED" ? out({ type: "Refuse", from: event.from }) : out(),
    ),
    establishChat: sendParent(({ context, event }) =>
      event.type === "CC_SESSION_ESTABLISHMENT"
        ? report({ ...event, type: "CHAT_ESTABLISHING", connectionId: context.connectionId })
        : report({ type: "LIST_REQUESTED", connectionId: context.connectionId }),
    ),
    deliverEstablishment: emit(({ event }) =>
      event.type === "CHAT_ESTABLISHED"
        ? out({
            type: "CcSessionEstablishment",
            from: event.from,
            signature: event.signature,
            confirmation: event.confirmation,
          })
        : out(),
    ),
    forwardMessages: sendParent(({ context, event }) =>
      report({
        type: "CHAT_MESSAGES",
        connectionId: context.connectionId,
        envelopes: event.type === "MESSAGE" ? event.envelopes : [],
      }),
    ),
    deliverMessages: emit(({ event }) =>
      out(
        ...(event.type === "PEER_MESSAGE" ? event.envelopes : []).map(
          (envelope): ServerMessage => ({ type: "Message", envelope }),
        ),
      ),
    ),
    endConversation: sendParent(({ context }) =>
      report({
        type: "CONVERSATION_ENDED",
        connectionId: context.connectionId,
        peer: context.peer ?? "",
        reason: NotifyReason.Left,
      }),
    ),
    cancelRequest: sendParent(({ context }) =>
      report({
        type: "CONVERSATION_ENDED",
        connectionId: context.connectionId,
        peer: context.peer ?? "",
        reason: NotifyReason.Cancelled,
      }),
    ),
    reportRequestExpired: sendParent(({ context }) =>
      report({
        type: "CONVERSATION_ENDED",
        connectionId: context.connectionId,
        peer: context.peer ?? "",
        reason: NotifyReason.TimedOut,
      }),
    ),
    notifyRequestExpired: emit(({ context }) =>
      out({ type: "Notify", peer: context.peer ?? "", reason: NotifyReason.TimedOut }),
    ),
    deliverPeerLeft: emit(({ event }) =>
      event.type === "PEER_LEFT" ? out({ type: "Notify", peer: event.peer, reason: event.reason }) : out(),
    ),
    forgetPeer: assign({ peer: undefined, role: undefined }),
    endOnQuit: assign({ ending: ending("quit") }),
    endOnTransportClosed: assign({ ending: ending("disconnected") }),
    endWithEventCode: assign({
      ending: ({ event }) =>
        event.type === "LOGIN_FAILED" || event.type === "TRANSPORT_FAILED" || event.type === "KICK"
          ? ending(event.type === "KICK" ? "kicked" : "disconnected", event.code, event.text)
          : ending("failed", ErrorCode.Internal),
    }),
    endOnTimeout: assign({ ending: ending("disconnected", ErrorCode.Timeout) }),
    emitClose: emit(({ context }) =>
      context.ending.code === undefined
        ? { type: "close" as const }
        : { type: "close" as const, code: context.ending.code, text: context.ending.text ?? "" },
    ),
    reportClosed: sendParent(({ context }) =>
      report({
        type: "CONNECTION_CLOSED",
        connectionId: context.connectionId,
        reason: context.ending.reason,
      }),
    ),
  },
}).createMachine({
  id: "connection",
  initial: "authenticating",
  context: ({ input }) => ({
    connectionId: input.connectionId,
    limits: input.limits,
    user: undefined,
    peer: undefined,
    role: undefined,
    ending: { reason: "disconnected" },
  }),
  on: {
    TRANSPORT_CLOSED: { target: ".closing", actions: "endOnTransportClosed" },
    TRANSPORT_FAILED: { target: ".closing", actions: "endWithEventCode" },
    KICK: { target: ".closing", actions: "endWithEventCode" },
  },
  states: {
    authenticating: {
      after: { handshakeTimeout: { target: "closing", actions: "endOnTimeout" } },
      on: {
        LOGIN_VERIFIED: { target: "online", actions: ["rememberUser", "reportOnline"] },
        LOGIN_FAILED: { target: "closing", actions: "endWithEventCode" },
      },
    },
    online: {
      type: "parallel",
      on: {
        QUIT: { target: "closing", actions: "endOnQuit" },
        ERROR: { target: "closing", actions: "endOnQuit" },
        LIST: { actions: "requestList" },
        LIST_READY: { actions: "sendList" },
        REQUEST_FAILED: { actions: "sendUserNotFound" },
        PING: { actions: "sendPong" },
        PONG: {},
        RTT: { actions: "rejectIllegal" },
        ACCEPT: { actions: "rejectIllegal" },
        REFUSE: { actions: "rejectIllegal" },
        MESSAGE: { actions: "rejectIllegal" },
        CC_SESSION_ESTABLISHMENT: { actions: "rejectIllegal" },
        NOTIFY: { actions: "rejectIllegal" },
      },
      states: {
        session: {
          initial: "idle",
          states: {
            idle: {
              on: {
                RTT: {
                  target: "requesting.outgoing",
                  actions: ["rememberRequestTarget", "reportChatRequested"],
                },
                REQUEST_INCOMING: {
                  target: "requesting.incoming",
                  actions: ["rememberRequester", "deliverRequest"],
                },
              },
            },
            requesting: {
              initial: "outgoing",
              on: {
                NOTIFY: [
                  { guard: "namesPeer", target: "idle", actions: ["cancelRequest", "forgetPeer"] },
                  { actions: "rejectWrongPeer" },
                ],
                PEER_LEFT: { guard: "fromPeer", target: "idle", actions: ["deliverPeerLeft", "forgetPeer"] },
              },
              states: {
                outgoing: {
                  after: {
                    requestTimeout: {
                      target: "#connection.online.session.idle",
                      actions: ["reportRequestExpired", "notifyRequestExpired", "forgetPeer"],
                    },
                  },
                  on: {
                    REQUEST_FAILED: [
                      {
                        guard: "fromPeer",
                        target: "#connection.online.session.idle",
                        actions: ["sendUserNotFound", "forgetPeer"],
                      },
                      { actions: "sendUserNotFound" },
                    ],
                    REQUEST_ACCEPTED: {
                      guard: "fromPeer",
                      target: "#connection.online.session.chatting.establishing",
                      actions: "deliverAcceptance",
                    },
                    REQUEST_REFUSED: {
                      guard: "fromPeer",
                      target: "#connection.online.session.idle",
                      actions: ["deliverRefusal", "forgetPeer"],
                    },
                    // Crossed requests: our RTT is still on its way to the supervisor, which will refuse it.
                    REQUEST_INCOMING: {
                      target: "incoming",
                      actions: ["rememberRequester", "deliverRequest"],
                    },
                  },
                },
                incoming: {
                  on: {
                    ACCEPT: [
                      {
                        guard: "namesRequester",
                        target: "#connection.online.session.chatting.establishing",
                        actions: "acceptRequest",
                      },
                      { actions: "rejectWrongPeer" },
                    ],
                    REFUSE: [
                      {
                        guard: "namesRequester",
                        target: "#connection.online.session.idle",
                        actions: ["refuseRequest", "forgetPeer"],
                      },
                      { actions: "rejectWrongPeer" },
                    ],
                    NOTIFY: { actions: "rejectIllegal" },
                  },
                },
              },
            },
            chatting: {
              initial: "establishing",
              on: {
                NOTIFY: [
                  { guard: "namesPeer", target: "idle", actions: ["endConversation", "forgetPeer"] },
                  { actions: "rejectWrongPeer" },
                ],
                PEER_LEFT: { guard: "fromPeer", target: "idle", actions: ["deliverPeerLeft", "forgetPeer"] },
              },
              states: {
                establishing: {
                  on: {
                    CC_SESSION_ESTABLISHMENT: [
                      { guard: "namesAccepter", target: "active", actions: "establishChat" },
                      { guard: "isRequester", actions: "rejectWrongPeer" },
                      { actions: "rejectIllegal" },
                    ],
                    CHAT_ESTABLISHED: {
                      guard: "fromPeer",
                      target: "active",
                      actions: "deliverEstablishment",
                    },
                  },
                },
                active: {
                  on: {
                    MESSAGE: { actions: "forwardMessages" },
                    PEER_MESSAGE: { actions: "deliverMessages" },
                  },
                },
              },
            },
          },
        },
        liveness: {
          initial: "awake",
          states: {
            awake: {
              after: { idlePing: "pinged" },
              on: { CLIENT_ACTIVE: { target: "awake", reenter: true } },
            },
            pinged: {
              entry: "sendPing",
              on: { CLIENT_ACTIVE: "awake" },
              after: { idleTimeout: { target: "#connection.closing", actions: "endOnTimeout" } },
            },
          },
        },
      },
    },
    closing: {
      type: "final",
      entry: ["emitClose", "reportClosed"],
    },
  },
})
