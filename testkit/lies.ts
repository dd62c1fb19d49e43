/**
 * The lies of a malicious server, as `Lie`s for `lyingSupervisor` (./supervisors.ts): rewritten
 * RTT, ACCEPT and CC_SESSION_ESTABLISHMENT, replayed answers, misrouted or dropped envelopes, an
 * injected request, a colluding user answering as another. Each gets the first word on a routed
 * event and returns true when it handled it. Shared by test/adversarial and attack/.
 */
import type { OnlineUser, SupervisorEvent } from "../src/actors/connection.events.ts"
import type { SupervisorContext } from "../src/actors/supervisor.machine.ts"
import type { Lie } from "./supervisors.ts"

export type Accepted = Extract<SupervisorEvent, { type: "REQUEST_ACCEPTED" }>
export type Incoming = Extract<SupervisorEvent, { type: "REQUEST_INCOMING" }>
export type Established = Extract<SupervisorEvent, { type: "CHAT_ESTABLISHED" }>

export const userOfConnection = (
  context: SupervisorContext,
  connectionId: string,
): OnlineUser | undefined => {
  const name = context.directory.nameOf(connectionId)
  return name === undefined ? undefined : context.directory.userOf(name)
}

/** RTT relayed to the accepter after `forge` rewrote it. */
export const forgeRequest =
  (forge: (incoming: Incoming) => Incoming): Lie =>
  ({ context, event, tell }) => {
    if (event.type !== "CHAT_REQUESTED") return false
    const user = userOfConnection(context, event.connectionId)
    const outcome = user === undefined ? undefined : context.directory.request(user.name, event.to)
    if (user === undefined || outcome === undefined || "refused" in outcome) return false
    const { nonce, ephemeralKey, kemKey } = event
    tell(
      outcome.target.connectionId,
      forge({ type: "REQUEST_INCOMING", from: user, nonce, ephemeralKey, kemKey }),
    )
    return true
  }

/** ACCEPT relayed to the requester after `forge` rewrote it. */
export const forgeAccept =
  (forge: (accepted: Accepted) => Accepted): Lie =>
  ({ context, event, tell }) => {
    if (event.type !== "CHAT_ACCEPTED") return false
    const user = userOfConnection(context, event.connectionId)
    if (user === undefined) return false
    const peer = context.directory.advance(
      user.name,
      "accepter",
      event.requester,
      "requested",
      "establishing",
    )
    const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = event
    tell(
      peer?.connectionId,
      forge({
        type: "REQUEST_ACCEPTED",
        from: user,
        nonce,
        ephemeralKey,
        kemCiphertext,
        signature,
        confirmation,
      }),
    )
    return true
  }

/** CC_SESSION_ESTABLISHMENT relayed to the accepter after `forge` rewrote it. */
export const forgeEstablishment =
  (forge: (established: Established) => Established): Lie =>
  ({ context, event, tell }) => {
    if (event.type !== "CHAT_ESTABLISHING") return false
    const name = context.directory.nameOf(event.connectionId)
    if (name === undefined) return false
    const peer = context.directory.advance(name, "requester", event.accepter, "establishing", "chatting")
    const { signature, confirmation } = event
    tell(peer?.connectionId, forge({ type: "CHAT_ESTABLISHED", from: name, signature, confirmation }))
    return true
  }

/** From the second relay on, the first value relayed (an old answer replayed into a new chat). */
export const replayFirst = <E>(): ((value: E) => E) => {
  let first: E | undefined
  return (value) => {
    first ??= value
    return first
  }
}

/** `from`'s chat envelopes go to `to` instead of `from`'s chat peer. */
export const misroute =
  (from: string, to: string): Lie =>
  ({ context, event, tell }) => {
    if (event.type !== "CHAT_MESSAGES" || context.directory.nameOf(event.connectionId) !== from) return false
    tell(context.directory.connectionOf(to), { type: "PEER_MESSAGE", envelopes: event.envelopes })
    return true
  }

/**
 * `from`'s chat envelopes are relayed while `keep(index)` says so (index counts `from`'s envelopes
 * from 0); the others vanish. The server then still announces the departure as usual.
 */
export const dropEnvelopes = (from: string, keep: (index: number) => boolean): Lie => {
  let index = 0
  return ({ context, event, tell }) => {
    if (event.type !== "CHAT_MESSAGES" || context.directory.nameOf(event.connectionId) !== from) return false
    const kept = event.envelopes.filter(() => keep(index++))
    if (kept.length > 0) tell(context.directory.chatPeer(from), { type: "PEER_MESSAGE", envelopes: kept })
    return true
  }
}

/**
 * The first time `when` matches a routed event (which is then routed honestly), the server also
 * delivers to `target` an RTT "from" `from` (name, key and certificate as given).
 */
export const injectRequest = (options: {
  readonly when: (args: Parameters<Lie>[0]) => boolean
  readonly target: string
  readonly from: OnlineUser
  readonly values: () => Omit<Incoming, "type" | "from">
}): Lie => {
  let done = false
  return (args) => {
    if (done || !options.when(args)) return false
    done = true
    args.tell(args.context.directory.connectionOf(options.target), {
      type: "REQUEST_INCOMING",
      from: options.from,
      ...options.values(),
    })
    return false
  }
}

/** Runs every lie in turn; the first that handles an event wins. */
export const lies =
  (...all: ReadonlyArray<Lie>): Lie =>
  (args) =>
    all.some((lie) => lie(args))
