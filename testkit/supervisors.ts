/**
 * Variants of our own supervisor for tests, built with `provide` from the real machine: one whose
 * connection actors fail inside on a poisoned envelope (supervision tests), and one that lies
 * when routing (malicious-server tests). Neither opens the direct chat line, so every MESSAGE
 * passes through the actors and `route`, where the fault or the lie sits.
 */
import { createMachine, enqueueActions } from "xstate"
import type { SupervisorEvent } from "../src/actors/connection.events.ts"
import { connectionMachine } from "../src/actors/connection.machine.ts"
import {
  type SupervisorContext,
  type SupervisorInputEvent,
  supervisorMachine,
} from "../src/actors/supervisor.machine.ts"

/**
 * The byte that, filling a whole envelope, makes a connection actor of `poisonedSupervisor` throw.
 * A whole envelope, not its first byte: a v3 envelope starts with a ratchet public key, whose first
 * byte is 0xee for one chat key in 256 (that made the fault tests flaky).
 */
export const POISON = 0xee

const isPoisoned = (envelope: Uint8Array): boolean => envelope.every((byte) => byte === POISON)

const realForward = connectionMachine.implementations.actions.forwardMessages!

/** The real supervisor, whose connection actors throw when asked to forward a poisoned envelope. */
export const poisonedSupervisor = supervisorMachine.provide({
  actions: { openChatLine: () => {} },
  actors: {
    connection: connectionMachine.provide({
      actions: {
        forwardMessages: enqueueActions(({ event, enqueue }) => {
          if (event.type === "MESSAGE" && event.envelopes.some(isPoisoned)) throw new Error("injected fault")
          enqueue(realForward as Parameters<typeof enqueue>[0])
        }),
      },
    }),
  },
})

export interface LieArgs {
  readonly context: SupervisorContext
  readonly event: SupervisorInputEvent
  /** Sends `message` to the connection actor `connectionId` (if it is still running). */
  readonly tell: (connectionId: string | undefined, message: SupervisorEvent) => void
}

/** Handles an event its own way and returns true, or returns false to route it honestly. */
export type Lie = (args: LieArgs) => boolean

/** The genuine routing action, looked up by name like any implementation `provide` replaces. */
const honestRoute = supervisorMachine.implementations.actions.route!

/**
 * A connection chart that, unlike ours, hands the client an RTT in every online state (a server
 * not bound by our rule book: it may "ask" a user who is busy deciding on another request).
 */
const config = connectionMachine.config
const online = config.states!.online!
const anyRequestConnection = createMachine(
  {
    ...config,
    states: {
      ...config.states,
      online: { ...online, on: { ...online.on, REQUEST_INCOMING: { actions: "deliverRequest" } } },
    },
  },
  connectionMachine.implementations,
) as unknown as typeof connectionMachine

/**
 * Our supervisor, except that `lie` gets the first word on every routed event; with
 * `anyRequest`, its connections deliver a REQUEST_INCOMING in any online state.
 */
export const lyingSupervisor = (lie: Lie, options: { readonly anyRequest?: boolean } = {}) =>
  supervisorMachine.provide({
    ...(options.anyRequest === true ? { actors: { connection: anyRequestConnection } } : {}),
    actions: {
      openChatLine: () => {},
      route: enqueueActions(({ context, event, enqueue }) => {
        const tell = (connectionId: string | undefined, message: SupervisorEvent): void => {
          const child = connectionId === undefined ? undefined : context.connections.get(connectionId)
          if (child?.getSnapshot().status === "active") enqueue.sendTo(child, message)
        }
        if (!lie({ context, event, tell })) enqueue(honestRoute as Parameters<typeof enqueue>[0])
      }),
    },
  })
