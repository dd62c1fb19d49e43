/**
 * The supervisor actor: spawns one connection actor per accepted socket, keeps the directory of
 * who is online and who talks to whom, and routes requests and chat messages between connection
 * actors (message passing only). Supervision is one_for_one with `temporary` children: a child
 * that fails is stopped, its peer told, and nothing else is touched. docs/protocol.md §11.
 */
import { type ActorRefFrom, assign, enqueueActions, setup, stopChild } from "xstate"
import { ErrorCode, errorCodeInfo } from "../protocol/error-codes.ts"
import { NotifyReason } from "../protocol/opcodes.ts"
import type { CloseReason, ConnectionId, ConnectionReport, SupervisorEvent } from "./connection.events.ts"
import { type ConnectionLimits, connectionMachine, defaultConnectionLimits } from "./connection.machine.ts"
import { Directory, type PeerRef } from "./directory.ts"

export type ConnectionActor = ActorRefFrom<typeof connectionMachine>

/** From the transport and the operator. */
export type SupervisorCommand =
  | { readonly type: "CONNECTION_OPENED"; readonly connectionId: ConnectionId }
  /** Tell every connection the server is stopping. */
  | { readonly type: "SHUTDOWN" }
  /** The user's key was revoked: disconnect them if online. */
  | { readonly type: "REVOKE_USER"; readonly name: string }

/** XState's report that a child actor failed (an exception inside it). */
type ChildError = { readonly type: `xstate.error.actor.${string}`; readonly error: unknown }

export type SupervisorInputEvent = SupervisorCommand | ConnectionReport | ChildError

/** Emitted for logs and the inspector; never carries keys or message contents. */
export type SupervisorEmitted =
  | { readonly type: "user.online"; readonly connectionId: ConnectionId; readonly name: string }
  | { readonly type: "user.offline"; readonly connectionId: ConnectionId; readonly name: string }
  | { readonly type: "connection.failed"; readonly connectionId: ConnectionId; readonly error: string }

export interface SupervisorContext {
  readonly limits: ConnectionLimits
  /** Mutated in place (O(1) per event); owned by this actor alone. */
  readonly directory: Directory
}

const notifyReasonFor = (reason: CloseReason): NotifyReason =>
  reason === "quit"
    ? NotifyReason.Left
    : reason === "failed"
      ? NotifyReason.Failed
      : NotifyReason.Disconnected

