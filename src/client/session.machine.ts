/**
 * The client session chart: what a user may do in each state and what they are shown
 * (connecting → idle → requesting.{outgoing,incoming} → chatting.{establishing,awaitingTrust,active}
 * → closed). Pure data + named actions/guards: the runtime (session.ts) does sockets, crypto and
 * key pinning, reports facts as events, and carries out the intents this machine emits.
 */
import { assign, emit, setup } from "xstate"
import {
  HELP_LINES,
  type Intent,
  type KeyStatus,
  type PeerLeftReason,
  type SessionEmitted,
  type SessionEvent,
  type UiEvent,
} from "./session.events.ts"

export interface SessionContext {
  readonly user: string
  readonly peer: string | undefined
  /** Who asked whom in the current conversation. */
  readonly role: "requester" | "accepter" | undefined
  /** Status of the key the current peer presented. */
  readonly keyStatus: KeyStatus | undefined
  readonly closeReason: string
}

const ui = (event: UiEvent): SessionEmitted => ({ type: "ui", event })
const intent = (value: Intent): SessionEmitted => ({ type: "intent", intent: value })
const fail = (code: string, message: string): SessionEmitted => ui({ type: "error", code, message })

/** Whole seconds, or tenths below 10 s (a short request timeout still reads right). */
const secondsOf = (ms: number): number => (ms < 10_000 ? Math.round(ms / 100) / 10 : Math.round(ms / 1000))

