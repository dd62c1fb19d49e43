/**
 * Tests of ProtocolError: reason → wire error code, one-sentence messages.
 */
import { describe, expect, it } from "vitest"
import { ErrorCode, ProtocolError, type ProtocolErrorReason } from "../../src/protocol/index.ts"

const reasons: ReadonlyArray<ProtocolErrorReason> = [
  "FrameTooLarge",
  "EmptyFrame",
  "TruncatedStream",
  "UnknownFrameType",
  "UnexpectedFrameType",
  "BadMagic",
  "UnsupportedVersion",
  "LegacyClient",
  "BadLength",
  "UnknownOpcode",
  "OpcodeNotAllowed",
  "BadPayload",
  "BadName",
  "TrailingBytes",
  "EmptyRecord",
  "BadText",
]

describe("ProtocolError", () => {
  it("maps reasons to wire error codes", () => {
    const code = (reason: ProtocolErrorReason) => new ProtocolError({ reason, detail: "x" }).code
    expect(code("FrameTooLarge")).toBe(ErrorCode.FrameTooLarge)
    for (const reason of ["UnsupportedVersion", "LegacyClient", "BadMagic"] as const) {
      expect(code(reason)).toBe(ErrorCode.UnsupportedVersion)
    }
    const others = reasons.filter(
      (r) => !["FrameTooLarge", "UnsupportedVersion", "LegacyClient", "BadMagic"].includes(r),
    )
    for (const reason of others) expect(code(reason)).toBe(ErrorCode.Malformed)
  })

  it("gives one sentence per reason, with the detail, and a tag", () => {
    for (const reason of reasons) {
      const error = new ProtocolError({ reason, detail: "declared length 9" })
      expect(error._tag).toBe("ProtocolError")
      expect(error).toBeInstanceOf(Error)
      expect(error.message).toMatch(/^[A-Z][^.]*: declared length 9\.$/)
    }
  })
})
