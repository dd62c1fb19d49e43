/**
 * The hybrid half of the chat agreement (src/crypto/e2e.ts, docs/protocol.md §8.2): K mixes the
 * ML-KEM-768 secret and the X25519 secret (each alone gives other keys, checked with the real
 * functions), the derivation matches the spec computed with node:crypto's HKDF, bad ML-KEM input is
 * BadKemKey, and the X25519 secrets and chat secrets are wiped on every way out.
 */
import { createHmac, hkdfSync } from "node:crypto"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { ChatChannel } from "../../src/crypto/chat-channel.ts"
import {
  abandonChatAcceptance,
  abandonChatRequest,
  acceptChatRequest,
  type ChatRequest,
  chatTranscriptHash,
  completeChatAcceptance,
  deriveChatSecrets,
  type RequesterHello,
  startChatRequest,
} from "../../src/crypto/e2e.ts"
import { mlKemDecapsulate, mlKemKeyPair } from "../../src/crypto/mlkem.ts"
import { ed25519Sign, x25519, x25519KeyPair } from "../../src/crypto/primitives.ts"
import { seededRandom } from "../../testkit/random.ts"
import { type AcceptValues, agree, alice, bob, flip, isZero, outcome, party } from "./e2e-agreement.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const random = seededRandom("e2e-hybrid")

describe("K = HKDF-Extract(T, ss ‖ dh): both secrets are mixed in", () => {
  const [ss, dh, hash] = [random(32), random(32), random(32)]
  const outputs = (secrets: ReturnType<typeof deriveChatSecrets>) =>
    [secrets.rootKey, secrets.requesterConfirmation, secrets.accepterConfirmation].map(hex)

  it("matches the spec computed with node:crypto (ML-KEM secret first, then the X25519 secret)", () => {
    const ikm = Buffer.concat([ss, dh])
    const expand = (label: string) => Buffer.from(hkdfSync("sha256", ikm, hash, label, 32))
    const confirm = (label: string) => createHmac("sha256", expand(label)).update(hash).digest("hex")
    expect(outputs(deriveChatSecrets(ss, dh, hash))).toEqual([
      expand("onechat v3 e2e root").toString("hex"),
      confirm("onechat v3 e2e a confirm"),
      confirm("onechat v3 e2e b confirm"),
    ])
    expect(outputs(deriveChatSecrets(dh, ss, hash))).not.toEqual(outputs(deriveChatSecrets(ss, dh, hash)))
  })

  it("every output changes when ss, dh or T changes by one bit", () => {
    const base = outputs(deriveChatSecrets(ss, dh, hash))
    for (const changed of [
      deriveChatSecrets(flip(ss), dh, hash),
      deriveChatSecrets(ss, flip(dh, -1), hash),
      deriveChatSecrets(ss, dh, flip(hash, 9)),
    ]) {
      for (const [i, value] of outputs(changed).entries()) expect(value).not.toBe(base[i])
    }
  })

  it("the real agreement's root key is rebuilt from ss and dh together, and from neither alone", () => {
    let secret = new Uint8Array(0)
    const keep = (request: ChatRequest) => {
      secret = Uint8Array.from(request.ephemeral.secretKey)
      return request
    }
    const { request, acceptance, requester } = Result.getOrThrow(agree({ requesterHolds: keep }))
    const realDh = x25519(secret, acceptance.ephemeralKey)!
    const realSs = Result.getOrThrow(mlKemDecapsulate(request.kem.decapsulationKey, acceptance.kemCiphertext))
    const rootOf = (kem: Uint8Array, dhValue: Uint8Array) =>
      hex(deriveChatSecrets(kem, dhValue, requester.transcriptHash).rootKey)
    expect(rootOf(realSs, realDh)).toBe(hex(requester.rootKey))
    // Someone who broke X25519 knows dh but not ss; someone who broke ML-KEM knows ss but not dh.
    expect(rootOf(new Uint8Array(32), realDh)).not.toBe(hex(requester.rootKey))
    expect(rootOf(realSs, new Uint8Array(32))).not.toBe(hex(requester.rootKey))
  })

  it("a requester holding another ML-KEM decapsulation key (same public key sent) fails confirmation", () => {
    const other = mlKemKeyPair(seededRandom("other-kem"))
    const swapKem = (request: ChatRequest): ChatRequest => ({
      ...request,
      kem: { encapsulationKey: request.kem.encapsulationKey, decapsulationKey: other.decapsulationKey },
    })
    expect(outcome(agree({ requesterHolds: swapKem }))).toBe("complete: BadConfirmation")
  })

  it("a requester holding another X25519 secret (same public key sent) fails confirmation", () => {
    const other = x25519KeyPair(seededRandom("other-x25519"))
    const swapX25519 = (request: ChatRequest): ChatRequest => ({
      ...request,
      ephemeral: { publicKey: request.ephemeral.publicKey, secretKey: other.secretKey },
    })
    expect(outcome(agree({ requesterHolds: swapX25519 }))).toBe("complete: BadConfirmation")
  })
})

