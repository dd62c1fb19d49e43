/**
 * Safety numbers, per identity (Signal's design): each user's 30-digit fingerprint comes from 5,200
 * iterations of SHA-512 over their name and Ed25519 key; a chat shows both, 60 digits, the lower
 * first, so both sides read the same digits. A server that controls both keys must find a second
 * preimage of one user's fingerprint (~2^99 work), not a two-sided collision. Pure.
 * docs/protocol.md §9.
 */
import { createHash } from "node:crypto"
import type { Party } from "./e2e.ts"

export const FINGERPRINT_ITERATIONS = 5_200
const VERSION = Uint8Array.of(0, 0)
const GROUPS = 6
const GROUP_BYTES = 5

const cache = new Map<string, string>()
const CACHE_LIMIT = 1_024

/** One user's 30 digits in 6 groups of 5, e.g. "04211 93810 55102 67345 00981 12034". */
export const identityFingerprint = (party: Party): string => {
  const id = `${party.name}:${Buffer.from(party.identityKey).toString("hex")}`
  const kept = cache.get(id)
  if (kept !== undefined) return kept
  const name = Buffer.from(party.name, "ascii")
  let digest = createHash("sha512").update(VERSION).update(party.identityKey).update(name).digest()
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) {
    digest = createHash("sha512").update(digest).update(party.identityKey).digest()
  }
  const groups: string[] = []
  for (let i = 0; i < GROUPS; i++) {
    const value = digest.readUIntBE(i * GROUP_BYTES, GROUP_BYTES) % 100_000
    groups.push(value.toString().padStart(5, "0"))
  }
  const fingerprint = groups.join(" ")
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string)
  cache.set(id, fingerprint)
  return fingerprint
}

/** 60 digits in 12 groups: both fingerprints, the lower first; the same on both sides. */
export const safetyNumber = (one: Party, other: Party): string => {
  const a = identityFingerprint(one)
  const b = identityFingerprint(other)
  return a <= b ? `${a} ${b}` : `${b} ${a}`
}

/** Digits only: what a user types is compared without spaces or other separators. */
export const digitsOf = (text: string): string => text.replace(/[^0-9]/g, "")

/**
 * True when `typed` names exactly this pair's safety number (60 digits) or the peer's own
 * fingerprint (30 digits): what `!trust` and `!verify` accept.
 */
export const matchesSafety = (typed: string, me: Party, peer: Party): boolean => {
  const digits = digitsOf(typed)
  if (digits.length === 60) return digits === digitsOf(safetyNumber(me, peer))
  if (digits.length === 30) return digits === digitsOf(identityFingerprint(peer))
  return false
}
