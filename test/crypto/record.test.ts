import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { expandDirectionKeys } from "../../src/crypto/key-schedule.ts"
import {
  makeRecordChannel,
  RECORD_PLAINTEXT_OFFSET,
  type RecordChannel,
  RecordOpener,
  RecordSealer,
  recordFrameLength,
} from "../../src/crypto/record.ts"
import { Direction, PROTOCOL_VERSION } from "../../src/protocol/constants.ts"
import { FrameDecoder } from "../../src/protocol/frame.ts"
import { seededRandom } from "../../testkit/random.ts"

const pair = (limit?: bigint): { client: RecordChannel; server: RecordChannel } => {
  const secret = seededRandom("record")(32)
  const c2s = () => expandDirectionKeys(secret, "c key", "c iv")
  const s2c = () => expandDirectionKeys(secret, "s key", "s iv")
  return {
    client: makeRecordChannel("client", c2s(), s2c(), limit),
    server: makeRecordChannel("server", c2s(), s2c(), limit),
  }
}

/** The frame body (what the decoder hands the opener) of a sealed frame. */
const body = (frame: Uint8Array): Uint8Array => frame.subarray(4)
const seal = (channel: RecordChannel, text: string): Uint8Array =>
  Result.getOrThrow(channel.sealer.seal(Buffer.from(text)))
const reason = (result: Result.Result<unknown, { reason: string }>): string =>
  Result.isFailure(result) ? result.failure.reason : "ok"