describe("bad ML-KEM input is BadKemKey", () => {
  const withKemKey = (kemKey: Uint8Array) => agree({ rtt: (hello) => ({ ...hello, kemKey }) })

  it("a kemKey of the wrong length is refused by the accepter", () => {
    const kemKey = startChatRequest(seededRandom("lengths")).kem.encapsulationKey
    for (const wrong of [kemKey.subarray(0, 1_183), new Uint8Array([...kemKey, 0]), new Uint8Array(0)]) {
      expect(outcome(withKemKey(wrong)), `${wrong.length} bytes`).toBe("accept: BadKemKey")
    }
  })

  it("a kemKey whose first coefficient is not reduced mod q (4095 ≥ 3329) fails the modulus check", () => {
    const kemKey = Uint8Array.from(startChatRequest(seededRandom("modulus")).kem.encapsulationKey)
    kemKey[0] = 0xff
    kemKey[1]! |= 0x0f
    expect(outcome(withKemKey(kemKey))).toBe("accept: BadKemKey")
  })

  /** A certified accepter that signs what it sends (so only the value checks can refuse it). */
  const signedBadAccept = (alter: (accept: AcceptValues) => AcceptValues) => {
    let hello: RequesterHello | undefined
    return agree({
      rtt: (sent) => {
        hello = sent
        return sent
      },
      accept: (sent) => {
        const altered = alter(sent)
        const hash = chatTranscriptHash(party(alice), party(bob), hello!, altered)
        const signed = Buffer.concat([Buffer.from("onechat v3 e2e accept"), Uint8Array.of(0), hash])
        return { ...altered, signature: ed25519Sign(bob.key.secretKey.expose(), signed) }
      },
    })
  }

  it("a validly signed ACCEPT with a short kemCiphertext is BadKemKey; one with a low-order EB is LowOrderKey", () => {
    expect(outcome(signedBadAccept((a) => a))).toBe("ok") // the re-signing itself is sound
    const short = signedBadAccept((a) => ({ ...a, kemCiphertext: a.kemCiphertext.subarray(0, 1_087) }))
    expect(outcome(short)).toBe("complete: BadKemKey")
    const lowOrder = signedBadAccept((a) => ({ ...a, ephemeralKey: new Uint8Array(32) }))
    expect(outcome(lowOrder)).toBe("complete: LowOrderKey")
  })
})

describe("wiping", () => {
  it("abandoning a request zeroes its X25519 secret", () => {
    const request = startChatRequest(seededRandom("abandon"))
    expect(isZero(request.ephemeral.secretKey)).toBe(false)
    abandonChatRequest(request)
    expect(isZero(request.ephemeral.secretKey)).toBe(true)
  })

  it("completing a request zeroes its X25519 secret, whether it succeeds or is refused", () => {
    let held: ChatRequest | undefined
    const hold = (request: ChatRequest) => {
      held = request
      return request
    }
    Result.getOrThrow(agree({ requesterHolds: hold }))
    expect(isZero(held!.ephemeral.secretKey)).toBe(true)
    expect(
      outcome(agree({ requesterHolds: hold, accept: (a) => ({ ...a, signature: flip(a.signature) }) })),
    ).toBe("complete: BadSignature")
    expect(isZero(held!.ephemeral.secretKey)).toBe(true)
    expect(
      outcome(agree({ requesterHolds: hold, accept: (a) => ({ ...a, confirmation: flip(a.confirmation) }) })),
    ).toBe("complete: BadConfirmation")
    expect(isZero(held!.ephemeral.secretKey)).toBe(true)
  })

  it("an abandoned or refused acceptance zeroes its root key and its X25519 secret", () => {
    const start = (seed: string) => {
      const request = startChatRequest(seededRandom(seed))
      const acceptance = acceptChatRequest({
        random: seededRandom(`${seed}/b`),
        me: bob,
        requester: party(alice),
        requesterHello: {
          nonce: request.nonce,
          ephemeralKey: request.ephemeral.publicKey,
          kemKey: request.kem.encapsulationKey,
        },
      })
      return Result.getOrThrow(acceptance).pending
    }
    const abandoned = start("abandoned")
    abandonChatAcceptance(abandoned)
    const refused = start("refused")
    const forged = { signature: new Uint8Array(64), confirmation: new Uint8Array(32) }
    expect(Result.isFailure(completeChatAcceptance(refused, forged))).toBe(true)
    for (const pending of [abandoned, refused]) {
      expect(isZero(pending.secrets.rootKey)).toBe(true)
      expect(isZero(pending.ratchetKey.secretKey)).toBe(true)
    }
  })

  it("opening the chat consumes the agreed keys: root keys and the accepter's ratchet secret are zeroed", () => {
    const { requester, accepter } = Result.getOrThrow(agree())
    ChatChannel.open(requester, random)
    ChatChannel.open(accepter, random)
    expect(isZero(requester.rootKey)).toBe(true)
    expect(isZero(accepter.rootKey)).toBe(true)
    expect(isZero(accepter.ownRatchetKey!.secretKey)).toBe(true)
  })
})
