/**
 * One actor per client connection: the rule book of what a client may do in each state
 * (authenticating → online{session: idle | requesting | chatting, liveness} → closing).
 * Pure data + named actions/guards/delays: no sockets, no crypto. Outbound messages are emitted
 * for the transport; routing requests go to the supervisor. docs/protocol.md §6, §11.
 */
import { assertEvent, assign, emit, sendParent, setup } from "xstate"
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
    rememberUser: assign({
      user: ({ event }) => {
        assertEvent(event, "LOGIN_VERIFIED")
        return event.user
      },
    }),
    reportOnline: sendParent(({ context, event }) => {
      assertEvent(event, "LOGIN_VERIFIED")
      return report({ type: "USER_ONLINE", connectionId: context.connectionId, user: event.user })
    }),
    requestList: sendParent(({ context }) =>
      report({ type: "LIST_REQUESTED", connectionId: context.connectionId }),
    ),
    sendList: emit(({ event }) => {
      assertEvent(event, "LIST_READY")
      return out({ type: "List", total: event.total, names: event.names })
    }),
    sendUserNotFound: emit(({ event }) => {
      assertEvent(event, "REQUEST_FAILED")
      return out({ type: "UserNotFound", user: event.target, reason: event.reason })
    }),
    sendPong: emit(({ event }) => {
      assertEvent(event, "PING")
      return out({ type: "Pong", value: event.value })
    }),
    sendPing: emit(() => out({ type: "Ping", value: BigInt(Date.now()) })),
    rejectIllegal: emit(() => out(errorMessage(ErrorCode.IllegalState, false))),
    rejectWrongPeer: emit(() => out(errorMessage(ErrorCode.WrongPeer, false))),
    rememberRequestTarget: assign(({ event }) => {
      assertEvent(event, "RTT")
      return { peer: event.to, role: "requester" as const }
    }),
    reportChatRequested: sendParent(({ context, event }) => {
      assertEvent(event, "RTT")
      return report({ ...event, type: "CHAT_REQUESTED", connectionId: context.connectionId })
    }),
    rememberRequester: assign(({ event }) => {
      assertEvent(event, "REQUEST_INCOMING")
      return { peer: event.from.name, role: "accepter" as const }
    }),
    deliverRequest: emit(({ event }) => {
      assertEvent(event, "REQUEST_INCOMING")
      const { from, nonce, ephemeralKey, kemKey } = event
      return out({ type: "Rtt", from: from.name, certificate: from.certificate, nonce, ephemeralKey, kemKey })
    }),
    acceptRequest: sendParent(({ context, event }) => {
      assertEvent(event, "ACCEPT")
      return report({ ...event, type: "CHAT_ACCEPTED", connectionId: context.connectionId })
    }),
    refuseRequest: sendParent(({ context }) =>
      report({ type: "CHAT_REFUSED", connectionId: context.connectionId, requester: context.peer ?? "" }),
    ),
    deliverAcceptance: emit(({ event }) => {
      assertEvent(event, "REQUEST_ACCEPTED")
      const { from, ...rest } = event
      return out({ ...rest, type: "Accept", from: from.name, certificate: from.certificate })
    }),
    deliverRefusal: emit(({ event }) => {
      assertEvent(event, "REQUEST_REFUSED")
      return out({ type: "Refuse", from: event.from })
    }),
    establishChat: sendParent(({ context, event }) => {
      assertEvent(event, "CC_SESSION_ESTABLISHMENT")
      return report({ ...event, type: "CHAT_ESTABLISHING", connectionId: context.connectionId })
    }),
    deliverEstablishment: emit(({ event }) => {
      assertEvent(event, "CHAT_ESTABLISHED")
      return out({ ...event, type: "CcSessionEstablishment" })
    }),
    forwardMessages: sendParent(({ context, event }) => {
      assertEvent(event, "MESSAGE")
      return report({ type: "CHAT_MESSAGES", connectionId: context.connectionId, envelopes: event.envelopes })
    }),
    deliverMessages: emit(({ event }) => {
      assertEvent(event, "PEER_MESSAGE")
      return { type: "relay" as const, envelopes: event.envelopes }
    }),
    /** The conversation ended on this side (left, withdrew, timed out): the supervisor tells the peer. */
    reportConversationEnded: sendParent(({ context }, params: { readonly reason: NotifyReason }) =>
      report({
        type: "CONVERSATION_ENDED",
        connectionId: context.connectionId,
        peer: context.peer ?? "",
        reason: params.reason,
      }),
    ),
    notifyRequestExpired: emit(({ context }) =>
      out({ type: "Notify", peer: context.peer ?? "", reason: NotifyReason.TimedOut }),
    ),
    deliverPeerLeft: emit(({ event }) => {
      assertEvent(event, "PEER_LEFT")
      return out({ type: "Notify", peer: event.peer, reason: event.reason })
    }),
    forgetPeer: assign({ peer: undefined, role: undefined }),
    endOnQuit: assign({ ending: ending("quit") }),
    endOnTransportClosed: assign({ ending: ending("disconnected") }),
    endWithEventCode: assign({
      ending: ({ event }) => {
        assertEvent(event, ["LOGIN_FAILED", "TRANSPORT_FAILED", "KICK"])
        return ending(event.type === "KICK" ? "kicked" : "disconnected", event.code, event.text)
      },
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
                  {
                    guard: "namesPeer",
                    target: "idle",
                    actions: [
                      { type: "reportConversationEnded", params: { reason: NotifyReason.Cancelled } },
                      "forgetPeer",
                    ],
                  },
                  { actions: "rejectWrongPeer" },
                ],
                PEER_LEFT: { guard: "fromPeer", target: "idle", actions: ["deliverPeerLeft", "forgetPeer"] },
              },
              states: {
                outgoing: {
                  after: {
                    requestTimeout: {
                      target: "#connection.online.session.idle",
                      actions: [
                        { type: "reportConversationEnded", params: { reason: NotifyReason.TimedOut } },
                        "notifyRequestExpired",
                        "forgetPeer",
                      ],
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
                  {
                    guard: "namesPeer",
                    target: "idle",
                    actions: [
                      { type: "reportConversationEnded", params: { reason: NotifyReason.Left } },
                      "forgetPeer",
                    ],
                  },
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
