/**
 * Error codes carried by ERROR messages (opcode 9) and ALERT frames, each with its fatality and
 * a sentence a person can read. Pure data. docs/protocol.md §10.
 */

export const ErrorCode = {
  Malformed: 1,
  IllegalState: 2,
  WrongPeer: 3,
  /** Not sent by v3 (LoginFailed instead); kept so the number is never reused. */
  UnknownUser: 4,
  /** Not sent by v3 (LoginFailed instead); kept so the number is never reused. */
  KeyMismatch: 5,
  /** Not sent by v3 (LoginFailed instead); kept so the number is never reused. */
  BadSignature: 6,
  BadFinished: 7,
  Revoked: 8,
  SessionReplaced: 9,
  Timeout: 10,
  RecordRejected: 11,
  SlowConsumer: 12,
  ShuttingDown: 13,
  ServerBusy: 14,
  RateLimited: 15,
  UnsupportedVersion: 16,
  FrameTooLarge: 17,
  Internal: 18,
  KeyExhausted: 19,
  /** Unknown user, revoked user, wrong key or bad signature: one code, so names cannot be probed. */
  LoginFailed: 20,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

interface ErrorCodeInfo {
  readonly name: keyof typeof ErrorCode
  readonly fatal: boolean
  readonly sentence: string
}

const info: Record<ErrorCode, ErrorCodeInfo> = {
  1: { name: "Malformed", fatal: true, sentence: "A frame or message could not be decoded." },
  2: { name: "IllegalState", fatal: false, sentence: "That request is not allowed right now." },
  3: { name: "WrongPeer", fatal: false, sentence: "That message names a user you are not talking to." },
  4: { name: "UnknownUser", fatal: true, sentence: "No user with that name is registered on this server." },
  5: { name: "KeyMismatch", fatal: true, sentence: "This key is not the one registered for that user." },
  6: { name: "BadSignature", fatal: true, sentence: "The login signature did not verify." },
  7: { name: "BadFinished", fatal: true, sentence: "The login key confirmation did not match." },
  8: { name: "Revoked", fatal: true, sentence: "This user's key has been revoked." },
  9: { name: "SessionReplaced", fatal: true, sentence: "You logged in from another connection." },
  10: { name: "Timeout", fatal: true, sentence: "The connection timed out." },
  11: { name: "RecordRejected", fatal: true, sentence: "A record failed its integrity check." },
  12: { name: "SlowConsumer", fatal: true, sentence: "The client did not read its messages fast enough." },
  13: { name: "ShuttingDown", fatal: true, sentence: "The server is shutting down." },
  14: { name: "ServerBusy", fatal: true, sentence: "The server has reached its connection limit." },
  15: { name: "RateLimited", fatal: true, sentence: "Too many connection attempts from this address." },
  16: { name: "UnsupportedVersion", fatal: true, sentence: "This server speaks onechat protocol v3 only." },
  17: {
    name: "FrameTooLarge",
    fatal: true,
    sentence: "A frame declared a length outside the allowed range.",
  },
  18: { name: "Internal", fatal: true, sentence: "The server failed while handling this connection." },
  19: { name: "KeyExhausted", fatal: true, sentence: "The connection's key reached its record limit." },
  20: {
    name: "LoginFailed",
    fatal: true,
    sentence: "Login failed: this user name and key are not accepted by this server.",
  },
}

export const isErrorCode = (code: number): code is ErrorCode => Object.hasOwn(info, code)

export const errorCodeInfo = (code: number): ErrorCodeInfo =>
  isErrorCode(code) ? info[code] : { name: "Internal", fatal: true, sentence: `Unknown error code ${code}.` }
