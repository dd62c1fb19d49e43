/**
 * The one error type of the login handshake (both roles), with a reason union, a human sentence
 * and the protocol error code the server sends for it. Carries names and codes, never key bytes.
 * docs/protocol.md §3, §10.
 */
import { Data } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"

export type HandshakeErrorReason =
  | "Malformed"
  | "UnsupportedVersion"
  | "UnexpectedMessage"
  | "LowOrderKey"
  | "RecordRejected"
  | "UntrustedServer"
  | "BadServerSignature"
  | "BadServerFinished"
  | "UnknownUser"
  | "Revoked"
  | "KeyMismatch"
  | "BadSignature"
  | "BadFinished"
  | "ServerRefused"

const sentences: Record<HandshakeErrorReason, string> = {
  Malformed: "A login message could not be decoded.",
  UnsupportedVersion: "The peer does not speak onechat protocol v2.",
  UnexpectedMessage: "A login message arrived out of sequence.",
  LowOrderKey: "The peer sent an invalid ephemeral key.",
  RecordRejected: "A login record failed its integrity check.",
  UntrustedServer: "The server's certificate is not trusted.",
  BadServerSignature: "The server's signature over the login transcript is invalid.",
  BadServerFinished: "The server's key confirmation did not match.",
  UnknownUser: "No user with that name is registered on this server.",
  Revoked: "This user's key has been revoked.",
  KeyMismatch: "The key presented is not the one registered for this user.",
  BadSignature: "The client's signature over the login transcript is invalid.",
  BadFinished: "The client's key confirmation did not match.",
  ServerRefused: "The server refused the login.",
}

const codes: Record<HandshakeErrorReason, ErrorCode> = {
  Malformed: ErrorCode.Malformed,
  UnsupportedVersion: ErrorCode.UnsupportedVersion,
  UnexpectedMessage: ErrorCode.Malformed,
  LowOrderKey: ErrorCode.Malformed,
  RecordRejected: ErrorCode.RecordRejected,
  UntrustedServer: ErrorCode.Malformed,
  BadServerSignature: ErrorCode.Malformed,
  BadServerFinished: ErrorCode.Malformed,
  UnknownUser: ErrorCode.UnknownUser,
  Revoked: ErrorCode.Revoked,
  KeyMismatch: ErrorCode.KeyMismatch,
  BadSignature: ErrorCode.BadSignature,
  BadFinished: ErrorCode.BadFinished,
  ServerRefused: ErrorCode.Internal,
}

export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly reason: HandshakeErrorReason
  /** Extra human detail: a certificate problem, the server's error text, a size. No secrets. */
  readonly detail?: string
  /** For ServerRefused: the code the server sent. */
  readonly serverCode?: number
}> {
  override get message(): string {
    return this.detail === undefined ? sentences[this.reason] : `${sentences[this.reason]} ${this.detail}`
  }

  /** The ERROR code a server sends for this failure. */
  get code(): ErrorCode {
    return codes[this.reason]
  }
}
