/**
 * Tests of the RECORD header and its additional data (docs/protocol.md §5.1).
 */
import { describe, expect, it } from "vitest"
import {
  Direction,
  ErrorCode,
  MAX_FRAME_BODY,
  parseRecordHeader,
  RECORD_HEADER_BYTES,
  recordAdditionalData,
  recordBodyLength,
  writeRecordHeader,
} from "../../src/protocol/index.ts"
import { failure, fill, fromHex, hex, ok, reasonOf } from "./helpers.ts"

const counter = 0x0102_0304_0506_0708n

const recordBody = (direction: number, value: bigint, ciphertextLength: number): Uint8Array => {
  const body = new Uint8Array(RECORD_HEADER_BYTES + ciphertextLength).fill(0xcc)
  writeRecordHeader(body, 0, direction as Direction, value)
  return body
}

describe("writeRecordHeader", () => {
  it("writes 17 03 direction u64 counter at the offset and returns the end", () => {
    const target = new Uint8Array(13)
    expect(writeRecordHeader(target, 1, Direction.ServerToClient, counter)).toBe(12)
    expect(hex(target)).toBe("00170302010203040506070800")
  })

  it("refuses bad directions, counters outside u64 and short targets", () => {
    const target = new Uint8Array(11)
    expect(() => writeRecordHeader(target, 0, 3 as Direction, 0n)).toThrow(RangeError)
    expect(() => writeRecordHeader(target, 0, Direction.ClientToServer, -1n)).toThrow(RangeError)
    expect(() => writeRecordHeader(target, 0, Direction.ClientToServer, 2n ** 64n)).toThrow(RangeError)
    expect(() => writeRecordHeader(target, 1, Direction.ClientToServer, 0n)).toThrow(RangeError)
    writeRecordHeader(target, 0, Direction.ClientToServer, 2n ** 64n - 1n)
    expect(hex(target)).toBe(`170301${"ff".repeat(8)}`)
  })
})

describe("parseRecordHeader", () => {
  it("parses a built header with zero-copy views", () => {
    const body = recordBody(Direction.ClientToServer, counter, 20)
    const parsed = ok(parseRecordHeader(body))
    expect(parsed.version).toBe(3)
    expect(parsed.direction).toBe(Direction.ClientToServer)
    expect(parsed.counter).toBe(counter)
    expect(hex(parsed.header)).toBe(hex(body.subarray(0, 11)))
    expect(parsed.ciphertext.length).toBe(20)
    expect(parsed.ciphertext.buffer).toBe(body.buffer)
    expect(parsed.ciphertext.byteOffset).toBe(body.byteOffset + 11)
  })

  it("parses the largest counter and the smallest record (tag only)", () => {
    const parsed = ok(parseRecordHeader(recordBody(Direction.ServerToClient, 2n ** 64n - 1n, 16)))
    expect(parsed.counter).toBe(2n ** 64n - 1n)
    expect(parsed.ciphertext.length).toBe(16)
  })

  it("rejects other frame types", () => {
    expect(reasonOf(parseRecordHeader(new Uint8Array(0)))).toBe("EmptyFrame")
    expect(reasonOf(parseRecordHeader(fromHex("01")))).toBe("UnexpectedFrameType")
    expect(reasonOf(parseRecordHeader(fromHex("99")))).toBe("UnknownFrameType")
  })

  it("rejects bodies shorter than header + tag as BadLength", () => {
    const body = recordBody(Direction.ClientToServer, 0n, 16)
    for (let length = 1; length < body.length; length++) {
      expect(reasonOf(parseRecordHeader(body.subarray(0, length)))).toBe("BadLength")
    }
  })

  it("rejects a body over MAX_FRAME_BODY", () => {
    const body = recordBody(Direction.ClientToServer, 0n, MAX_FRAME_BODY - RECORD_HEADER_BYTES + 1)
    expect(reasonOf(parseRecordHeader(body))).toBe("FrameTooLarge")
  })

  it("rejects another version (v2's records included) as UnsupportedVersion", () => {
    for (const version of [1, 2, 4]) {
      const body = recordBody(Direction.ClientToServer, 0n, 16)
      body[1] = version
      const error = failure(parseRecordHeader(body))
      expect(error.reason).toBe("UnsupportedVersion")
      expect(error.code).toBe(ErrorCode.UnsupportedVersion)
    }
  })

  it("rejects a direction other than 1 or 2 as BadPayload", () => {
    for (const direction of [0, 3, 0x17, 0xff]) {
      const body = recordBody(Direction.ClientToServer, 0n, 16)
      body[2] = direction
      expect(reasonOf(parseRecordHeader(body))).toBe("BadPayload")
    }
  })
})

describe("recordAdditionalData", () => {
  it("is u32 frame length ‖ 11 header bytes", () => {
    const body = recordBody(Direction.ClientToServer, 5n, 40)
    const ad = recordAdditionalData(body.length, body.subarray(0, 11))
    expect(hex(ad)).toBe(`00000033 170301 0000000000000005`.replace(/ /g, ""))
    expect(recordBodyLength(40 - 16)).toBe(body.length)
  })

  it("refuses a header that is not 11 bytes", () => {
    expect(() => recordAdditionalData(30, fill(10, 0))).toThrow(RangeError)
  })
})
