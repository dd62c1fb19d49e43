/**
 * ProtocolError: the one error type of every decoder in src/protocol, with a `reason` union
 * mapped to a wire error code. Pure data: details carry sizes and opcodes, never payload bytes.
 * docs/protocol.md §2 (framing), §3 (hellos), §5.1 (record header), §6 (messages), §10 (codes).
 */
import { Data, Result } from "effect"
import { ErrorCode } from "./error-codes.ts"

/** Why bytes from a peer could not be decoded. */
export type ProtocolErrorReason =
  | "FrameTooLarge"
  | "EmptyFrame"
  | "TruncatedStream"
  | "UnknownFrameType"
  | "UnexpectedFrameType"
  | "BadMagic"
  | "UnsupportedVersion"
  | "LegacyClient"
  | "BadLength"
  | "UnknownOpcode"
  | "OpcodeNotAllowed"
  | "BadPayload"
  | "BadName"
  | "TrailingBytes"
  | "EmptyRecord"
  | "BadText"

const sentences: Record<ProtocolErrorReason, string> = {
  FrameTooLarge: "A frame declared a length above the maximum",
  EmptyFrame: "A frame declared a length of zero",
  TruncatedStream: "The connection ended in the middle of a frame",
  UnknownFrameType: "A frame has an unknown type byte",
  UnexpectedFrameType: "A frame has a type that is not allowed here",
  BadMagic: "The first frame is not an onechat CLIENT_HELLO",
  UnsupportedVersion: "The peer speaks an unsupported protocol version",
  LegacyClient: "The client speaks the original v1 protocol, which this server no longer accepts",
  BadLength: "A length field does not match the bytes available",
  UnknownOpcode: "A message has an unassigned opcode",
  OpcodeNotAllowed: "A message opcode is not allowed in this kind of record or direction",
  BadPayload: "A message payload does not match its layout",
  BadName: "A user name breaks the naming rule",
  TrailingBytes: "A message payload has bytes left over after its last field",
  EmptyRecord: "A record carries no messages",
  BadText: "A reason text is too long or not printable ASCII",
}

/** Bytes from a peer that break the protocol. Fatal for the connection that sent them. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: ProtocolErrorReason
  readonly detail: string
}> {
  /** One human sentence: what broke, then the sizes or opcodes involved. */
  override get message(): string {
    return `${sentences[this.reason]}: ${this.detail}.`
  }

  /** The error code to send to the peer (ALERT or ERROR) before closing. */
  get code(): ErrorCode {
    switch (this.reason) {
      case "FrameTooLarge":
        return ErrorCode.FrameTooLarge
      case "UnsupportedVersion":
      case "LegacyClient":
      case "BadMagic":
        return ErrorCode.UnsupportedVersion
      default:
        return ErrorCode.Malformed
    }
  }
}

/** Builds a ProtocolError. */
export const protocolError = (reason: ProtocolErrorReason, detail: string): ProtocolError =>
  new ProtocolError({ reason, detail })

/** A failed decoder result. */
export const failWith = (reason: ProtocolErrorReason, detail: string): Result.Result<never, ProtocolError> =>
  Result.fail(protocolError(reason, detail))

/** `0x17`-style rendering for type bytes and opcodes in details. */
export const hexByte = (value: number): string => `0x${value.toString(16).padStart(2, "0")}`
