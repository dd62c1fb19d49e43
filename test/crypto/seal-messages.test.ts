/**
 * sealMessages: a batch of queued messages encoded straight into as few records as fit, sealed
 * in place, in one buffer (docs/protocol.md §5.3). Checked by opening the records with the peer's
 * channel: order, boundaries, the plaintext maximum, and the same bytes as sealing one by one.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { expandDirectionKeys } from "../../src/crypto/key-schedule.ts"
import { makeRecordChannel, type RecordChannel, sealMessages } from "../../src/crypto/record.ts"
import {
  type ClientMessage,
  decodeClientMessages,
  encodeClientMessage,
  encodedClientMessageLength,
  FrameDecoder,
  MAX_RECORD_PLAINTEXT,
  writeClientMessage,
} from "../../src/protocol/index.ts"
import { seededRandom } from "../../testkit/random.ts"

const pair = (): { client: RecordChannel; server: RecordChannel } => {
  const secret = seededRandom("seal-messages")(32)
  const c2s = () => expandDirectionKeys(secret, "c key", "c iv")
  const s2c = () => expandDirectionKeys(secret, "s key", "s iv")
  return {
    client: makeRecordChannel("client", c2s(), s2c()),
    server: makeRecordChannel("server", c2s(), s2c()),
  }
}

/** A MESSAGE of `size` encoded bytes (3-byte header included). */
const message = (size: number): ClientMessage => ({
  type: "Message",
  envelope: new Uint8Array(size - 3).fill(size & 0xff),
})

const seal = (channel: RecordChannel, messages: ReadonlyArray<ClientMessage>) =>
  Result.getOrThrow(
    sealMessages(channel.sealer, messages.map(encodedClientMessageLength), (target, offset, i) =>
      writeClientMessage(target, offset, messages[i]!),
    ),
  )

/** The records in `bytes`, opened by `server`: each record's plaintext. */
const open = (server: RecordChannel, bytes: Uint8Array): Uint8Array[] =>
  Result.getOrThrow(new FrameDecoder().push(bytes)).map((body) => Result.getOrThrow(server.opener.open(body)))

describe("sealMessages", () => {
  it("packs in order into as few records as fit, the largest exactly at the maximum", () => {
    const max = MAX_RECORD_PLAINTEXT
    const messages = [message(100), message(max), message(100), message(max - 100), message(100)]
    const { client, server } = pair()
    const plaintexts = open(server, seal(client, messages))
    expect(plaintexts.map((p) => p.length)).toEqual([100, max, max, 100])
    const decoded = plaintexts.flatMap((p) => Result.getOrThrow(decodeClientMessages(p)))
    expect(decoded).toEqual(messages)
  })

  it("gives the same bytes as encoding, concatenating and sealing record by record", () => {
    const messages: ClientMessage[] = [
      { type: "List" },
      message(100),
      { type: "Ping", value: 7n },
      message(91),
    ]
    const batched = seal(pair().client, messages)
    const reference = pair().client.sealer.seal(Buffer.concat(messages.map(encodeClientMessage)))
    expect(Buffer.from(batched).equals(Buffer.from(Result.getOrThrow(reference)))).toBe(true)
  })

  it("returns nothing for nothing and throws on a message over the maximum", () => {
    const { client } = pair()
    expect(Result.getOrThrow(sealMessages(client.sealer, [], () => 0)).length).toBe(0)
    expect(() => sealMessages(client.sealer, [MAX_RECORD_PLAINTEXT + 1], () => 0)).toThrow(RangeError)
    expect(client.sealer.counter).toBe(0n)
  })

  it("fails with the sealer's error (closed channel) instead of returning bytes", () => {
    const { client } = pair()
    client.sealer.close()
    const sealed = sealMessages(client.sealer, [3], (target, offset) =>
      writeClientMessage(target, offset, { type: "List" }),
    )
    expect(Result.isFailure(sealed) && sealed.failure.reason).toBe("Closed")
  })
})
