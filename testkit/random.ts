/**
 * Deterministic randomness for tests: SHA-256 in counter mode over a seed string. Never used by
 * shipped code (which takes the OS CSPRNG); it makes keys, nonces and failures reproducible.
 */
import { createHash } from "node:crypto"
import type { Random } from "../src/crypto/primitives.ts"

export const seededRandom = (seed: string): Random => {
  let counter = 0
  return (length) => {
    const out = new Uint8Array(length)
    for (let offset = 0; offset < length; offset += 32) {
      const block = createHash("sha256").update(`${seed}/${counter++}`).digest()
      out.set(block.subarray(0, Math.min(32, length - offset)), offset)
    }
    return out
  }
}
