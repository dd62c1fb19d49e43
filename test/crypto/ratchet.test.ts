/**
 * Unit tests of the Double Ratchet (src/crypto/ratchet.ts): start in both orders, the header layout,
 * DH steps, skipped keys and their bounds, replay, tampering at every byte with the state unchanged,
 * wiping, serialisation, and a byte-for-byte cross-check of every message key against the independent
 * reference (./ratchet-reference.ts). docs/protocol.md §8.3.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { type Random, x25519KeyPair } from "../../src/crypto/primitives.ts"
import {
  initRatchetAccepter,
  initRatchetRequester,
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
  ratchetDecrypt,
  ratchetEncrypt,
} from "../../src/crypto/ratchet.ts"
import {
  deserialiseRatchet,
  type RatchetState,
  serialiseRatchet,
  wipeRatchet,
} from "../../src/crypto/ratchet-state.ts"
import { seededRandom } from "../../testkit/random.ts"
import { ReferenceRatchet } from "./ratchet-reference.ts"

interface Side {
  readonly state: RatchetState
  readonly random: Random
  readonly keys: Uint8Array[]
}

const start = (seed: string) => {
  const random = seededRandom(seed)
  const rootKey = random(32)
  const ad = random(32)
  const bobKey = x25519KeyPair(random)
  const aliceRandom = seededRandom(`${seed}/alice`)
  const alice = Result.getOrThrow(initRatchetRequester(rootKey, bobKey.publicKey, aliceRandom))
  const bob = initRatchetAccepter(rootKey, bobKey)
  return {
    ad,
    rootKey,
    bobKey,
    alice: { state: alice, random: aliceRandom, keys: [] } as Side,
    bob: { state: bob, random: seededRandom(`${seed}/bob`), keys: [] } as Side,
  }
}

const text = (label: string): Uint8Array => new Uint8Array(Buffer.from(`message ${label}`))
const record = (side: Side) => (key: Uint8Array) => side.keys.push(Uint8Array.from(key))
const send = (side: Side, ad: Uint8Array, label: string): Uint8Array =>
  Result.getOrThrow(ratchetEncrypt(side.state, text(label), ad, record(side)))
const open = (side: Side, ad: Uint8Array, envelope: Uint8Array) =>
  ratchetDecrypt(side.state, envelope, ad, side.random, record(side))
const receive = (side: Side, ad: Uint8Array, envelope: Uint8Array): string =>
  Buffer.from(Result.getOrThrow(open(side, ad, envelope))).toString()
const reason = (result: Result.Result<unknown, { reason: string }>): string =>
  Result.isFailure(result) ? result.failure.reason : "ok"
const snapshot = (side: Side): string => Buffer.from(serialiseRatchet(side.state)).toString("hex")

describe("double ratchet", () => {
  it("lets the accepter speak first on the initial chain, then steps on each turn", () => {
    const { ad, alice, bob, bobKey } = start("bob first")
    const b0 = send(bob, ad, "b0")
    const b1 = send(bob, ad, "b1")
    expect(Buffer.from(b0.subarray(0, 32))).toEqual(Buffer.from(bobKey.publicKey))
    expect(Buffer.from(b1.subarray(32, 40)).toString("hex")).toBe("0000000000000001")
    expect(b1.length).toBe(40 + text("b1").length + 16)
    expect(receive(alice, ad, b1)).toBe("message b1")
    expect(receive(alice, ad, b0)).toBe("message b0")
    const a0 = send(alice, ad, "a0")
    expect(receive(bob, ad, a0)).toBe("message a0")
    const b2 = send(bob, ad, "b2")
    // Bob stepped: a fresh ratchet key; pn counts the two messages of the initial chain.
    expect(Buffer.from(b2.subarray(0, 32)).equals(Buffer.from(bobKey.publicKey))).toBe(false)
    expect(Buffer.from(b2.subarray(32, 40)).toString("hex")).toBe("0000000200000000")
    expect(receive(alice, ad, b2)).toBe("message b2")
  })

  it("lets the requester speak first", () => {
    const { ad, alice, bob } = start("alice first")
    const a0 = send(alice, ad, "a0")
    const a1 = send(alice, ad, "a1")
    expect(Buffer.from(a0.subarray(0, 32))).toEqual(Buffer.from(a1.subarray(0, 32)))
    expect(receive(bob, ad, a0)).toBe("message a0")
    expect(receive(bob, ad, a1)).toBe("message a1")
    const b0 = send(bob, ad, "b0")
    expect(receive(alice, ad, b0)).toBe("message b0")
    const a2 = send(alice, ad, "a2")
    expect(Buffer.from(a2.subarray(0, 32)).equals(Buffer.from(a0.subarray(0, 32)))).toBe(false)
    expect(receive(bob, ad, a2)).toBe("message a2")
  })

  it("opens skipped messages once, across DH steps, and refuses replays", () => {
    const { ad, alice, bob } = start("skipped")
    const early = [send(alice, ad, "a0"), send(alice, ad, "a1"), send(alice, ad, "a2")]
    expect(receive(bob, ad, early[2]!)).toBe("message a2")
    expect(bob.state.skipped.size).toBe(2)
    expect(receive(alice, ad, send(bob, ad, "b0"))).toBe("message b0")
    const late = send(alice, ad, "a3") // a new chain: Bob's step stores nothing more (pn = 3)
    expect(receive(bob, ad, late)).toBe("message a3")
    expect(receive(bob, ad, early[0]!)).toBe("message a0")
    expect(receive(bob, ad, early[1]!)).toBe("message a1")
    expect(bob.state.skipped.size).toBe(0)
    for (const envelope of [...early, late]) expect(reason(open(bob, ad, envelope))).toBe("Replayed")
  })

  it("skips at most MAX_SKIP keys per chain, and refuses more without a change", () => {
    const { ad, alice, bob } = start("window")
    const envelopes = Array.from({ length: MAX_SKIP + 2 }, (_, i) => send(alice, ad, `a${i}`))
    const before = snapshot(bob)
    expect(reason(open(bob, ad, envelopes[MAX_SKIP + 1]!))).toBe("TooFarAhead")
    expect(snapshot(bob)).toBe(before)
    expect(receive(bob, ad, envelopes[MAX_SKIP]!)).toBe(`message a${MAX_SKIP}`)
    expect(bob.state.skipped.size).toBe(MAX_SKIP)
  })

  it("bounds the skip of the previous chain (pn) the same way", () => {
    const withLost = (lost: number) => {
      const { ad, alice, bob } = start("pn window")
      receive(bob, ad, send(alice, ad, "a0"))
      for (let i = 1; i <= lost; i++) send(alice, ad, `lost ${i}`)
      receive(alice, ad, send(bob, ad, "b0"))
      const next = send(alice, ad, "next") // pn = lost + 1; Bob has received 1
      const before = snapshot(bob)
      const result = reason(open(bob, ad, next))
      if (result !== "ok") expect(snapshot(bob)).toBe(before)
      return result
    }
    expect(withLost(MAX_SKIP)).toBe("ok")
    expect(withLost(MAX_SKIP + 1)).toBe("TooFarAhead")
  })

  it("bounds the skipped store: the oldest keys are evicted, and their messages refused", () => {
    const { ad, alice, bob } = start("store")
    const skippedFirst: Uint8Array[] = []
    for (let turn = 0; turn < 5; turn++) {
      const burst = Array.from({ length: MAX_SKIP + 1 }, (_, i) => send(alice, ad, `${turn}/${i}`))
      skippedFirst.push(burst[0]!)
      receive(bob, ad, burst.at(-1)!)
      receive(alice, ad, send(bob, ad, `reply ${turn}`))
    }
    expect(bob.state.skipped.size).toBe(MAX_SKIPPED_KEYS)
    expect(reason(open(bob, ad, skippedFirst[0]!))).toBe("Replayed")
    expect(receive(bob, ad, skippedFirst[4]!)).toBe("message 4/0")
  })

  it("rejects an altered byte anywhere, leaving the state unchanged", () => {
    const { ad, alice, bob } = start("tamper")
    receive(bob, ad, send(alice, ad, "a0"))
    const sameChain = send(alice, ad, "a1")
    receive(alice, ad, send(bob, ad, "b0"))
    for (const [who, envelope] of [
      [bob, sameChain],
      [bob, send(alice, ad, "a2 (new chain)")],
    ] as const) {
      const before = snapshot(who)
      for (let i = 0; i < envelope.length; i++) {
        const altered = Uint8Array.from(envelope)
        altered[i]! ^= 0x01
        expect(reason(open(who, ad, altered))).not.toBe("ok")
        expect(snapshot(who)).toBe(before)
      }
      expect(
        reason(
          open(
            who,
            ad.map((x) => x ^ 1),
            envelope,
          ),
        ),
      ).toBe("Tampered")
      expect(reason(open(who, ad, envelope.subarray(0, 55)))).toBe("Malformed")
      expect(snapshot(who)).toBe(before)
    }
    expect(receive(bob, ad, sameChain)).toBe("message a1")
  })

  it("refuses a low-order ratchet key, in a header and at the start", () => {
    const { ad, alice, bob, rootKey } = start("low order")
    const envelope = send(alice, ad, "a0")
    envelope.fill(0, 0, 32)
    expect(reason(open(bob, ad, envelope))).toBe("LowOrderKey")
    expect(reason(initRatchetRequester(rootKey, new Uint8Array(32), seededRandom("x")))).toBe("LowOrderKey")
  })

  it("stops at the u32 message limit", () => {
    const { ad, alice } = start("limit")
    alice.state.sent = 0xffff_ffff
    expect(reason(ratchetEncrypt(alice.state, text("x"), ad))).toBe("LimitReached")
  })

  it("serialises to bytes and back, and wipes every key", () => {
    const { ad, alice, bob } = start("serialise")
    receive(bob, ad, send(alice, ad, "a0"))
    send(alice, ad, "lost")
    receive(bob, ad, send(alice, ad, "a2"))
    const bytes = serialiseRatchet(bob.state)
    const copy = deserialiseRatchet(bytes)!
    expect(Buffer.from(serialiseRatchet(copy))).toEqual(Buffer.from(bytes))
    expect(deserialiseRatchet(bytes.subarray(0, bytes.length - 1))).toBeUndefined()
    expect(deserialiseRatchet(Buffer.concat([bytes, Uint8Array.of(0)]))).toBeUndefined()
    const secrets = [copy.rootKey, copy.sendingKey.secretKey, copy.sendingChain, copy.receivingChain!]
    const skipped = [...copy.skipped.values()].map((key) => key.messageKey)
    wipeRatchet(copy)
    for (const key of [...secrets, ...skipped]) expect(key.every((byte) => byte === 0)).toBe(true)
    expect(copy.skipped.size).toBe(0)
  })
})

/** One scripted conversation step: `send` by a side, or `deliver` of an earlier label. */
type Step = readonly ["A" | "B", string] | readonly ["deliver", string]

