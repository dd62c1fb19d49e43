/**
 * Safety numbers per identity (docs/protocol.md §9): each half depends on one user only, is the
 * iterated SHA-512 of the specification (checked against a second computation written here), the
 * two halves are ordered so both sides read the same 60 digits, and a typed number matches only
 * the exact pair (or the peer's own 30 digits).
 */
import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { generateIdentity } from "../../src/crypto/identity.ts"
import {
  digitsOf,
  FINGERPRINT_ITERATIONS,
  identityFingerprint,
  matchesSafety,
  safetyNumber,
} from "../../src/crypto/safety.ts"
import { seededRandom } from "../../testkit/random.ts"

const party = (name: string, seed = name) => ({
  name,
  identityKey: generateIdentity(seededRandom(`safety-${seed}`)).publicKey,
})

/** The specification, written out again: h0 = SHA-512(0x0000 ‖ key ‖ name), 5,200 × h = SHA-512(h ‖ key). */
const referenceFingerprint = (name: string, key: Uint8Array): string => {
  let h = createHash("sha512")
    .update(Buffer.concat([Buffer.of(0, 0), key, Buffer.from(name)]))
    .digest()
  for (let i = 0; i < 5_200; i++)
    h = createHash("sha512")
      .update(Buffer.concat([h, key]))
      .digest()
  return Array.from({ length: 6 }, (_, j) => String(h.readUIntBE(5 * j, 5) % 100_000).padStart(5, "0")).join(
    " ",
  )
}

describe("identity fingerprints", () => {
  const alice = party("alice")

  it("follow the specification: 30 digits from 5,200 iterations of SHA-512 over name and key", () => {
    expect(FINGERPRINT_ITERATIONS).toBe(5_200)
    expect(identityFingerprint(alice)).toBe(referenceFingerprint("alice", alice.identityKey))
    expect(identityFingerprint(alice)).toMatch(/^\d{5}( \d{5}){5}$/)
  })

  it("change with the key and with the name, and with nothing else", () => {
    expect(identityFingerprint(party("alice", "other"))).not.toBe(identityFingerprint(alice))
    expect(identityFingerprint({ name: "alicf", identityKey: alice.identityKey })).not.toBe(
      identityFingerprint(alice),
    )
    expect(identityFingerprint({ name: "alice", identityKey: Uint8Array.from(alice.identityKey) })).toBe(
      identityFingerprint(alice),
    )
  })
})

describe("safety numbers", () => {
  const alice = party("alice")
  const bob = party("bob")
  const mallory = party("bob", "mallory") // a key a server controls, under bob's name

  it("are both fingerprints, the lower first: 60 digits, the same on both sides", () => {
    const number = safetyNumber(alice, bob)
    expect(number).toBe(safetyNumber(bob, alice))
    expect(digitsOf(number)).toHaveLength(60)
    const halves = [identityFingerprint(alice), identityFingerprint(bob)].sort()
    expect(number).toBe(`${halves[0]} ${halves[1]}`)
  })

  it("keep alice's half when bob's key is swapped: a match needs bob's exact fingerprint", () => {
    const genuine = safetyNumber(alice, bob)
    const swapped = safetyNumber(alice, mallory)
    expect(swapped).not.toBe(genuine)
    expect(swapped).toContain(identityFingerprint(alice))
    expect(swapped).not.toContain(identityFingerprint(bob))
  })

  it("match a typed number only for that pair: 60 digits, or the peer's own 30, spacing ignored", () => {
    const number = safetyNumber(alice, bob)
    expect(matchesSafety(number, alice, bob)).toBe(true)
    expect(matchesSafety(digitsOf(number), alice, bob)).toBe(true)
    expect(matchesSafety(identityFingerprint(bob), alice, bob)).toBe(true)
    expect(matchesSafety(identityFingerprint(alice), alice, bob)).toBe(false) // one's own half proves nothing
    expect(matchesSafety(number, alice, mallory)).toBe(false)
    expect(matchesSafety(safetyNumber(alice, mallory), alice, bob)).toBe(false)
    expect(matchesSafety(digitsOf(number).slice(0, 59), alice, bob)).toBe(false)
    expect(matchesSafety("", alice, bob)).toBe(false)
  })
})