describe("record channel", () => {
  it("seals a frame the peer opens, with the documented header", () => {
    const { client, server } = pair()
    const frame = seal(client, "hello")
    const view = Buffer.from(frame)
    expect(view.readUInt32BE(0)).toBe(frame.length - 4)
    expect([...view.subarray(4, 7)]).toEqual([0x17, PROTOCOL_VERSION, Direction.ClientToServer])
    expect(view.readBigUInt64BE(7)).toBe(0n)
    expect(frame.length).toBe(4 + 11 + 5 + 16)
    const opened = server.opener.open(body(frame))
    expect(Buffer.from(Result.getOrThrow(opened)).toString()).toBe("hello")
  })

  it("frames decode with the frame decoder across any split", () => {
    const { client, server } = pair()
    const stream = Buffer.concat([seal(client, "one"), seal(client, "two"), seal(client, "three")])
    const decoder = new FrameDecoder()
    const texts: string[] = []
    for (const byte of stream) {
      for (const frame of Result.getOrThrow(decoder.push(Uint8Array.of(byte)))) {
        texts.push(Buffer.from(Result.getOrThrow(server.opener.open(frame))).toString())
      }
    }
    expect(texts).toEqual(["one", "two", "three"])
  })

  it("never encrypts two records under one nonce: counters advance", () => {
    const { client } = pair()
    const a = Buffer.from(seal(client, "same"))
    const b = Buffer.from(seal(client, "same"))
    expect(a.readBigUInt64BE(7)).toBe(0n)
    expect(b.readBigUInt64BE(7)).toBe(1n)
    expect(a.subarray(15).equals(b.subarray(15))).toBe(false)
  })

  it("rejects a replayed record", () => {
    const { client, server } = pair()
    const first = seal(client, "a")
    expect(reason(server.opener.open(body(first)))).toBe("ok")
    expect(reason(server.opener.open(body(first)))).toBe("Replayed")
  })

  it("rejects a dropped (gap) and a reordered record", () => {
    const { client, server } = pair()
    const first = seal(client, "a")
    const second = seal(client, "b")
    expect(reason(server.opener.open(body(second)))).toBe("Gap")
    const other = pair()
    const x = seal(other.client, "x")
    const y = seal(other.client, "y")
    expect(reason(other.server.opener.open(body(x)))).toBe("ok")
    expect(reason(other.server.opener.open(body(y)))).toBe("ok")
    expect(reason(other.server.opener.open(body(x)))).toBe("Replayed")
    expect(first.length).toBeGreaterThan(0)
  })

  it("rejects a reflected record (the receiver's own frame sent back)", () => {
    const { client } = pair()
    const own = seal(client, "mine")
    expect(reason(client.opener.open(body(own)))).toBe("Reflected")
  })

  it("rejects a record whose direction byte was rewritten (wrong direction key)", () => {
    const { server } = pair()
    const fromServer = Buffer.from(seal(server, "to client"))
    fromServer[6] = Direction.ClientToServer
    expect(reason(server.opener.open(body(fromServer)))).toBe("Tampered")
  })

  it("rejects tampering at every byte of header, ciphertext and tag", () => {
    const frame = Buffer.from(seal(pair().client, "tamper me"))
    for (let offset = 4; offset < frame.length; offset++) {
      const { server } = pair()
      const copy = Buffer.from(frame)
      copy[offset]! ^= 0x01
      const result = server.opener.open(body(copy))
      expect(Result.isFailure(result), `byte ${offset}`).toBe(true)
    }
  })

  it("binds the frame length: a record with appended bytes fails", () => {
    const { client, server } = pair()
    const frame = seal(client, "len")
    const longer = Buffer.concat([body(frame), Uint8Array.of(0)])
    expect(reason(server.opener.open(longer))).toBe("Tampered")
  })

  it("enforces the record limit on both sides", () => {
    const { client, server } = pair(2n)
    const a = seal(client, "1")
    const b = seal(client, "2")
    expect(reason(client.sealer.seal(Buffer.from("3")))).toBe("LimitReached")
    expect(reason(server.opener.open(body(a)))).toBe("ok")
    expect(reason(server.opener.open(body(b)))).toBe("ok")
    const forged = Buffer.from(b)
    forged.writeBigUInt64BE(2n, 7)
    expect(reason(server.opener.open(body(forged)))).toBe("LimitReached")
  })

  it("refuses empty and oversized plaintexts", () => {
    const { client } = pair()
    expect(reason(client.sealer.seal(new Uint8Array(0)))).toBe("TooLarge")
    expect(reason(client.sealer.seal(new Uint8Array(65_537)))).toBe("TooLarge")
    expect(reason(client.sealer.seal(new Uint8Array(65_536)))).toBe("ok")
  })

  it("wipes keys on close and refuses to work afterwards", () => {
    const secret = seededRandom("wipe")(32)
    const keys = expandDirectionKeys(secret, "k", "i")
    const sealer = new RecordSealer(keys, Direction.ClientToServer)
    const opener = new RecordOpener(expandDirectionKeys(secret, "k", "i"), Direction.ClientToServer)
    sealer.close()
    expect([...keys.key.expose()].every((byte) => byte === 0)).toBe(true)
    expect([...keys.iv.expose()].every((byte) => byte === 0)).toBe(true)
    expect(reason(sealer.seal(Buffer.from("x")))).toBe("Closed")
    opener.close()
    expect(reason(opener.open(new Uint8Array(40)))).toBe("Closed")
  })

  it("errors say what happened without key material", () => {
    const { client, server } = pair()
    const first = seal(client, "a")
    server.opener.open(body(first))
    const replay = server.opener.open(body(first))
    expect(Result.isFailure(replay) && replay.failure.message).toMatch(/replay/)
    expect(Result.isFailure(replay) && replay.failure.message).toMatch(/expected counter 1, got 0/)
  })

  it("seals in place the same bytes as seal, several records side by side in one buffer", () => {
    const a = pair()
    const b = pair()
    const texts = ["first", "x".repeat(1000), "third"]
    const expected = Buffer.concat(texts.map((text) => seal(a.client, text)))
    const out = Buffer.alloc(texts.reduce((n, text) => n + recordFrameLength(text.length), 0))
    let offset = 0
    for (const text of texts) {
      out.write(text, offset + RECORD_PLAINTEXT_OFFSET)
      expect(Result.isSuccess(b.client.sealer.sealInPlace(out, offset, text.length))).toBe(true)
      offset += recordFrameLength(text.length)
    }
    expect(out.equals(expected)).toBe(true)
    expect(() => b.client.sealer.sealInPlace(out, 0, out.length)).toThrow(RangeError)
  })

  it("opens in place: the plaintext is a view of the body; tampering and replay still fail", () => {
    const { client, server } = pair()
    const frame = Buffer.from(seal(client, "in place"))
    const opened = Result.getOrThrow(server.opener.openInPlace(body(frame)))
    expect(Buffer.from(opened).toString()).toBe("in place")
    expect(opened.buffer).toBe(frame.buffer)
    const replayed = Buffer.from(seal(pair().client, "in place"))
    expect(reason(server.opener.openInPlace(body(replayed)))).toBe("Replayed")
    const second = Buffer.from(seal(client, "second"))
    second[second.length - 1]! ^= 1
    expect(reason(server.opener.openInPlace(body(second)))).toBe("Tampered")
  })
})