const kick = (code: ErrorCode): SupervisorEvent => ({
  type: "KICK",
  code,
  text: errorCodeInfo(code).sentence,
})

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorInputEvent,
    input: {} as { readonly limits?: ConnectionLimits } | undefined,
    emitted: {} as SupervisorEmitted,
  },
  actors: { connection: connectionMachine },
  actions: {
    spawnConnection: assign(({ context, event, spawn }) => {
      if (event.type === "CONNECTION_OPENED") {
        spawn("connection", {
          id: event.connectionId,
          input: { connectionId: event.connectionId, limits: context.limits },
        })
      }
      return {}
    }),
    route: enqueueActions(({ context, event, enqueue, self }) => {
      const { directory } = context
      const children = self.getSnapshot().children as Record<string, ConnectionActor | undefined>
      const tell = (connectionId: ConnectionId | undefined, message: SupervisorEvent): void => {
        const child = connectionId === undefined ? undefined : children[connectionId]
        if (child?.getSnapshot().status === "active") enqueue.sendTo(child, message)
      }
      const tellPeer = (peer: PeerRef | undefined, message: (peer: PeerRef) => SupervisorEvent): void => {
        if (peer !== undefined) tell(peer.connectionId, message(peer))
      }
      switch (event.type) {
        case "USER_ONLINE": {
          const { displaced, orphanedPeer } = directory.register(event.connectionId, event.user)
          tellPeer(orphanedPeer, () => ({
            type: "PEER_LEFT",
            peer: event.user.name,
            reason: NotifyReason.Disconnected,
          }))
          tell(displaced, kick(ErrorCode.SessionReplaced))
          tell(event.connectionId, { type: "LIST_READY", ...directory.list(event.user.name) })
          enqueue.emit({ type: "user.online", connectionId: event.connectionId, name: event.user.name })
          return
        }
        case "LIST_REQUESTED": {
          const name = directory.nameOf(event.connectionId)
          if (name !== undefined) tell(event.connectionId, { type: "LIST_READY", ...directory.list(name) })
          return
        }
        case "CHAT_REQUESTED": {
          const from = directory.nameOf(event.connectionId)
          const user = from === undefined ? undefined : directory.userOf(from)
          if (user === undefined) return
          const outcome = directory.request(user.name, event.to)
          if ("refused" in outcome) {
            tell(event.connectionId, { type: "REQUEST_FAILED", target: event.to, reason: outcome.refused })
          } else {
            tell(outcome.target.connectionId, {
              type: "REQUEST_INCOMING",
              from: user,
              nonce: event.nonce,
              ephemeralKey: event.ephemeralKey,
            })
          }
          return
        }
        case "CHAT_ACCEPTED": {
          const name = directory.nameOf(event.connectionId)
          const user = name === undefined ? undefined : directory.userOf(name)
          if (user === undefined) return
          const peer = directory.advance(user.name, "accepter", event.requester, "requested", "establishing")
          tellPeer(peer, () => ({
            type: "REQUEST_ACCEPTED",
            from: user,
            nonce: event.nonce,
            ephemeralKey: event.ephemeralKey,
            signature: event.signature,
            confirmation: event.confirmation,
          }))
          return
        }
        case "CHAT_REFUSED": {
          const name = directory.nameOf(event.connectionId)
          if (name === undefined || directory.phaseOf(name) !== "requested") return
          tellPeer(directory.endConversation(name, event.requester), () => ({
            type: "REQUEST_REFUSED",
            from: name,
          }))
          return
        }
        case "CHAT_ESTABLISHING": {
          const name = directory.nameOf(event.connectionId)
          if (name === undefined) return
          const peer = directory.advance(name, "requester", event.accepter, "establishing", "chatting")
          tellPeer(peer, () => ({
            type: "CHAT_ESTABLISHED",
            from: name,
            signature: event.signature,
            confirmation: event.confirmation,
          }))
          return
        }
        case "CHAT_MESSAGES": {
          const name = directory.nameOf(event.connectionId)
          if (name !== undefined)
            tell(directory.chatPeer(name), { type: "PEER_MESSAGE", envelopes: event.envelopes })
          return
        }
        case "CONVERSATION_ENDED": {
          const name = directory.nameOf(event.connectionId)
          if (name === undefined) return
          const peer = directory.endConversation(name, event.peer)
          tellPeer(peer, () => ({ type: "PEER_LEFT", peer: name, reason: event.reason }))
          return
        }
        case "SHUTDOWN": {
          for (const child of Object.values(children))
            if (child !== undefined) enqueue.sendTo(child, kick(ErrorCode.ShuttingDown))
          return
        }
        case "REVOKE_USER": {
          tell(directory.connectionOf(event.name), kick(ErrorCode.Revoked))
          return
        }
      }
    }),
    retire: enqueueActions(({ context, event, enqueue, self }) => {
      const connectionId =
        event.type === "CONNECTION_CLOSED"
          ? event.connectionId
          : event.type.slice("xstate.error.actor.".length)
      const reason: CloseReason = event.type === "CONNECTION_CLOSED" ? event.reason : "failed"
      const { name, peer } = context.directory.unregister(connectionId)
      const peerActor =
        peer === undefined
          ? undefined
          : (self.getSnapshot().children[peer.connectionId] as ConnectionActor | undefined)
      if (peerActor?.getSnapshot().status === "active" && name !== undefined) {
        enqueue.sendTo(peerActor, { type: "PEER_LEFT", peer: name, reason: notifyReasonFor(reason) })
      }
      if (name !== undefined) enqueue.emit({ type: "user.offline", connectionId, name })
      if (event.type !== "CONNECTION_CLOSED" && "error" in event) {
        enqueue.emit({ type: "connection.failed", connectionId, error: errorText(event.error) })
      }
      enqueue(stopChild(connectionId))
    }),
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({ limits: input?.limits ?? defaultConnectionLimits, directory: new Directory() }),
  initial: "running",
  states: {
    running: {
      on: {
        CONNECTION_OPENED: { actions: "spawnConnection" },
        USER_ONLINE: { actions: "route" },
        LIST_REQUESTED: { actions: "route" },
        CHAT_REQUESTED: { actions: "route" },
        CHAT_ACCEPTED: { actions: "route" },
        CHAT_REFUSED: { actions: "route" },
        CHAT_ESTABLISHING: { actions: "route" },
        CHAT_MESSAGES: { actions: "route" },
        CONVERSATION_ENDED: { actions: "route" },
        REVOKE_USER: { actions: "route" },
        SHUTDOWN: { target: "draining", actions: "route" },
        CONNECTION_CLOSED: { actions: "retire" },
        "xstate.error.actor.*": { actions: "retire" },
      },
    },
    /** Shutting down: no new connections; existing ones are closing. */
    draining: {
      on: {
        CONNECTION_OPENED: { actions: "spawnConnection" },
        CONNECTION_CLOSED: { actions: "retire" },
        "xstate.error.actor.*": { actions: "retire" },
        LIST_REQUESTED: { actions: "route" },
        CHAT_MESSAGES: { actions: "route" },
        CONVERSATION_ENDED: { actions: "route" },
      },
    },
  },
})
