/**
 * Known-answer and behaviour tests of src/crypto/mlkem.ts (ML-KEM-768 over node:crypto), driven by
 * the Wycheproof subset in test/vectors/mlkem768-wycheproof.json (provenance in its README.md):
 * key generation from the seed d ‖ z, decapsulation to the published K (including implicit
 * rejection), malformed seeds, ciphertexts and encapsulation keys. Encapsulation cannot be fed its
 * message through node:crypto, so it is tested by round trips. docs/protocol.md §3.1, §3.2, §4.2.
 */

import { createPublicKey } from "node:crypto"
import { readFileSync } from "node:fs"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  importEncapsulationKey,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_ENCAPSULATION_KEY_BYTES,
  MLKEM768_SEED_BYTES,
  MLKEM768_SHARED_SECRET_BYTES,
  MlKemError,
  mlKemDecapsulate,
  mlKemEncapsulate,
  mlKemKeyPair,
  mlKemKeyPairFromSeed,
} from "../../src/crypto/mlkem.ts"
import { KEM_CIPHERTEXT_BYTES, KEM_ENCAPSULATION_KEY_BYTES } from "../../src/protocol/constants.ts"
import { seededRandom } from "../../testkit/random.ts"

interface Case {
  readonly tcId: number
  readonly comment?: string
  readonly flags?: ReadonlyArray<string>
  readonly seed?: string
  readonly ek?: string
  readonly dk?: string
  readonly c?: string
  readonly K?: string
  readonly result: "valid" | "invalid"
}

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/mlkem768-wycheproof.json", import.meta.url), "utf8"),
) as Record<"decapsulation" | "keyGeneration" | "modulusOverflow", { readonly tests: ReadonlyArray<Case> }>

const bytes = (hex: string | undefined, what: string): Uint8Array => {
  if (hex === undefined || !/^(?:[0-9a-f]{2})*$/.test(hex)) throw new TypeError(`${what}: not hex`)
  return new Uint8Array(Buffer.from(hex, "hex"))
}
const hex = (value: Uint8Array): string => Buffer.from(value).toString("hex")
const label = (t: Case) => `tcId ${t.tcId} ${t.comment ?? ""} ${(t.flags ?? []).join(",")}`.trim()

describe("ML-KEM-768 sizes", () => {
  it("match FIPS 203 and the wire constants of docs/protocol.md §3", () => {
    expect([MLKEM768_ENCAPSULATION_KEY_BYTES, MLKEM768_CIPHERTEXT_BYTES]).toEqual([1184, 1088])
    expect([MLKEM768_SHARED_SECRET_BYTES, MLKEM768_SEED_BYTES]).toEqual([32, 64])
    expect([KEM_ENCAPSULATION_KEY_BYTES, KEM_CIPHERTEXT_BYTES]).toEqual([1184, 1088])
  })
})

describe("ML-KEM-768: Wycheproof mlkem_768_test.json (seed → ek, decapsulation → K)", () => {
  const cases = vectors.decapsulation.tests
  it("holds the expected subset", () => {
    expect(cases.length).toBe(26)
    expect(cases.filter((t) => t.result === "invalid").length).toBe(4)
  })

  for (const t of cases.filter((c) => c.result === "valid")) {
    it(`${label(t)}: key generation gives ek, decapsulation gives K`, () => {
      const pair = Result.getOrThrow(mlKemKeyPairFromSeed(bytes(t.seed, "seed")))
      expect(hex(pair.encapsulationKey)).toBe(t.ek)
      const k = Result.getOrThrow(mlKemDecapsulate(pair.decapsulationKey, bytes(t.c, "c")))
      expect(hex(k)).toBe(t.K)
    })
  }

  for (const t of cases.filter((c) => c.result === "invalid")) {
    it(`${label(t)}: refused with a typed error, no throw`, () => {
      const seed = bytes(t.seed, "seed")
      const pair = mlKemKeyPairFromSeed(seed)
      if (seed.length !== MLKEM768_SEED_BYTES) {
        expect(Result.isFailure(pair) && pair.failure.reason).toBe("BadSeed")
        return
      }
      const k = mlKemDecapsulate(Result.getOrThrow(pair).decapsulationKey, bytes(t.c, "c"))
      expect(Result.isFailure(k) && k.failure.reason).toBe("BadCiphertext")
      expect(Result.isFailure(k) && k.failure).toBeInstanceOf(MlKemError)
    })
  }
})

