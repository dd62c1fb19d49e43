import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  acceptChatRequest,
  type ChatChannel,
  completeChatAcceptance,
  completeChatRequest,
  type Party,
  startChatRequest,
} from "../../src/crypto/e2e.ts"
import { generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { safetyNumber } from "../../src/crypto/safety.ts"
import { seededRandom } from "../support/random.ts"

const alice = { name: "alice", key: generateIdentity(seededRandom("alice")) }
const bob = { name: "bob", key: generateIdentity(seededRandom("bob")) }
const mallory = { name: "mallory", key: generateIdentity(seededRandom("mallory")) }
const party = (who: { name: string; key: IdentityKeyPair }): Party => ({
  name: who.name,
  identityKey: who.key.publicKey,
})

interface Agreement {
  readonly requester: ChatChannel
  readonly accepter: ChatChannel
}

/** A = alice requests, B = bob accepts; `intercept` lets a relay (the server) alter values. */
const agree = (
  intercept: {
    readonly requesterSeenByAccepter?: Party
    readonly accepterSeenByRequester?: Party
    readonly swapRequesterEphemeral?: Uint8Array
    readonly swapAccepterEphemeral?: Uint8Array
    readonly flipAcceptSignature?: boolean
    readonly flipEstablishConfirmation?: boolean
  } = {},
): Result.Result<Agreement, { reason: string }> => {
  const random = seededRandom("e2e")
  const request = startChatRequest(random)
  const acceptance = acceptChatRequest({
    random,
    me: bob,
    requester: intercept.requesterSeenByAccepter ?? party(alice),
    requesterNonce: request.nonce,
    requesterEphemeralKey: intercept.swapRequesterEphemeral ?? request.ephemeral.publicKey,
  })
  if (Result.isFailure(acceptance)) return Result.fail(acceptance.failure)
  const signature = Uint8Array.from(acceptance.success.signature)
  if (intercept.flipAcceptSignature) signature[0]! ^= 1
  const completed = completeChatRequest({
    request,
    me: alice,
    accepter: intercept.accepterSeenByRequester ?? party(bob),
    accept: {
      nonce: acceptance.success.nonce,
      ephemeralKey: intercept.swapAccepterEphemeral ?? acceptance.success.ephemeralKey,
      signature,
      confirmation: acceptance.success.confirmation,
    },
  })
  if (Result.isFailure(completed)) return Result.fail(completed.failure)
  const confirmation = Uint8Array.from(completed.success.confirmation)
  if (intercept.flipEstablishConfirmation) confirmation[5]! ^= 1
  const accepter = completeChatAcceptance(acceptance.success.pending, {
    signature: completed.success.signature,
    confirmation,
  })
  if (Result.isFailure(accepter)) return Result.fail(accepter.failure)
  return Result.succeed({ requester: completed.success.chat, accepter: accepter.success })
}

const failure = (result: Result.Result<unknown, { reason: string }>) =>
  Result.isFailure(result) ? result.failure.reason : "ok"

describe("end-to-end agreement", () => {
  it("both clients derive equal directional keys: text flows both ways", () => {
    const { requester, accepter } = Result.getOrThrow(agree())
    const toB = Result.getOrThrow(requester.seal("hi bob"))
    expect(Result.getOrThrow(accepter.open(toB))).toBe("hi bob")
    const toA = Result.getOrThrow(accepter.seal("hi alice ✓"))
    expect(Result.getOrThrow(requester.open(toA))).toBe("hi alice ✓")
  })

  it("directions use different keys: a message reflected to its sender fails", () => {
    const { requester } = Result.getOrThrow(agree())
    const own = Result.getOrThrow(requester.seal("reflect"))
    expect(failure(requester.open(own))).toBe("Tampered")
  })

  it("a swapped ephemeral key (requester's, in RTT) is detected", () => {
    const fake = startChatRequest(seededRandom("mitm")).ephemeral.publicKey
    expect(failure(agree({ swapRequesterEphemeral: fake }))).toBe("BadSignature")
  })

  it("a swapped ephemeral key (accepter's, in ACCEPT) is detected", () => {
    const fake = startChatRequest(seededRandom("mitm2")).ephemeral.publicKey
    expect(failure(agree({ swapAccepterEphemeral: fake }))).toBe("BadSignature")
  })

  it("a swapped identity key (server presents mallory's key as bob's) is detected", () => {
    expect(
      failure(agree({ accepterSeenByRequester: { name: "bob", identityKey: mallory.key.publicKey } })),
    ).toBe("BadSignature")
  })

  it("a swapped identity key for the requester is detected by the accepter", () => {
    const seen = { name: "alice", identityKey: mallory.key.publicKey }
    expect(failure(agree({ requesterSeenByAccepter: seen }))).toBe("BadSignature")
  })

  it("a renamed peer (same key, other name) is detected", () => {
    expect(
      failure(agree({ accepterSeenByRequester: { name: "carol", identityKey: bob.key.publicKey } })),
    ).toBe("BadSignature")
  })

  it("tampered signature and confirmation are rejected", () => {
    expect(failure(agree({ flipAcceptSignature: true }))).toBe("BadSignature")
    expect(failure(agree({ flipEstablishConfirmation: true }))).toBe("BadConfirmation")
  })

  it("chat counters reject replay, reorder and tampering", () => {
    const { requester, accepter } = Result.getOrThrow(agree())
    const first = Result.getOrThrow(requester.seal("1"))
    const second = Result.getOrThrow(requester.seal("2"))
    expect(failure(accepter.open(second))).toBe("Gap")
    expect(Result.getOrThrow(accepter.open(first))).toBe("1")
    expect(failure(accepter.open(first))).toBe("Replayed")
    const tampered = Uint8Array.from(second)
    tampered[tampered.length - 1]! ^= 1
    expect(failure(accepter.open(tampered))).toBe("Tampered")
    expect(failure(accepter.open(second.subarray(0, 10)))).toBe("Malformed")
  })

  it("a closed chat refuses to seal or open", () => {
    const { requester, accepter } = Result.getOrThrow(agree())
    const message = Result.getOrThrow(requester.seal("bye"))
    accepter.close()
    expect(failure(accepter.open(message))).toBe("Closed")
    requester.close()
    expect(failure(requester.seal("again"))).toBe("Closed")
  })
})

describe("safety number", () => {
  it("is equal on both sides and has 6 groups of 5 digits", () => {
    const ab = safetyNumber(party(alice), party(bob))
    expect(ab).toBe(safetyNumber(party(bob), party(alice)))
    expect(ab).toMatch(/^\d{5}( \d{5}){5}$/)
  })

  it("is stable for the same keys", () => {
    expect(safetyNumber(party(alice), party(bob))).toBe(safetyNumber(party(alice), party(bob)))
  })

  it("changes when either key changes", () => {
    const ab = safetyNumber(party(alice), party(bob))
    expect(safetyNumber(party(alice), { name: "bob", identityKey: mallory.key.publicKey })).not.toBe(ab)
    expect(safetyNumber({ name: "alice", identityKey: mallory.key.publicKey }, party(bob))).not.toBe(ab)
  })
})
