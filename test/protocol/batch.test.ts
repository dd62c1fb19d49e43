/**
 * Tests of batchMessages: packing encoded messages into record plaintexts (docs/protocol.md §5.3).
 */
import { describe, expect, it } from "vitest"
import {
  batchMessages,
  decodeClientMessages,
  encodeClientMessage,
  MAX_RECORD_PLAINTEXT,
} from "../../src/protocol/index.ts"
import { fill, hex, ok } from "./helpers.ts"

describe("batchMessages", () => {
  const message = (size: number): Uint8Array =>
    encodeClientMessage({ type: "Message", envelope: fill(size - 3, size & 0xff) })

  it("packs in order into as few plaintexts as fit", () => {
    const messages = [30, 40, 50, 27, 100, 30].map(message)
    const batches = batchMessages(messages, 100)
    expect(batches.map((b) => b.length)).toEqual([70, 77, 100, 30])
    expect(hex(Buffer.concat(batches))).toBe(hex(Buffer.concat(messages)))
    for (const batch of batches) expect(ok(decodeClientMessages(batch)).length).toBeGreaterThan(0)
  })

  it("never exceeds the maximum and keeps a message of exactly the maximum alone", () => {
    const max = MAX_RECORD_PLAINTEXT
    const messages = [message(30), message(max), message(30), message(max - 30), message(30)]
    const batches = batchMessages(messages)
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(max)
    expect(batches.map((b) => b.length)).toEqual([30, max, max, 30])
    expect(batches[1]).toBe(messages[1])
  })

  it("returns nothing for nothing and throws on a message over the maximum", () => {
    expect(batchMessages([])).toEqual([])
    expect(() => batchMessages([message(50)], 49)).toThrow(RangeError)
    expect(() => batchMessages([new Uint8Array(2)])).toThrow(RangeError)
    expect(() => batchMessages([message(50)], MAX_RECORD_PLAINTEXT + 1)).toThrow(RangeError)
  })
})
