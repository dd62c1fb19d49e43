/**
 * Tests of ChatChannel (src/crypto/chat-channel.ts): either side first, padded envelope sizes, text
 * limits, the authenticated goodbye and its counts, refusals after bye and after close, tampering
 * with the channel still usable, and content the peer authenticated but malformed. docs/protocol.md
 * §8.3–§8.5.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { ChatChannel, type ChatError, ContentType } from "../../src/crypto/chat-channel.ts"
import type { ChatKeys } from "../../src/crypto/e2e.ts"
import { pad } from "../../src/crypto/padding.ts"
import { x25519KeyPair } from "../../src/crypto/primitives.ts"
import { initRatchetRequester, ratchetEncrypt } from "../../src/crypto/ratchet.ts"
import { seededRandom } from "../../testkit/random.ts"

const keysFor = (seed: string) => {
  const random = seededRandom(seed)
  const rootKey = random(32)
  const transcriptHash = random(32)
  const ratchetKey = x25519KeyPair(random)
  const requester: ChatKeys = {
    role: "requester",
    rootKey: Uint8Array.from(rootKey),
    transcriptHash,
    peerRatchetKey: Uint8Array.from(ratchetKey.publicKey),
  }
  const accepter: ChatKeys = {
    role: "accepter",
    rootKey: Uint8Array.from(rootKey),
    transcriptHash,
    ownRatchetKey: { publicKey: ratchetKey.publicKey, secretKey: Uint8Array.from(ratchetKey.secretKey) },
  }
  return { requester, accepter, rootKey, transcriptHash, ratchetKey }
}

const pair = (seed = "chat") => {
  const keys = keysFor(seed)
  return {
    ...keys,
    a: ChatChannel.open(keys.requester, seededRandom(`${seed}/a`)),
    b: ChatChannel.open(keys.accepter, seededRandom(`${seed}/b`)),
  }
}

const seal = (chat: ChatChannel, text: string): Uint8Array => Result.getOrThrow(chat.seal(text))
const read = (chat: ChatChannel, envelope: Uint8Array) => Result.getOrThrow(chat.open(envelope))
const reason = (result: Result.Result<unknown, { reason: string }>): string =>
  Result.isFailure(result) ? result.failure.reason : "ok"

describe("ChatChannel", () => {
  it("carries text either way, whoever speaks first, in padded envelopes", () => {
    const { a, b } = pair()
    const first = seal(b, "hello from the accepter")
    expect(first.length).toBe(40 + 32 + 16)
    expect(read(a, first)).toEqual({ kind: "text", text: "hello from the accepter" })
    for (const text of ["é ☃ 𝄞", "x".repeat(126), "y".repeat(32_768)]) {
      const envelope = seal(a, text)
      expect([88, 40 + 128 + 16, 40 + 32_770 + 16]).toContain(envelope.length)
      expect(read(b, envelope)).toEqual({ kind: "text", text })
    }
    expect([a.sent, a.received, b.sent, b.received]).toEqual([3, 1, 1, 3])
  })

  it("consumes the agreement's secrets", () => {
    const { requester, accepter } = pair()
    expect(requester.rootKey.every((x) => x === 0)).toBe(true)
    expect(accepter.rootKey.every((x) => x === 0)).toBe(true)
    expect(accepter.ownRatchetKey!.secretKey.every((x) => x === 0)).toBe(true)
  })

  it("refuses empty and over-long text", () => {
    const { a } = pair()
    expect(() => a.seal("")).toThrow(RangeError)
    expect(() => a.seal("z".repeat(32_769))).toThrow(RangeError)
    expect(() => a.seal("é".repeat(16_385))).toThrow(RangeError)
  })

  it("ends with a goodbye that counts the texts, and tells a loss from a complete chat", () => {
    const { a, b } = pair("bye")
    const texts = [seal(a, "one"), seal(a, "two"), seal(a, "three")]
    read(b, texts[0]!)
    read(b, texts[2]!)
    const bye = Result.getOrThrow(a.sealBye())
    expect(bye.length).toBe(88)
    expect(read(b, bye)).toEqual({ kind: "bye", sent: 3, received: 2, complete: false })
    expect(reason(a.seal("more"))).toBe("Ended")
    expect(reason(a.sealBye())).toBe("Ended")
    expect(reason(b.seal("after their bye"))).toBe("Ended")
    expect(reason(b.open(bye))).toBe("Ended")
    expect(read(a, Result.getOrThrow(b.sealBye()))).toEqual({
      kind: "bye",
      sent: 0,
      received: 0,
      complete: true,
    })
  })

  it("reports a complete chat when every text arrived", () => {
    const { a, b } = pair("complete")
    read(a, seal(b, "hi"))
    read(b, seal(a, "hello"))
    read(a, seal(b, "bye now"))
    expect(read(a, Result.getOrThrow(b.sealBye()))).toEqual({
      kind: "bye",
      sent: 2,
      received: 2,
      complete: true,
    })
  })

  it("refuses tampering and foreign associated data, and keeps working", () => {
    const { a, b } = pair("tamper")
    const envelope = seal(a, "intact")
    for (const at of [0, 35, 39, 40, 70, envelope.length - 1]) {
      const altered = Uint8Array.from(envelope)
      altered[at]! ^= 0x20
      expect(reason(b.open(altered))).not.toBe("ok")
    }
    expect(reason(b.open(envelope.subarray(0, 87)))).toBe("Malformed")
    expect(reason(b.open(new Uint8Array(100)))).toBe("Malformed")
    const other = keysFor("tamper")
    const stranger = ChatChannel.open(
      { ...other.accepter, transcriptHash: new Uint8Array(32) },
      seededRandom("s"),
    )
    expect(reason(stranger.open(envelope))).toBe("Tampered")
    expect(read(b, envelope)).toEqual({ kind: "text", text: "intact" })
    expect(reason(b.open(envelope))).toBe("Replayed")
  })

  it("refuses authentic but malformed content: unknown type, bad bye body, invalid UTF-8", () => {
    const keys = keysFor("content")
    const sender = Result.getOrThrow(
      initRatchetRequester(keys.rootKey, keys.ratchetKey.publicKey, seededRandom("content/a")),
    )
    const b = ChatChannel.open(keys.accepter, seededRandom("content/b"))
    const from = (type: number, body: Uint8Array) =>
      b.open(Result.getOrThrow(ratchetEncrypt(sender, pad(type, body), keys.transcriptHash)))
    expect(reason(from(9, Uint8Array.of(1)))).toBe("Malformed")
    expect(reason(from(ContentType.Bye, Uint8Array.of(0, 0, 0, 1)))).toBe("Malformed")
    expect(reason(from(ContentType.Text, Uint8Array.of(0xff, 0xfe)))).toBe("Malformed")
    expect(reason(from(ContentType.Text, new Uint8Array(0)))).toBe("Malformed")
    expect(Result.getOrThrow(from(ContentType.Text, new Uint8Array(Buffer.from("ok"))))).toEqual({
      kind: "text",
      text: "ok",
    })
    expect(b.received).toBe(1)
  })

  it("refuses every call after close (idempotent), with a sentence only", () => {
    const { a, b } = pair("close")
    const envelope = seal(a, "late")
    a.close()
    b.close()
    a.close()
    const results: Array<Result.Result<unknown, ChatError>> = [a.seal("x"), a.sealBye(), b.open(envelope)]
    for (const result of results) {
      expect(reason(result)).toBe("Closed")
      expect(Result.isFailure(result) && result.failure.message).toBe("This chat is closed.")
    }
  })
})
