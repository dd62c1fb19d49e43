/**
 * Test harness for the hybrid chat agreement (src/crypto/e2e.ts): runs RTT → ACCEPT →
 * CC_SESSION_ESTABLISHMENT in memory with the real functions, letting a relay (a malicious server)
 * alter each message and tests swap what the requester holds. Test-only: no sockets, no mocked
 * crypto; failures name the step that refused. docs/protocol.md §8.2.
 */
import { Result } from "effect"
import {
  type AccepterHello,
  acceptChatRequest,
  type ChatAcceptance,
  type ChatKeys,
  type ChatRequest,
  completeChatAcceptance,
  completeChatRequest,
  type E2eErrorReason,
  type Party,
  type RequesterHello,
  requesterHelloOf,
  startChatRequest,
} from "../../src/crypto/e2e.ts"
import { generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { seededRandom } from "../../testkit/random.ts"

export interface User {
  readonly name: string
  readonly key: IdentityKeyPair
}

export const alice: User = { name: "alice", key: generateIdentity(seededRandom("alice")) }
export const bob: User = { name: "bob", key: generateIdentity(seededRandom("bob")) }
export const mallory: User = { name: "mallory", key: generateIdentity(seededRandom("mallory")) }

export const party = (who: User): Party => ({ name: who.name, identityKey: who.key.publicKey })

/** What ACCEPT carries. */
export type AcceptValues = AccepterHello & {
  readonly signature: Uint8Array
  readonly confirmation: Uint8Array
}
/** What CC_SESSION_ESTABLISHMENT carries. */
export interface EstablishValues {
  readonly signature: Uint8Array
  readonly confirmation: Uint8Array
}

/** What a relay may do to each message, and what each side believes about the other. */
export interface Relay {
  readonly rtt?: (hello: RequesterHello) => RequesterHello
  readonly accept?: (accept: AcceptValues) => AcceptValues
  readonly establish?: (values: EstablishValues) => EstablishValues
  readonly requesterSeenByAccepter?: Party
  readonly accepterSeenByRequester?: Party
  /** What the requester holds when ACCEPT arrives (tests swap its secrets). */
  readonly requesterHolds?: (request: ChatRequest) => ChatRequest
}

export type Stage = "accept" | "complete" | "finish"

export interface Refused {
  readonly stage: Stage
  readonly reason: E2eErrorReason
}

export interface Agreement {
  readonly request: ChatRequest
  readonly acceptance: ChatAcceptance
  readonly requester: ChatKeys
  readonly accepter: ChatKeys
}

/** alice requests, bob accepts, through `relay`; the first refusal ends it. */
export const agree = (relay: Relay = {}, seed = "e2e"): Result.Result<Agreement, Refused> => {
  const random = seededRandom(seed)
  const request = startChatRequest(random)
  const sentHello = requesterHelloOf(request)
  const accepted = acceptChatRequest({
    random,
    me: bob,
    requester: relay.requesterSeenByAccepter ?? party(alice),
    requesterHello: relay.rtt?.(sentHello) ?? sentHello,
  })
  if (Result.isFailure(accepted)) return Result.fail({ stage: "accept", reason: accepted.failure.reason })
  const acceptance = accepted.success
  const sentAccept = acceptValuesOf(acceptance)
  const completed = completeChatRequest({
    request: relay.requesterHolds?.(request) ?? request,
    me: alice,
    accepter: relay.accepterSeenByRequester ?? party(bob),
    accept: relay.accept?.(sentAccept) ?? sentAccept,
  })
  if (Result.isFailure(completed)) return Result.fail({ stage: "complete", reason: completed.failure.reason })
  const sentEstablish = {
    signature: completed.success.signature,
    confirmation: completed.success.confirmation,
  }
  const finished = completeChatAcceptance(
    acceptance.pending,
    relay.establish?.(sentEstablish) ?? sentEstablish,
  )
  if (Result.isFailure(finished)) return Result.fail({ stage: "finish", reason: finished.failure.reason })
  return Result.succeed({
    request,
    acceptance,
    requester: completed.success.keys,
    accepter: finished.success,
  })
}

export const acceptValuesOf = (acceptance: ChatAcceptance): AcceptValues => ({
  nonce: acceptance.nonce,
  ephemeralKey: acceptance.ephemeralKey,
  kemCiphertext: acceptance.kemCiphertext,
  signature: acceptance.signature,
  confirmation: acceptance.confirmation,
})

/** A copy of `bytes` with the low bit of byte `at` flipped (negative `at` counts from the end). */
export const flip = (bytes: Uint8Array, at = 0): Uint8Array => {
  const copy = Uint8Array.from(bytes)
  copy[at < 0 ? copy.length + at : at]! ^= 1
  return copy
}

/** The outcome as a comparable value: "ok" or "stage: reason". */
export const outcome = (result: Result.Result<unknown, Refused>): string =>
  Result.isFailure(result) ? `${result.failure.stage}: ${result.failure.reason}` : "ok"

export const isZero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0)
