/**
 * Safety numbers: a short, stable, order-independent fingerprint of two users' names and identity
 * keys, read aloud or compared side by side to detect a server that swapped a key.
 * Pure. docs/protocol.md §9.
 */

import type { Party } from "./e2e.ts"
import { sha256 } from "./primitives.ts"

const GROUPS = 6
const GROUP_BYTES = 5

const encodeParty = (party: Party): Uint8Array =>
  Buffer.concat([Uint8Array.of(party.name.length), Buffer.from(party.name, "ascii"), party.identityKey])

/** 30 digits in 6 groups of 5, e.g. "04211 93810 55102 67345 00981 12034"; same for both sides. */
export const safetyNumber = (one: Party, other: Party): string => {
  const [first, second] =
    Buffer.compare(one.identityKey, other.identityKey) <= 0 ? [one, other] : [other, one]
  const digest = Buffer.from(
    sha256(Buffer.from("onechat v2 safety number", "ascii"), encodeParty(first), encodeParty(second)),
  )
  const groups: string[] = []
  for (let i = 0; i < GROUPS; i++) {
    const value = digest.readUIntBE(i * GROUP_BYTES, GROUP_BYTES) % 100_000
    groups.push(value.toString().padStart(5, "0"))
  }
  return groups.join(" ")
}
