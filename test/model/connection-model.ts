/**
 * The connection chart as a test model: the real `connectionMachine` with its reports to the
 * supervisor made inert (so xstate/graph can traverse it), the abstract events a test can cause
 * over TCP, and what the model predicts for each step (state, frames to the client, frames to the
 * peer). Names in model events are placeholders: "bob" is the peer, "zed" someone else.
 */
import { initialTransition, type SnapshotFrom, transition } from "xstate"
import type { ConnectionEvent } from "../../src/actors/connection.events.ts"
import {
  type ConnectionLimits,
  connectionMachine,
  defaultConnectionLimits,
} from "../../src/actors/connection.machine.ts"
import { ErrorCode, NotifyReason, type ServerMessage } from "../../src/protocol/index.ts"

/** Actions that send to the supervisor; inert in the model (the real server runs them). */
export const REPORT_ACTIONS = [
  "reportOnline",
  "requestList",
  "reportChatRequested",
  "acceptRequest",
  "refuseRequest",
  "establishChat",
  "forwardMessages",
  "reportConversationEnded",
  "reportClosed",
] as const

export const modelMachine = connectionMachine.provide({
  actions: Object.fromEntries(REPORT_ACTIONS.map((name) => [name, () => {}])),
})

export type ModelSnapshot = SnapshotFrom<typeof modelMachine>

export const initialSnapshot = (limits: ConnectionLimits = defaultConnectionLimits): ModelSnapshot =>
  initialTransition(modelMachine, { connectionId: "model", limits })[0]

const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill)
const key = bytes(32, 7)
/** Stand-ins of the right sizes: the model never verifies certificates or runs ML-KEM. */
const certificate = bytes(300, 0x30)
const kemKey = bytes(1184, 8)
const kemCiphertext = bytes(1088, 6)
const alice = { name: "alice", identityKey: key, certificate }
const bob = { name: "bob", identityKey: key, certificate }
const nonce = bytes(32, 1)
const ephemeralKey = bytes(32, 9)
const signature = bytes(64, 3)
const confirmation = bytes(32, 4)
const envelope = bytes(88, 5)

/** Every event the replay can cause on the real server, by a name used in reports. */
export const MODEL_EVENTS: Record<string, ConnectionEvent> = {
  LOGIN_VERIFIED: { type: "LOGIN_VERIFIED", user: alice },
  LIST: { type: "LIST" },
  RTT: { type: "RTT", to: "bob", nonce, ephemeralKey, kemKey },
  ACCEPT: { type: "ACCEPT", requester: "bob", nonce, ephemeralKey, kemCiphertext, signature, confirmation },
  "ACCEPT other": {
    type: "ACCEPT",
    requester: "zed",
    nonce,
    ephemeralKey,
    kemCiphertext,
    signature,
    confirmation,
  },
  REFUSE: { type: "REFUSE", requester: "bob" },
  "REFUSE other": { type: "REFUSE", requester: "zed" },
  MESSAGE: { type: "MESSAGE", envelopes: [envelope] },
  CC_SESSION_ESTABLISHMENT: { type: "CC_SESSION_ESTABLISHMENT", accepter: "bob", signature, confirmation },
  "CC_SESSION_ESTABLISHMENT other": {
    type: "CC_SESSION_ESTABLISHMENT",
    accepter: "zed",
    signature,
    confirmation,
  },
  NOTIFY: { type: "NOTIFY", peer: "bob" },
  "NOTIFY other": { type: "NOTIFY", peer: "zed" },
  PING: { type: "PING", value: 42n },
  PONG: { type: "PONG", value: 42n },
  ERROR: { type: "ERROR", code: ErrorCode.Internal, text: "client gives up" },
  QUIT: { type: "QUIT" },
  "peer RTT": { type: "REQUEST_INCOMING", from: bob, nonce, ephemeralKey, kemKey },
  "peer ACCEPT": {
    type: "REQUEST_ACCEPTED",
    from: bob,
    nonce,
    ephemeralKey,
    kemCiphertext,
    signature,
    confirmation,
  },
  "peer REFUSE": { type: "REQUEST_REFUSED", from: "bob" },
  "peer CC_SESSION_ESTABLISHMENT": { type: "CHAT_ESTABLISHED", from: "bob", signature, confirmation },
  "peer MESSAGE": { type: "PEER_MESSAGE", envelopes: [envelope] },
  "peer leaves": { type: "PEER_LEFT", peer: "bob", reason: NotifyReason.Left },
  "same user logs in again": { type: "KICK", code: ErrorCode.SessionReplaced, text: "" },
  "socket closed": { type: "TRANSPORT_CLOSED" },
  "bad record": { type: "TRANSPORT_FAILED", code: ErrorCode.RecordRejected, text: "" },
  "oversized frame": { type: "TRANSPORT_FAILED", code: ErrorCode.FrameTooLarge, text: "" },
  "plaintext frame": { type: "TRANSPORT_FAILED", code: ErrorCode.Malformed, text: "" },
}

