/**
 * The v3 chat agreement (src/crypto/e2e.ts) run in memory by both roles: equal keys, every relayed
 * field bound by the signatures and confirmations (a flipped byte anywhere is refused, at the step and
 * with the reason docs/protocol.md §8.2 implies), identities and names bound, no replay across
 * agreements. The hybrid half (ML-KEM mixing, BadKemKey, wiping) is in e2e-hybrid.test.ts.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { ChatChannel } from "../../src/crypto/chat-channel.ts"
import { x25519KeyPair } from "../../src/crypto/primitives.ts"
import { safetyNumber } from "../../src/crypto/safety.ts"
import { MIN_ENVELOPE_BYTES } from "../../src/protocol/constants.ts"
import { seededRandom } from "../../testkit/random.ts"
import {
  type AcceptValues,
  acceptValuesOf,
  agree,
  alice,
  bob,
  type EstablishValues,
  flip,
  mallory,
  outcome,
  party,
  type Relay,
} from "./e2e-agreement.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("chat agreement: both roles", () => {
  it("agree the same root key and transcript hash; the accepter's ephemeral is the requester's ratchet peer", () => {
    const { requester, accepter, acceptance } = Result.getOrThrow(agree())
    expect(requester.role).toBe("requester")
    expect(accepter.role).toBe("accepter")
    expect(requester.rootKey).toHaveLength(32)
    expect(hex(requester.rootKey)).toBe(hex(accepter.rootKey))
    expect(hex(requester.transcriptHash)).toBe(hex(accepter.transcriptHash))
    expect(hex(requester.peerRatchetKey!)).toBe(hex(accepter.ownRatchetKey!.publicKey))
    expect(hex(acceptance.ephemeralKey)).toBe(hex(accepter.ownRatchetKey!.publicKey))
    expect(hex(requester.rootKey)).not.toBe(hex(requester.transcriptHash))
  })

  it("the agreed keys start a working ratchet: text flows both ways", () => {
    const { requester, accepter } = Result.getOrThrow(agree())
    const random = seededRandom("e2e-chat")
    const a = ChatChannel.open(requester, random)
    const b = ChatChannel.open(accepter, random)
    expect(Result.getOrThrow(a.seal("a"))).toHaveLength(MIN_ENVELOPE_BYTES) // what the server lets through
    expect(Result.getOrThrow(b.open(Result.getOrThrow(a.seal("hi bob"))))).toEqual({
      kind: "text",
      text: "hi bob",
    })
    expect(Result.getOrThrow(a.open(Result.getOrThrow(b.seal("hi alice ✓"))))).toEqual({
      kind: "text",
      text: "hi alice ✓",
    })
  })

  it("two agreements with fresh randomness share nothing", () => {
    const one = Result.getOrThrow(agree({}, "first"))
    const two = Result.getOrThrow(agree({}, "second"))
    expect(hex(one.requester.rootKey)).not.toBe(hex(two.requester.rootKey))
    expect(hex(one.requester.transcriptHash)).not.toBe(hex(two.requester.transcriptHash))
  })
})

type RttField = "nonce" | "ephemeralKey" | "kemKey"
type AcceptField = "nonce" | "ephemeralKey" | "kemCiphertext" | "signature" | "confirmation"

const inRtt =
  (field: RttField, at: number): NonNullable<Relay["rtt"]> =>
  (hello) => ({ ...hello, [field]: flip(hello[field], at) })
const inAccept =
  (field: AcceptField, at: number): NonNullable<Relay["accept"]> =>
  (accept): AcceptValues => ({ ...accept, [field]: flip(accept[field], at) })
const inEstablish =
  (field: "signature" | "confirmation", at: number): NonNullable<Relay["establish"]> =>
  (values): EstablishValues => ({ ...values, [field]: flip(values[field], at) })

/** [wire name, the relay's alteration at a byte offset, the refusal]. */
const tampering: ReadonlyArray<readonly [string, (at: number) => Relay, string]> = [
  ["nA (RTT)", (at) => ({ rtt: inRtt("nonce", at) }), "complete: BadSignature"],
  ["EA (RTT)", (at) => ({ rtt: inRtt("ephemeralKey", at) }), "complete: BadSignature"],
  ["kemKey (RTT)", (at) => ({ rtt: inRtt("kemKey", at) }), "complete: BadSignature"],
  ["nB (ACCEPT)", (at) => ({ accept: inAccept("nonce", at) }), "complete: BadSignature"],
  ["EB (ACCEPT)", (at) => ({ accept: inAccept("ephemeralKey", at) }), "complete: BadSignature"],
  ["kemCiphertext (ACCEPT)", (at) => ({ accept: inAccept("kemCiphertext", at) }), "complete: BadSignature"],
  ["sigB (ACCEPT)", (at) => ({ accept: inAccept("signature", at) }), "complete: BadSignature"],
  ["confB (ACCEPT)", (at) => ({ accept: inAccept("confirmation", at) }), "complete: BadConfirmation"],
  [
    "sigA (CC_SESSION_ESTABLISHMENT)",
    (at) => ({ establish: inEstablish("signature", at) }),
    "finish: BadSignature",
  ],
  [
    "confA (CC_SESSION_ESTABLISHMENT)",
    (at) => ({ establish: inEstablish("confirmation", at) }),
    "finish: BadConfirmation",
  ],
]

