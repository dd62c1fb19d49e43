/**
 * Tests of ProtocolError (reason → wire error code, one-sentence messages) and of the error code
 * table of docs/protocol.md §10 (LOGIN_FAILED, the login codes v3 no longer sends).
 */
import { describe, expect, it } from "vitest"
import {
  ErrorCode,
  errorCodeInfo,
  isErrorCode,
  ProtocolError,
  type ProtocolErrorReason,
} from "../../src/protocol/index.ts"

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

describe("error codes", () => {
  it("LOGIN_FAILED is code 20, fatal, with one sentence that names no reason", () => {
    expect(ErrorCode.LoginFailed).toBe(20)
    const info = errorCodeInfo(20)
    expect(info).toEqual({
      name: "LoginFailed",
      fatal: true,
      sentence: "Login failed: this user name and key are not accepted by this server.",
    })
    expect(info.sentence).not.toMatch(/unknown|revoked|signature|registered/i)
  })

  it("keeps the v2 login codes 4, 5, 6 assigned (never reused) and 8 REVOKED for online users", () => {
    expect([ErrorCode.UnknownUser, ErrorCode.KeyMismatch, ErrorCode.BadSignature]).toEqual([4, 5, 6])
    for (const code of [4, 5, 6, 8]) expect(isErrorCode(code)).toBe(true)
    expect(isErrorCode(21)).toBe(false)
    expect(errorCodeInfo(ErrorCode.UnsupportedVersion).sentence).toContain("v3")
  })
})