describe("ML-KEM-768: Wycheproof mlkem_768_keygen_seed_test.json (seed → ek and expanded dk)", () => {
  for (const t of vectors.keyGeneration.tests) {
    it(label(t), () => {
      const pair = Result.getOrThrow(mlKemKeyPairFromSeed(bytes(t.seed, "seed")))
      expect(hex(pair.encapsulationKey)).toBe(t.ek)
      // OpenSSL exports PKCS#8 in the "both" form: SEQUENCE { seed OCTET STRING(64), expanded OCTET
      // STRING(2400) }, so the expanded dk is the last 2,400 bytes, after `04 82 09 60`.
      const der = pair.decapsulationKey.export({ format: "der", type: "pkcs8" })
      expect(der.subarray(der.length - 2404, der.length - 2400).toString("hex")).toBe("04820960")
      expect(der.subarray(der.length - 2400).toString("hex")).toBe(t.dk)
    })
  }
})

describe("ML-KEM-768: Wycheproof mlkem_768_encaps_test.json ModulusOverflow keys", () => {
  it("every encapsulation key with a coefficient ≥ q is refused as BadEncapsulationKey", () => {
    const keys = vectors.modulusOverflow.tests
    expect(keys.length).toBe(12)
    for (const t of keys) {
      const imported = importEncapsulationKey(bytes(t.ek, "ek"))
      expect(Result.isFailure(imported) && imported.failure.reason, label(t)).toBe("BadEncapsulationKey")
    }
  })
})

describe("ML-KEM-768 behaviour", () => {
  const pair = mlKemKeyPair(seededRandom("mlkem pair"))
  const peer = Result.getOrThrow(importEncapsulationKey(pair.encapsulationKey))

  it("encapsulation round-trips, and each encapsulation is fresh", () => {
    const one = mlKemEncapsulate(peer)
    const two = mlKemEncapsulate(peer)
    expect(one.ciphertext.length).toBe(MLKEM768_CIPHERTEXT_BYTES)
    expect(one.sharedSecret.length).toBe(MLKEM768_SHARED_SECRET_BYTES)
    expect(hex(Result.getOrThrow(mlKemDecapsulate(pair.decapsulationKey, one.ciphertext)))).toBe(
      hex(one.sharedSecret),
    )
    expect(hex(two.ciphertext)).not.toBe(hex(one.ciphertext))
    expect(hex(two.sharedSecret)).not.toBe(hex(one.sharedSecret))
  })

  it("a flipped ciphertext byte decapsulates to another secret (implicit rejection), never throws", () => {
    const { ciphertext, sharedSecret } = mlKemEncapsulate(peer)
    for (const offset of [0, 1, 500, 959, 960, MLKEM768_CIPHERTEXT_BYTES - 1]) {
      const tampered = Uint8Array.from(ciphertext)
      tampered[offset]! ^= 0x01
      const k = Result.getOrThrow(mlKemDecapsulate(pair.decapsulationKey, tampered))
      expect(k.length, `offset ${offset}`).toBe(32)
      expect(hex(k), `offset ${offset}`).not.toBe(hex(sharedSecret))
    }
  })

  it("the same seed gives the same key pair; another seed another one", () => {
    const seed = seededRandom("fixed seed")(64)
    const a = Result.getOrThrow(mlKemKeyPairFromSeed(seed))
    const b = Result.getOrThrow(mlKemKeyPairFromSeed(Uint8Array.from(seed)))
    expect(hex(a.encapsulationKey)).toBe(hex(b.encapsulationKey))
    expect(hex(a.encapsulationKey)).toBe(
      createPublicKey(b.decapsulationKey).export({ format: "raw-public" }).toString("hex"),
    )
    expect(hex(mlKemKeyPair(seededRandom("other seed")).encapsulationKey)).not.toBe(hex(a.encapsulationKey))
  })

  it("mlKemKeyPair wipes the seed it drew", () => {
    const drawn: Uint8Array[] = []
    const random = (n: number) => {
      const out = seededRandom("wipe")(n)
      drawn.push(out)
      return out
    }
    mlKemKeyPair(random)
    expect(drawn).toHaveLength(1)
    expect(drawn[0]!.every((byte) => byte === 0)).toBe(true)
  })

  it("malformed inputs are typed errors whose messages carry sizes, not bytes", () => {
    for (const length of [0, 32, 1183, 1185, 2400]) {
      const result = importEncapsulationKey(new Uint8Array(length).fill(7))
      expect(Result.isFailure(result) && result.failure.reason).toBe("BadEncapsulationKey")
    }
    for (const length of [0, 1087, 1089]) {
      const result = mlKemDecapsulate(pair.decapsulationKey, new Uint8Array(length))
      expect(Result.isFailure(result) && result.failure.message).toMatch(/malformed/)
    }
    const seed = mlKemKeyPairFromSeed(new Uint8Array(63))
    expect(Result.isFailure(seed) && seed.failure.message).toBe(
      "An ML-KEM-768 key generation seed must be 64 bytes. Got 63 bytes.",
    )
  })
})
