/**
 * The plaintext frames sent before any key exists: CLIENT_HELLO (1.0), SERVER_HELLO (1.1) and
 * ALERT. Encoders return frame bodies (frame with `encodeFrame`); decoders are total, return
 * zero-copy views for nonces and keys, and never throw. Pure: no I/O, no crypto (the ML-KEM key and
 * ciphertext are carried as opaque bytes of fixed size). docs/protocol.md §3.1, §3.2, §2.4.
 */
import { Result } from "effect"
import { fixedSize, isPrintableAscii, sanitizeReasonText } from "./codec.ts"
import {
  CLIENT_HELLO_BYTES,
  FrameType,
  KEM_CIPHERTEXT_BYTES,
  KEM_ENCAPSULATION_KEY_BYTES,
  KEY_BYTES,
  LEGACY_V1_PREFIX,
  MAX_REASON_TEXT,
  NONCE_BYTES,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  SERVER_HELLO_BYTES,
} from "./constants.ts"
import { type ErrorCode, isErrorCode } from "./error-codes.ts"
import { failWith, type ProtocolError } from "./errors.ts"
import { expectFrameType } from "./frame.ts"
import { asciiToString } from "./names.ts"

/** The fresh values each hello carries. */
export interface Hello {
  /** 32 random bytes. */
  readonly nonce: Uint8Array
  /** A fresh X25519 public key (32 bytes). */
  readonly ephemeralKey: Uint8Array
}

/** CLIENT_HELLO's values: the hello plus a fresh ML-KEM-768 encapsulation key. */
export interface ClientHello extends Hello {
  /** 1,184 bytes. */
  readonly kemEncapsulationKey: Uint8Array
}

/** SERVER_HELLO's values: the hello plus the ML-KEM-768 ciphertext to the client's key. */
export interface ServerHello extends Hello {
  /** 1,088 bytes. */
  readonly kemCiphertext: Uint8Array
}

/** An ALERT frame: an unauthenticated error code and sentence, then the sender closes. */
export interface Alert {
  readonly code: ErrorCode
  /** At most 200 printable ASCII characters. */
  readonly text: string
}

/** `0x01 ‖ "onechat"`: the first 8 bytes of every CLIENT_HELLO. */
export const CLIENT_HELLO_MAGIC: Uint8Array = Uint8Array.from([
  FrameType.ClientHello,
  ...Array.from(PROTOCOL_NAME, (c) => c.charCodeAt(0)),
])

const ALERT_HEADER_BYTES = 4

const NONCE_AT = CLIENT_HELLO_MAGIC.length + 1
const EPHEMERAL_AT = NONCE_AT + NONCE_BYTES
const KEM_KEY_AT = EPHEMERAL_AT + KEY_BYTES

/**
 * CLIENT_HELLO body: `0x01 ‖ "onechat" ‖ u8 3 ‖ nonce[32] ‖ eph[32] ‖ kem_ek[1184]` (1,257 bytes).
 * Throws RangeError on a field of the wrong size.
 */
export const encodeClientHello = (hello: ClientHello): Uint8Array => {
  fixedSize(hello.nonce, NONCE_BYTES, "nonce")
  fixedSize(hello.ephemeralKey, KEY_BYTES, "ephemeralKey")
  fixedSize(hello.kemEncapsulationKey, KEM_ENCAPSULATION_KEY_BYTES, "kemEncapsulationKey")
  const body = Buffer.allocUnsafe(CLIENT_HELLO_BYTES)
  body.set(CLIENT_HELLO_MAGIC, 0)
  body[CLIENT_HELLO_MAGIC.length] = PROTOCOL_VERSION
  body.set(hello.nonce, NONCE_AT)
  body.set(hello.ephemeralKey, EPHEMERAL_AT)
  body.set(hello.kemEncapsulationKey, KEM_KEY_AT)
  return body
}