interface Speaker {
  encrypt(label: string): Uint8Array
  decrypt(envelope: Uint8Array): string
  readonly keys: ReadonlyArray<Uint8Array>
}

const production = (side: Side, ad: Uint8Array): Speaker => ({
  encrypt: (label) => send(side, ad, label),
  decrypt: (envelope) => receive(side, ad, envelope),
  keys: side.keys,
})

const reference = (state: ReferenceRatchet, ad: Uint8Array, random: Random): Speaker => ({
  encrypt: (label) => state.RatchetEncrypt(text(label), ad),
  decrypt: (envelope) => state.RatchetDecrypt(envelope, ad, random).toString(),
  keys: state.usedKeys,
})

const play = (script: ReadonlyArray<Step>, a: Speaker, b: Speaker): Map<string, Uint8Array> => {
  const sent = new Map<string, Uint8Array>()
  for (const [who, label] of script) {
    if (who === "deliver") {
      const receiver = label.startsWith("a") ? b : a
      expect(receiver.decrypt(sent.get(label)!)).toBe(`message ${label}`)
    } else sent.set(label, (who === "A" ? a : b).encrypt(label))
  }
  return sent
}

const d = (label: string): Step => ["deliver", label]
const SCRIPTS: Record<string, ReadonlyArray<Step>> = {
  "the accepter first, with skips": [
    ["B", "b0"],
    ["B", "b1"],
    d("b1"),
    ["A", "a0"],
    d("b0"),
    d("a0"),
    ["B", "b2"],
    ["A", "a1"],
    d("a1"),
    d("b2"),
    ["A", "a2"],
    ["A", "a3"],
    ["A", "a4"],
    d("a4"),
    ["B", "b3"],
    d("b3"),
    ["A", "a5"],
    d("a5"),
    d("a2"),
    d("a3"),
    ["B", "b4"],
    ["B", "b5"],
    d("b5"),
    ["A", "a6"],
    d("a6"),
    d("b4"),
  ],
  "the requester first, with skips": [
    ["A", "a0"],
    ["A", "a1"],
    d("a1"),
    ["B", "b0"],
    ["B", "b1"],
    d("b1"),
    d("a0"),
    ["A", "a2"],
    d("a2"),
    d("b0"),
    ["B", "b2"],
    ["A", "a3"],
    d("a3"),
    d("b2"),
    ["B", "b3"],
    d("b3"),
    ["A", "a4"],
    d("a4"),
  ],
}