/** Columns of the state × opcode matrix: what a client can send. */
export const CLIENT_INPUTS = [
  "LIST",
  "RTT",
  "ACCEPT",
  "ACCEPT other",
  "REFUSE",
  "REFUSE other",
  "MESSAGE",
  "CC_SESSION_ESTABLISHMENT",
  "CC_SESSION_ESTABLISHMENT other",
  "NOTIFY",
  "NOTIFY other",
  "PING",
  "PONG",
  "ERROR",
  "QUIT",
  "bad record",
  "oversized frame",
  "plaintext frame",
] as const

/** One cell of the matrix: what the chart prescribes (and the replay observed). */
export const outcome = (before: ModelSnapshot, prediction: Prediction): string => {
  if (prediction.close !== undefined)
    return prediction.close.code === undefined ? "close" : `close${prediction.close.code}`
  if (prediction.errorCodes.length > 0) return prediction.errorCodes.map((code) => `E${code}`).join("+")
  if (JSON.stringify(before.value) !== JSON.stringify(prediction.snapshot.value))
    return `→${stateLabel(prediction.snapshot)}`
  return prediction.toClient.length > 0
    ? prediction.toClient.join("+")
    : prediction.toPeer.length > 0
      ? "relay"
      : "ok"
}

/** "idle", "requesting.outgoing", "chatting.active" … for matrix rows. */
export const stateLabel = (snapshot: ModelSnapshot): string => {
  const value = snapshot.value
  if (typeof value === "string") return value
  const session = value.online.session
  return typeof session === "string"
    ? session
    : Object.entries(session)
        .map(([k, v]) => `${k}.${v}`)
        .join("")
}

export const eventName = (event: ConnectionEvent): string =>
  Object.entries(MODEL_EVENTS).find(([, candidate]) => candidate === event)?.[0] ?? event.type

/** Events the replay can cause only in some states (a real peer could not send them otherwise). */
export const causable = (snapshot: ModelSnapshot, event: ConnectionEvent): boolean => {
  if (snapshot.status !== "active") return false // closing is final: the actor is gone
  const { role } = snapshot.context
  const state = JSON.stringify(snapshot.value)
  switch (event.type) {
    case "LOGIN_VERIFIED":
      return snapshot.value === "authenticating"
    case "REQUEST_INCOMING":
      // a crossed request (we are already asking) only arises from a race; covered by flows.test.ts
      return !state.includes("requesting")
    case "CHAT_ESTABLISHED":
      return role === "accepter"
    case "REQUEST_ACCEPTED":
    case "REQUEST_REFUSED":
      return role === "requester"
    default:
      return snapshot.value !== "authenticating"
  }
}

/** The abstract state: the chart's state plus who we are to the peer. */
export const serializeState = (snapshot: ModelSnapshot): string =>
  JSON.stringify({ value: snapshot.value, role: snapshot.context.role ?? null })

/** Follow-up events the real server produces by itself after a step (the model needs them too). */
const followUps = (event: ConnectionEvent, snapshot: ModelSnapshot): ConnectionEvent[] =>
  event.type === "LIST" && JSON.stringify(snapshot.value).includes("online")
    ? [{ type: "LIST_READY", total: 0, names: [] }]
    : event.type === "LOGIN_VERIFIED"
      ? [{ type: "LIST_READY", total: 0, names: [] }]
      : []