describe("chat agreement: every relayed field is bound", () => {
  it("passes untouched through the same relay harness (the baseline the cases below alter)", () => {
    expect(outcome(agree({ rtt: (hello) => hello, accept: (a) => a, establish: (e) => e }))).toBe("ok")
  })

  for (const [field, relay, refusal] of tampering) {
    it(`a flipped byte of ${field} is refused (${refusal})`, () => {
      // The first, a middle and the last byte. For kemKey, bytes 0 and 17 are coefficient bits that stay
      // below q with these seeded keys and the last is in the seed ρ: only the signature can catch them.
      for (const at of [0, 17, -1]) expect(outcome(agree(relay(at))), `${field} byte ${at}`).toBe(refusal)
    })
  }

  it("a whole ACCEPT replayed from another agreement is refused (fresh nonces and keys in T)", () => {
    const old = Result.getOrThrow(agree({}, "earlier"))
    expect(outcome(agree({ accept: () => acceptValuesOf(old.acceptance) }))).toBe("complete: BadSignature")
  })

  it("a low-order ephemeral in RTT is refused by the accepter before it signs", () => {
    expect(outcome(agree({ rtt: (hello) => ({ ...hello, ephemeralKey: new Uint8Array(32) }) }))).toBe(
      "accept: LowOrderKey",
    )
  })

  it("an ephemeral swapped for the relay's own is refused", () => {
    const own = x25519KeyPair(seededRandom("relay")).publicKey
    expect(outcome(agree({ rtt: (hello) => ({ ...hello, ephemeralKey: own }) }))).toBe(
      "complete: BadSignature",
    )
    expect(outcome(agree({ accept: (a) => ({ ...a, ephemeralKey: own }) }))).toBe("complete: BadSignature")
  })
})

describe("chat agreement: identities and names are bound", () => {
  it("mallory's key presented as bob's (to alice) is refused", () => {
    const seen = { name: "bob", identityKey: mallory.key.publicKey }
    expect(outcome(agree({ accepterSeenByRequester: seen }))).toBe("complete: BadSignature")
  })

  it("mallory's key presented as alice's (to bob) is refused", () => {
    const seen = { name: "alice", identityKey: mallory.key.publicKey }
    expect(outcome(agree({ requesterSeenByAccepter: seen }))).toBe("complete: BadSignature")
  })

  it("a renamed peer (the same key under another name) is refused on either side", () => {
    const carolKey = { name: "carol", identityKey: bob.key.publicKey }
    expect(outcome(agree({ accepterSeenByRequester: carolKey }))).toBe("complete: BadSignature")
    const renamedAlice = { name: "alicia", identityKey: alice.key.publicKey }
    expect(outcome(agree({ requesterSeenByAccepter: renamedAlice }))).toBe("complete: BadSignature")
  })
})

describe("safety number", () => {
  it("is equal on both sides: 12 groups of 5 digits", () => {
    const ab = safetyNumber(party(alice), party(bob))
    expect(ab).toBe(safetyNumber(party(bob), party(alice)))
    expect(ab).toMatch(/^\d{5}( \d{5}){11}$/)
  })

  it("changes when either key changes", () => {
    const ab = safetyNumber(party(alice), party(bob))
    expect(safetyNumber(party(alice), { name: "bob", identityKey: mallory.key.publicKey })).not.toBe(ab)
    expect(safetyNumber({ name: "alice", identityKey: mallory.key.publicKey }, party(bob))).not.toBe(ab)
  })
})