const startsWith = (body: Uint8Array, prefix: Uint8Array): boolean => {
  if (body.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (body[i] !== prefix[i]) return false
  return true
}

/** True when the available bytes of `body` agree with the magic (a truncated prefix agrees). */
const agreesWithMagic = (body: Uint8Array): boolean => {
  const n = Math.min(body.length, CLIENT_HELLO_MAGIC.length)
  for (let i = 0; i < n; i++) if (body[i] !== CLIENT_HELLO_MAGIC[i]) return false
  return true
}

/**
 * The version byte of a first frame body that starts with `0x01 ‖ "onechat"`, else undefined: lets
 * the server tell an older client (v2) to upgrade in words (§3.1).
 */
export const clientHelloVersion = (body: Uint8Array): number | undefined =>
  body.length > CLIENT_HELLO_MAGIC.length && startsWith(body, CLIENT_HELLO_MAGIC)
    ? body[CLIENT_HELLO_MAGIC.length]
    : undefined

/**
 * Decodes the first frame body of a connection. Fails with LegacyClient (a v1 client), BadMagic
 * (not a CLIENT_HELLO), UnsupportedVersion (another version: see `clientHelloVersion`), or
 * BadLength (wrong size).
 */
export const decodeClientHello = (body: Uint8Array): Result.Result<ClientHello, ProtocolError> => {
  if (startsWith(body, LEGACY_V1_PREFIX))
    return failWith("LegacyClient", `first body of ${body.length} bytes`)
  if (!agreesWithMagic(body)) return failWith("BadMagic", `first body of ${body.length} bytes`)
  const versionAt = CLIENT_HELLO_MAGIC.length
  if (body.length > versionAt && body[versionAt] !== PROTOCOL_VERSION) {
    return failWith("UnsupportedVersion", `CLIENT_HELLO version ${body[versionAt]}`)
  }
  if (body.length !== CLIENT_HELLO_BYTES) {
    return failWith("BadLength", `CLIENT_HELLO is ${body.length} bytes, expected ${CLIENT_HELLO_BYTES}`)
  }
  return Result.succeed({
    nonce: body.subarray(NONCE_AT, EPHEMERAL_AT),
    ephemeralKey: body.subarray(EPHEMERAL_AT, KEM_KEY_AT),
    kemEncapsulationKey: body.subarray(KEM_KEY_AT, CLIENT_HELLO_BYTES),
  })
}

const S_NONCE_AT = 2
const S_EPHEMERAL_AT = S_NONCE_AT + NONCE_BYTES
const S_KEM_CIPHERTEXT_AT = S_EPHEMERAL_AT + KEY_BYTES

/**
 * SERVER_HELLO body: `0x02 ‖ u8 3 ‖ nonce[32] ‖ eph[32] ‖ kem_ct[1088]` (1,154 bytes). Throws
 * RangeError on a field of the wrong size.
 */
export const encodeServerHello = (hello: ServerHello): Uint8Array => {
  fixedSize(hello.nonce, NONCE_BYTES, "nonce")
  fixedSize(hello.ephemeralKey, KEY_BYTES, "ephemeralKey")
  fixedSize(hello.kemCiphertext, KEM_CIPHERTEXT_BYTES, "kemCiphertext")
  const body = Buffer.allocUnsafe(SERVER_HELLO_BYTES)
  body[0] = FrameType.ServerHello
  body[1] = PROTOCOL_VERSION
  body.set(hello.nonce, S_NONCE_AT)
  body.set(hello.ephemeralKey, S_EPHEMERAL_AT)
  body.set(hello.kemCiphertext, S_KEM_CIPHERTEXT_AT)
  return body
}

/**
 * Decodes a SERVER_HELLO body. Fails with EmptyFrame/UnknownFrameType/UnexpectedFrameType (not a
 * SERVER_HELLO: check for ALERT first), UnsupportedVersion (the version is `body[1]`), or BadLength.
 */
export const decodeServerHello = (body: Uint8Array): Result.Result<ServerHello, ProtocolError> => {
  const type = expectFrameType(body, FrameType.ServerHello)
  if (Result.isFailure(type)) return Result.fail(type.failure)
  if (body.length > 1 && body[1] !== PROTOCOL_VERSION) {
    return failWith("UnsupportedVersion", `SERVER_HELLO version ${body[1]}`)
  }
  if (body.length !== SERVER_HELLO_BYTES) {
    return failWith("BadLength", `SERVER_HELLO is ${body.length} bytes, expected ${SERVER_HELLO_BYTES}`)
  }
  return Result.succeed({
    nonce: body.subarray(S_NONCE_AT, S_EPHEMERAL_AT),
    ephemeralKey: body.subarray(S_EPHEMERAL_AT, S_KEM_CIPHERTEXT_AT),
    kemCiphertext: body.subarray(S_KEM_CIPHERTEXT_AT, SERVER_HELLO_BYTES),
  })
}

/**
 * ALERT body: `0x03 ‖ u16 code ‖ u8 len ‖ text`. The text is made valid (non-printable
 * characters become "?", cut to 200); an unknown code throws RangeError.
 */
export const encodeAlert = (alert: Alert): Uint8Array => {
  if (!isErrorCode(alert.code)) throw new RangeError(`unknown error code ${alert.code}`)
  const text = sanitizeReasonText(alert.text)
  const body = Buffer.allocUnsafe(ALERT_HEADER_BYTES + text.length)
  body[0] = FrameType.Alert
  body.writeUInt16BE(alert.code, 1)
  body[3] = text.length
  body.write(text, ALERT_HEADER_BYTES, "latin1")
  return body
}

/**
 * Decodes an ALERT body. Fails with a frame-type error, BadLength (size does not match the
 * text length), BadPayload (unknown code) or BadText (over 200 bytes or not printable ASCII).
 */
export const decodeAlert = (body: Uint8Array): Result.Result<Alert, ProtocolError> => {
  const type = expectFrameType(body, FrameType.Alert)
  if (Result.isFailure(type)) return Result.fail(type.failure)
  if (body.length < ALERT_HEADER_BYTES) return failWith("BadLength", `ALERT of ${body.length} bytes`)
  const code = (body[1]! << 8) | body[2]!
  const length = body[3]!
  if (body.length !== ALERT_HEADER_BYTES + length) {
    return failWith("BadLength", `ALERT of ${body.length} bytes declares a ${length}-byte text`)
  }
  if (!isErrorCode(code)) return failWith("BadPayload", `ALERT code ${code} is not assigned`)
  const text = body.subarray(ALERT_HEADER_BYTES)
  if (length > MAX_REASON_TEXT || !isPrintableAscii(text)) {
    return failWith("BadText", `ALERT text of ${length} bytes is too long or not printable ASCII`)
  }
  return Result.succeed({ code, text: asciiToString(text) })
}