describe("cross-check with the reference implementation", () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const referencePair = (seed: string, ad: Uint8Array) => {
      const { rootKey, bobKey } = start(seed)
      const aliceRandom = seededRandom(`${seed}/alice`)
      const bobRandom = seededRandom(`${seed}/bob`)
      const alice = ReferenceRatchet.alice(rootKey, bobKey.publicKey, aliceRandom)
      return [
        reference(alice, ad, aliceRandom),
        reference(ReferenceRatchet.bob(rootKey, bobKey.secretKey), ad, bobRandom),
      ]
    }

    it(`derives the same message keys and envelopes: ${name}`, () => {
      const ours = start(name)
      const [refAlice, refBob] = referencePair(name, ours.ad)
      const envelopes = play(script, production(ours.alice, ours.ad), production(ours.bob, ours.ad))
      const referenceEnvelopes = play(script, refAlice!, refBob!)
      const aliceUses = script.filter(
        ([who, label]) => who === "A" || (who === "deliver" && label.startsWith("b")),
      )
      expect(ours.alice.keys.length).toBe(aliceUses.length)
      for (const [mine, theirs] of [
        [ours.alice.keys, refAlice!.keys],
        [ours.bob.keys, refBob!.keys],
      ] as const) {
        expect(mine.map((k) => Buffer.from(k).toString("hex"))).toEqual(
          theirs.map((k) => Buffer.from(k).toString("hex")),
        )
      }
      for (const [label, envelope] of envelopes) {
        expect(Buffer.from(envelope)).toEqual(Buffer.from(referenceEnvelopes.get(label)!))
      }
    })

    it(`interoperates with the reference on either side: ${name}`, () => {
      const ours = start(name)
      const [refAlice, refBob] = referencePair(name, ours.ad)
      play(script, production(ours.alice, ours.ad), refBob!)
      const again = start(name)
      play(script, refAlice!, production(again.bob, again.ad))
    })
  }
})