export interface Prediction {
  readonly snapshot: ModelSnapshot
  /** Message types the client must receive, in order. */
  readonly toClient: ReadonlyArray<string>
  /** The ERROR codes among them. */
  readonly errorCodes: ReadonlyArray<number>
  /** When the connection must end: with an ERROR code, or quietly. */
  readonly close?: { readonly code?: number }
  /** Message types the peer must receive because of this step. */
  readonly toPeer: ReadonlyArray<string>
  /** The transition definitions the step took (for coverage). */
  readonly taken: ReadonlyArray<object>
}

const peerMessageFor = (
  action: string,
  before: ModelSnapshot,
  event: ConnectionEvent,
): string | undefined => {
  const hadPeer = before.context.peer === "bob"
  switch (action) {
    case "reportChatRequested":
      return event.type === "RTT" && event.to === "bob" ? "Rtt" : undefined
    case "acceptRequest":
      return "Accept"
    case "refuseRequest":
      return "Refuse"
    case "establishChat":
      return "CcSessionEstablishment"
    case "forwardMessages":
      return "Message"
    case "reportConversationEnded":
      return "Notify"
    case "reportClosed":
      return hadPeer ? "Notify" : undefined
    default:
      return undefined
  }
}

/** Applies one event (and its follow-ups) to the model and says what must be observed. */
export const predict = (before: ModelSnapshot, event: ConnectionEvent): Prediction => {
  const toClient: string[] = []
  const errorCodes: number[] = []
  const toPeer: string[] = []
  const taken: object[] = []
  let close: Prediction["close"]
  let snapshot = before
  for (const step of [event, ...followUps(event, before)]) {
    taken.push(...modelMachine.getTransitionData(snapshot, step))
    const [next, actions] = transition(modelMachine, snapshot, step)
    for (const action of actions as ReadonlyArray<{ type: string; params?: { event?: unknown } }>) {
      const emitted =
        action.type === "xstate.emit" ? (action.params?.event as EmittedEvent | undefined) : undefined
      if (emitted?.type === "outbound") {
        toClient.push(...emitted.messages.map((message) => message.type))
        for (const message of emitted.messages) if (message.type === "Error") errorCodes.push(message.code)
      }
      if (emitted?.type === "relay") toClient.push(...emitted.envelopes.map(() => "Message"))
      if (emitted?.type === "close") close = emitted.code === undefined ? {} : { code: emitted.code }
      const peerMessage = peerMessageFor(action.type, snapshot, step)
      if (peerMessage !== undefined) toPeer.push(peerMessage)
    }
    snapshot = next
  }
  return { snapshot, toClient, errorCodes, toPeer, taken, ...(close === undefined ? {} : { close }) }
}

type EmittedEvent =
  | { readonly type: "outbound"; readonly messages: ReadonlyArray<ServerMessage> }
  | { readonly type: "relay"; readonly envelopes: ReadonlyArray<Uint8Array> }
  | { readonly type: "close"; readonly code?: number }

/** Every transition definition of the chart, with a readable label. */
export const allTransitions = (): ReadonlyArray<{ readonly definition: object; readonly label: string }> => {
  const out: Array<{ definition: object; label: string }> = []
  const visit = (node: (typeof modelMachine)["root"]): void => {
    for (const [eventType, definitions] of node.transitions) {
      definitions.forEach((definition, index) => {
        const guard =
          typeof definition.guard === "object" && definition.guard !== null
            ? ` [${(definition.guard as { type?: string }).type}]`
            : ""
        out.push({
          definition,
          label: `${node.id} ─ ${eventType}${guard}${definitions.length > 1 ? ` #${index + 1}` : ""}`,
        })
      })
    }
    for (const child of Object.values(node.states)) visit(child)
  }
  visit(modelMachine.root)
  return out
}

/** Every state node id of the chart. */
export const allStates = (): ReadonlyArray<string> => {
  const out: string[] = []
  const visit = (node: (typeof modelMachine)["root"]): void => {
    out.push(node.id)
    for (const child of Object.values(node.states)) visit(child)
  }
  visit(modelMachine.root)
  return out
}
