/**
 * The supervisor actor: spawns one connection actor per accepted socket, keeps the directory of
 * who is online and who talks to whom, and routes requests and chat messages between connection
 * actors (message passing only). Supervision is one_for_one with `temporary` children: a child
 * that fails is stopped, its peer told, and nothing else is touched. docs/protocol.md §11.
 */
import {
  type ActorRefFrom,
  type AnyActorRef,
  type AnyStateMachine,
  assign,
  createActor,
  enqueueActions,
  setup,
  stopChild,
} from "xstate"
import { ErrorCode, errorCodeInfo } from "../protocol/error-codes.ts"
import { NotifyReason } from "../protocol/opcodes.ts"
import type { CloseReason, ConnectionId, ConnectionReport, SupervisorEvent } from "./connection.events.ts"
import {
  type ConnectionInput,
  type ConnectionLimits,
  connectionMachine,
  defaultConnectionLimits,
} from "./connection.machine.ts"
import { Directory, type PeerRef } from "./directory.ts"

export type ConnectionActor = ActorRefFrom<typeof connectionMachine>

/** From the transport and the operator. */
export type SupervisorCommand =
  | { readonly type: "CONNECTION_OPENED"; readonly connectionId: ConnectionId }
  /** Tell every connection the server is stopping. */
  | { readonly type: "SHUTDOWN" }
  /** The user's key was revoked: disconnect them if online. */
  | { readonly type: "REVOKE_USER"; readonly name: string }
  /** The server's scope is closing: stop every connection actor still running (their timers too). */
  | { readonly type: "HALT" }

/** XState's report that a child actor failed (an exception inside it). */
type ChildError = { readonly type: `xstate.error.actor.${string}`; readonly error: unknown }

export type SupervisorInputEvent = SupervisorCommand | ConnectionReport | ChildError

/** Emitted for logs and the inspector; never carries keys or message contents. */
export type SupervisorEmitted =
  | { readonly type: "user.online"; readonly connectionId: ConnectionId; readonly name: string }
  | { readonly type: "user.offline"; readonly connectionId: ConnectionId; readonly name: string }
  | { readonly type: "connection.failed"; readonly connectionId: ConnectionId; readonly error: string }
  /**
   * Both connections are now in `chatting.active` with each other: their transports may relay
   * MESSAGE envelopes to each other directly (the one transition of that state that changes
   * nothing but forwards). Emitted after both actors were told.
   */
  | { readonly type: "chat.open"; readonly between: readonly [ConnectionId, ConnectionId] }
  /** The conversation of these connections ended (or never was a chat): no direct relay any more. */
  | { readonly type: "chat.closed"; readonly between: readonly [ConnectionId, ConnectionId] }

export interface SupervisorContext {
  readonly limits: ConnectionLimits
  /** Mutated in place (O(1) per event); owned by this actor alone. */
  readonly directory: Directory
  /**
   * The running connection actors, by connection id. Mutated in place: they are this actor's
   * children (their parent, errors and `sendParent` are wired to it) but kept out of XState's
   * `children` snapshot map, which is copied at every spawn and stop (O(N) per login and logout).
   */
  readonly connections: Map<ConnectionId, ConnectionActor>
}

/** The connection actor of `connectionId`, while it runs. */
export const connectionActorOf = (
  supervisor: { getSnapshot(): { readonly context: SupervisorContext } },
  connectionId: ConnectionId,
): ConnectionActor | undefined => supervisor.getSnapshot().context.connections.get(connectionId)

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

/**
 * `spawn(name, options)` for this supervisor: creates the actor from the machine's (possibly
 * `provide`d) implementation `name`, with this supervisor as its parent, starts it, and records it
 * in `connections`, as XState's own `spawn` would, minus the copy of the `children` map.
 */