const peerLeft = (context: SessionContext, reason: PeerLeftReason, waitedMs: number | undefined): UiEvent =>
  reason === "expired"
    ? {
        type: "peer_left",
        peer: context.peer ?? "",
        reason,
        direction: context.role === "accepter" ? "incoming" : "outgoing",
        seconds: secondsOf(waitedMs ?? 0),
      }
    : { type: "peer_left", peer: context.peer ?? "", reason }

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as { readonly user: string },
    emitted: {} as SessionEmitted,
  },
  guards: {
    isSelf: ({ context, event }) => event.type === "REQUEST" && event.user === context.user,
    fromPeer: ({ context, event }) =>
      (event.type === "PEER_LEFT" && event.peer === context.peer) ||
      (event.type === "REQUEST_REFUSED" && event.by === context.peer) ||
      (event.type === "REQUEST_NOT_FOUND" && event.user === context.peer) ||
      ((event.type === "CHAT_READY" || event.type === "CHAT_FAILED") && event.peer === context.peer) ||
      (event.type === "PEER_ACCEPTED" && event.from === context.peer),
    keyChanged: ({ context }) => context.keyStatus === "changed",
    /** An orderly stop of the server is not an error: the closing line says it. */
    serverStopping: ({ event }) => event.type === "CONNECTION_CLOSED" && event.reason === "server_stopping",
    acceptedWithChangedKey: ({ event }) => event.type === "PEER_ACCEPTED" && event.keyStatus === "changed",
  },
  actions: {
    showReady: emit(({ context, event }) =>
      event.type === "LOGGED_IN"
        ? ui({ type: "ready", user: context.user, online: event.online, server: event.server })
        : fail("internal", "Unexpected event."),
    ),
    showList: emit(({ event }) =>
      ui({ type: "list", online: event.type === "ONLINE_LIST" ? event.online : [] }),
    ),
    showHelp: emit(() => ui({ type: "help", commands: HELP_LINES })),
    showServerError: emit(({ event }) =>
      event.type === "SERVER_ERROR" ? fail(event.code, event.message) : fail("internal", "Unexpected event."),
    ),
    showNotFound: emit(({ event }) =>
      event.type === "REQUEST_NOT_FOUND"
        ? ui({ type: "not_found", user: event.user, reason: event.reason })
        : fail("internal", "Unexpected event."),
    ),
    sendList: emit(() => intent({ type: "send.list" })),
    rememberTarget: assign({
      peer: ({ event }) => (event.type === "REQUEST" ? event.user : undefined),
      role: "requester" as const,
      keyStatus: undefined,
    }),
    sendRequest: emit(({ context }) => intent({ type: "send.request", to: context.peer ?? "" })),
    showRequestSent: emit(({ context }) => ui({ type: "request_sent", to: context.peer ?? "" })),
    rememberRequester: assign({
      peer: ({ event }) => (event.type === "REQUEST_RECEIVED" ? event.from : undefined),
      role: "accepter" as const,
      keyStatus: ({ event }) => (event.type === "REQUEST_RECEIVED" ? event.keyStatus : undefined),
    }),
    showRequest: emit(({ context }) => ui({ type: "request", from: context.peer ?? "" })),
    showDeclined: emit(({ context }) => ui({ type: "request_declined", from: context.peer ?? "" })),
    rememberAcceptance: assign({
      keyStatus: ({ event }) => (event.type === "PEER_ACCEPTED" ? event.keyStatus : undefined),
    }),
    sendAccept: emit(({ context }) => intent({ type: "send.accept", requester: context.peer ?? "" })),
    sendRefuse: emit(({ context }) => intent({ type: "send.refuse", requester: context.peer ?? "" })),
    sendLeave: emit(({ context }) => intent({ type: "send.leave", peer: context.peer ?? "" })),
    complete: emit(({ context }) => intent({ type: "complete", peer: context.peer ?? "" })),
    trust: emit(({ context }) => intent({ type: "trust", peer: context.peer ?? "" })),
    markTrusted: assign({ keyStatus: "known" as const }),
    verify: emit(({ context }) => intent({ type: "verify", peer: context.peer ?? "" })),
    say: emit(({ event }) => intent({ type: "send.say", text: event.type === "SAY" ? event.text : "" })),
    showRefused: emit(({ context }) => ui({ type: "refused", by: context.peer ?? "" })),
    showCancelled: emit(({ context }) => ui({ type: "request_cancelled", to: context.peer ?? "" })),
    showChatStarted: emit(({ event }) =>
      event.type === "CHAT_READY"
        ? ui({ type: "chat_started", peer: event.peer, safety: event.safety })
        : ui({ type: "list", online: [] }),
    ),
    showChatFailed: emit(({ event }) =>
      fail("e2e_failed", event.type === "CHAT_FAILED" ? event.message : "The chat could not be secured."),
    ),
    showMessage: emit(({ context, event }) =>
      ui({
        type: "message",
        from: context.peer ?? "",
        text: event.type === "MESSAGE_RECEIVED" ? event.text : "",
      }),
    ),
    showPeerLeft: emit(({ context, event }) =>
      event.type === "PEER_LEFT"
        ? ui(peerLeft(context, event.reason, event.waitedMs))
        : fail("internal", "Unexpected event."),
    ),
    showChatEnded: emit(({ context }) => ui({ type: "chat_ended", peer: context.peer ?? "" })),
    forgetPeer: assign({ peer: undefined, role: undefined, keyStatus: undefined }),
    sendQuit: emit(() => intent({ type: "send.quit" })),
    closeOnQuit: assign({ closeReason: "quit" }),
    closeOnConnection: assign({
      closeReason: ({ event }) => (event.type === "CONNECTION_CLOSED" ? event.reason : "closed"),
    }),
    showConnectionError: emit(({ event }) =>
      event.type === "CONNECTION_CLOSED" ? fail(event.reason, event.message) : fail("closed", "Closed."),
    ),
    showClosed: emit(({ context }) => ui({ type: "closed", reason: context.closeReason })),
    notInChat: emit(() => fail("not_in_chat", "You are not in a chat: use !request <user> first.")),
    nothingToAnswer: emit(() => fail("no_request", "There is no chat request to answer.")),
    noPeer: emit(() => fail("no_peer", "There is no peer to verify or trust right now.")),
    nothingToCancel: emit(() => fail("no_request", "You have no pending request to cancel.")),
    busy: emit(() => fail("busy", "Finish the current request or chat first (!cancel, !refuse or !quit).")),
    /** Caught here, before anything is sent: the same event the server's USER_NOT_FOUND (3) gives. */
    cannotTalkToSelf: emit(({ context }) =>
      ui({ type: "not_found", user: context.user, reason: "yourself" }),
    ),
    keyChangedBlocks: emit(() =>
      fail(
        "key_changed",
        "This user's key changed: compare safety numbers (!verify), then !trust to continue.",
      ),
    ),
    keyNotChanged: emit(() => fail("nothing_to_trust", "This user's key is the one you already trust.")),
    waitForKeys: emit(() => fail("not_ready", "The chat is still being secured; wait for it to start.")),
  },
}).createMachine({
  id: "session",
  initial: "connecting",
  context: ({ input }) => ({
    user: input.user,
    peer: undefined,
    role: undefined,
    keyStatus: undefined,
    closeReason: "closed",
  }),
  on: {
    CONNECTION_CLOSED: [
      { guard: "serverStopping", target: ".closed", actions: "closeOnConnection" },
      { target: ".closed", actions: ["closeOnConnection", "showConnectionError"] },
    ],
  },
  states: {
    connecting: {
      on: {
        LOGGED_IN: { target: "online", actions: "showReady" },
        QUIT: { target: "closed", actions: ["sendQuit", "closeOnQuit"] },
      },
    },
    online: {
      initial: "idle",
      on: {
        QUIT: { target: "closed", actions: ["sendQuit", "closeOnQuit"] },
        LIST: { actions: "sendList" },
        ONLINE_LIST: { actions: "showList" },
        HELP: { actions: "showHelp" },
        SERVER_ERROR: { actions: "showServerError" },
        REQUEST_NOT_FOUND: { actions: "showNotFound" },
        SAY: { actions: "notInChat" },
        REQUEST: { actions: "busy" },
        ACCEPT: { actions: "nothingToAnswer" },
        REFUSE: { actions: "nothingToAnswer" },
        CANCEL: { actions: "nothingToCancel" },
        VERIFY: { actions: "verify" },
        TRUST: { actions: "noPeer" },
      },
      states: {
        idle: {
          on: {
            REQUEST: [
              { guard: "isSelf", actions: "cannotTalkToSelf" },
              {
                target: "requesting.outgoing",
                actions: ["rememberTarget", "sendRequest", "showRequestSent"],
              },
            ],
            REQUEST_RECEIVED: {
              target: "requesting.incoming",
              actions: ["rememberRequester", "showRequest"],
            },
            VERIFY: { actions: "noPeer" },
          },
        },
        requesting: {
          initial: "outgoing",
          on: {
            PEER_LEFT: { guard: "fromPeer", target: "idle", actions: ["showPeerLeft", "forgetPeer"] },
            // The accepter's certificate or answer did not verify: the runtime already withdrew.
            CHAT_FAILED: { guard: "fromPeer", target: "idle", actions: ["showChatFailed", "forgetPeer"] },
          },
          states: {
            outgoing: {
              on: {
                REQUEST_NOT_FOUND: {
                  guard: "fromPeer",
                  target: "#session.online.idle",
                  actions: ["showNotFound", "forgetPeer"],
                },
                REQUEST_REFUSED: {
                  guard: "fromPeer",
                  target: "#session.online.idle",
                  actions: ["showRefused", "forgetPeer"],
                },
                PEER_ACCEPTED: [
                  {
                    guard: "acceptedWithChangedKey",
                    target: "#session.online.chatting.awaitingTrust",
                    actions: "rememberAcceptance",
                  },
                  {
                    guard: "fromPeer",
                    target: "#session.online.chatting.establishing",
                    actions: ["rememberAcceptance", "complete"],
                  },
                ],
                CANCEL: {
                  target: "#session.online.idle",
                  actions: ["sendLeave", "showCancelled", "forgetPeer"],
                },
                // !quit ends the innermost thing first: your own pending request is withdrawn.
                QUIT: {
                  target: "#session.online.idle",
                  actions: ["sendLeave", "showCancelled", "forgetPeer"],
                },
                // Crossed requests: the server made us the target; our own RTT will be answered busy.
                REQUEST_RECEIVED: { target: "incoming", actions: ["rememberRequester", "showRequest"] },
              },
            },
            incoming: {
              on: {
                ACCEPT: [
                  { guard: "keyChanged", actions: "keyChangedBlocks" },
                  { target: "#session.online.chatting.establishing", actions: "sendAccept" },
                ],
                REFUSE: {
                  target: "#session.online.idle",
                  actions: ["sendRefuse", "showDeclined", "forgetPeer"],
                },
                // Someone is asking: !quit declines (REFUSE, so they learn it at once); a second !quit exits.
                QUIT: {
                  target: "#session.online.idle",
                  actions: ["sendRefuse", "showDeclined", "forgetPeer"],
                },
                TRUST: [
                  { guard: "keyChanged", actions: ["trust", "markTrusted"] },
                  { actions: "keyNotChanged" },
                ],
              },
            },
          },
        },
        chatting: {
          initial: "establishing",
          on: {
            PEER_LEFT: { guard: "fromPeer", target: "idle", actions: ["showPeerLeft", "forgetPeer"] },
            CHAT_FAILED: { guard: "fromPeer", target: "idle", actions: ["showChatFailed", "forgetPeer"] },
            QUIT: { target: "idle", actions: ["sendLeave", "showChatEnded", "forgetPeer"] },
          },
          states: {
            establishing: {
              on: {
                CHAT_READY: { guard: "fromPeer", target: "active", actions: "showChatStarted" },
                SAY: { actions: "waitForKeys" },
              },
            },
            awaitingTrust: {
              on: {
                TRUST: { target: "establishing", actions: ["trust", "markTrusted", "complete"] },
                CANCEL: {
                  target: "#session.online.idle",
                  actions: ["sendLeave", "showCancelled", "forgetPeer"],
                },
                // No chat has started yet: !quit withdraws the request, like !cancel.
                QUIT: {
                  target: "#session.online.idle",
                  actions: ["sendLeave", "showCancelled", "forgetPeer"],
                },
                SAY: { actions: "keyChangedBlocks" },
              },
            },
            active: {
              on: {
                SAY: { actions: "say" },
                MESSAGE_RECEIVED: { actions: "showMessage" },
                TRUST: { actions: "keyNotChanged" },
              },
            },
          },
        },
      },
    },
    closed: {
      type: "final",
      entry: "showClosed",
    },
  },
})
