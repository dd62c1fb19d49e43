/**
 * The one error type of the login handshake (both roles), with a reason union, a human sentence,
 * the protocol error code the server sends for it and the text that goes with that code. The
 * precise reason of a refused login is for the server's log only: on the wire every one of them is
 * LOGIN_FAILED with one text. Carries names, versions and codes, never key bytes.
 * docs/protocol.md §3, §10.
 */
import { Data } from "effect"
import { PROTOCOL_VERSION } from "../protocol/constants.ts"
import { ErrorCode, errorCodeInfo } from "../protocol/error-codes.ts"

export type HandshakeErrorReason =
  | "Malformed"
  | "UnsupportedVersion"
  /** Server side: a CLIENT_HELLO of the original v1 protocol. */
  | "LegacyClient"
  /** Server side: a CLIENT_HELLO of an older onechat version (`peerVersion`, e.g. 2). */
  | "OutdatedClient"
  /** Client side: a SERVER_HELLO of another version (`peerVersion`). */
  | "ServerVersion"
  | "UnexpectedMessage"
  | "LowOrderKey"
  /** Server side: the client's ML-KEM-768 encapsulation key fails its checks. */
  | "BadKemKey"
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

const v = PROTOCOL_VERSION

const sentences: Record<HandshakeErrorReason, string> = {
  Malformed: "A login message could not be decoded.",
  UnsupportedVersion: `The peer does not speak onechat protocol v${v}.`,
  LegacyClient: `This client speaks the original onechat v1 protocol; this server speaks v${v}: upgrade the client.`,
  OutdatedClient: `This client speaks an older onechat protocol; this server speaks v${v}: upgrade the client.`,
  ServerVersion: `The server does not speak onechat protocol v${v}.`,
  UnexpectedMessage: "A login message arrived out of sequence.",
  LowOrderKey: "The peer sent an invalid ephemeral key.",
  BadKemKey: "The client sent an invalid ML-KEM-768 key.",
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
  LegacyClient: ErrorCode.UnsupportedVersion,
  OutdatedClient: ErrorCode.UnsupportedVersion,
  ServerVersion: ErrorCode.UnsupportedVersion,
  UnexpectedMessage: ErrorCode.Malformed,
  LowOrderKey: ErrorCode.Malformed,
  BadKemKey: ErrorCode.Malformed,
  RecordRejected: ErrorCode.RecordRejected,
  UntrustedServer: ErrorCode.Malformed,
  BadServerSignature: ErrorCode.Malformed,
  BadServerFinished: ErrorCode.Malformed,
  // One answer for every refused identity (docs/protocol.md §3.3): names cannot be probed.
  UnknownUser: ErrorCode.LoginFailed,
  Revoked: ErrorCode.LoginFailed,
  KeyMismatch: ErrorCode.LoginFailed,
  BadSignature: ErrorCode.LoginFailed,
  BadFinished: ErrorCode.BadFinished,
  ServerRefused: ErrorCode.Internal,
}

/** The version-specific sentences, when the peer's version is known. */
const versionSentence = (reason: HandshakeErrorReason, peer: number | undefined): string | undefined => {
  if (peer === undefined) return undefined
  if (reason === "OutdatedClient") {
    return `This client speaks onechat v${peer}; this server speaks v${v}: upgrade the client.`
  }
  if (reason === "ServerVersion") {
    return peer < v
      ? `The server speaks onechat v${peer}; this client speaks v${v}: the server needs upgrading.`
      : `The server speaks onechat v${peer}; this client speaks v${v}: upgrade this client.`
  }
  return undefined
}

export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly reason: HandshakeErrorReason
  /** Extra human detail: a certificate problem, the server's error text, a size. No secrets. */
  readonly detail?: string
  /** For ServerRefused: the code the server sent. */
  readonly serverCode?: number
  /** For OutdatedClient and ServerVersion: the version byte the peer sent. */
  readonly peerVersion?: number
}> {
  override get message(): string {
    const sentence = versionSentence(this.reason, this.peerVersion) ?? sentences[this.reason]
    return this.detail === undefined ? sentence : `${sentence} ${this.detail}`
  }

  /** The ERROR (or ALERT) code a server sends for this failure. */
  get code(): ErrorCode {
    return codes[this.reason]
  }

  /**
   * The text a server sends with `code`: the code's own sentence, except for an older client,
   * which is told in words to upgrade. Never the precise reason of a refused login.
   */
  get wireText(): string {
    if (this.reason === "LegacyClient") return sentences.LegacyClient
    return versionSentence(this.reason, this.peerVersion) ?? errorCodeInfo(this.code).sentence
  }
}