const spawnerOf =
  (self: AnyActorRef, context: SupervisorContext) =>
  (name: "connection", options: { readonly id: ConnectionId; readonly input: ConnectionInput }): void => {
    const machine = (self as unknown as { readonly logic: AnyStateMachine }).logic
    const logic = (machine.implementations.actors as Record<string, typeof connectionMachine>)[name]
    if (logic === undefined) throw new Error(`no actor logic named ${name}`)
    const actor = createActor(logic, { id: options.id, input: options.input, parent: self })
    context.connections.set(options.id, actor)
    actor.start()
  }

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorInputEvent,
    input: {} as { readonly limits?: ConnectionLimits } | undefined,
    emitted: {} as SupervisorEmitted,
  },
  actors: { connection: connectionMachine },
  actions: {
    /**
     * Starts a connection actor as a child of this one (see `SupervisorContext.connections`).
     * An assignment, like XState's own `spawn`, that changes no field of the context but the map.
     */
    spawnConnection: assign(({ context, event, self }) => {
      if (event.type === "CONNECTION_OPENED") {
        const spawn = spawnerOf(self, context)
        spawn("connection", {
          id: event.connectionId,
          input: { connectionId: event.connectionId, limits: context.limits },
        })
      }
      return {}
    }),
    route: enqueueActions(({ context, event, enqueue }) => {
      const { directory, connections } = context
      const tell = (connectionId: ConnectionId | undefined, message: SupervisorEvent): void => {
        const child = connectionId === undefined ? undefined : connections.get(connectionId)
        if (child?.getSnapshot().status === "active") enqueue.sendTo(child, message)
      }
      const tellPeer = (peer: PeerRef | undefined, message: (peer: PeerRef) => SupervisorEvent): void => {
        if (peer !== undefined) tell(peer.connectionId, message(peer))
      }
      switch (event.type) {
        case "USER_ONLINE": {
          const { displaced, orphanedPeer } = directory.register(event.connectionId, event.user)
          if (displaced !== undefined && orphanedPeer !== undefined)
            enqueue.emit({ type: "chat.closed", between: [displaced, orphanedPeer.connectionId] })
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
              kemKey: event.kemKey,
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
            kemCiphertext: event.kemCiphertext,
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
          if (peer !== undefined)
            enqueue.emit({ type: "chat.closed", between: [event.connectionId, peer.connectionId] })
          tellPeer(peer, () => ({ type: "PEER_LEFT", peer: name, reason: event.reason }))
          return
        }
        case "SHUTDOWN": {
          for (const child of connections.values()) enqueue.sendTo(child, kick(ErrorCode.ShuttingDown))
          return
        }
        case "REVOKE_USER": {
          tell(directory.connectionOf(event.name), kick(ErrorCode.Revoked))
          return
        }
      }
    }),
    /**
     * Once a chat is established, lets the two transports relay MESSAGE envelopes to each other
     * directly (chat.open). MESSAGE in `chatting.active` only forwards, so this changes no outcome;
     * it saves three actor steps per relayed record. A server without it routes every MESSAGE here.
     */
    openChatLine: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "CHAT_ESTABLISHING") return
      const name = context.directory.nameOf(event.connectionId)
      const peer = name === undefined ? undefined : context.directory.chatPeer(name)
      if (peer !== undefined) enqueue.emit({ type: "chat.open", between: [event.connectionId, peer] })
    }),
    retire: enqueueActions(({ context, event, enqueue }) => {
      const connectionId =
        event.type === "CONNECTION_CLOSED"
          ? event.connectionId
          : event.type.slice("xstate.error.actor.".length)
      const reason: CloseReason = event.type === "CONNECTION_CLOSED" ? event.reason : "failed"
      const { name, peer } = context.directory.unregister(connectionId)
      if (peer !== undefined)
        enqueue.emit({ type: "chat.closed", between: [connectionId, peer.connectionId] })
      const peerActor = peer === undefined ? undefined : context.connections.get(peer.connectionId)
      if (peerActor?.getSnapshot().status === "active" && name !== undefined) {
        enqueue.sendTo(peerActor, { type: "PEER_LEFT", peer: name, reason: notifyReasonFor(reason) })
      }
      if (name !== undefined) enqueue.emit({ type: "user.offline", connectionId, name })
      if (event.type !== "CONNECTION_CLOSED" && "error" in event) {
        enqueue.emit({ type: "connection.failed", connectionId, error: errorText(event.error) })
      }
      const actor = context.connections.get(connectionId)
      context.connections.delete(connectionId)
      if (actor !== undefined) enqueue(stopChild(actor))
    }),
    halt: enqueueActions(({ context, enqueue }) => {
      for (const actor of context.connections.values()) enqueue(stopChild(actor))
      context.connections.clear()
    }),
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({
    limits: input?.limits ?? defaultConnectionLimits,
    directory: new Directory(),
    connections: new Map(),
  }),
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
        CHAT_ESTABLISHING: { actions: ["route", "openChatLine"] },
        CHAT_MESSAGES: { actions: "route" },
        CONVERSATION_ENDED: { actions: "route" },
        REVOKE_USER: { actions: "route" },
        SHUTDOWN: { target: "draining", actions: "route" },
        HALT: { actions: "halt" },
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
        HALT: { actions: "halt" },
      },
    },
  },
})
