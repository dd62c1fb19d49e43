/**
 * The public API of src/protocol: framing, hellos, record header and typed messages of onechat
 * v2. Pure: bytes in, typed results out; no I/O, no crypto. docs/protocol.md §2, §3, §5.1, §6.
 */
export { sanitizeReasonText } from "./codec.ts"
export * from "./constants.ts"
export * from "./error-codes.ts"
export { ProtocolError, type ProtocolErrorReason } from "./errors.ts"
export {
  encodeFrame,
  expectFrameType,
  FrameDecoder,
  type FrameDecoderOptions,
  frameTypeOf,
  isFrameType,
  writeFrameHeader,
} from "./frame.ts"
export {
  type Alert,
  CLIENT_HELLO_MAGIC,
  type ClientHello,
  clientHelloVersion,
  decodeAlert,
  decodeClientHello,
  decodeServerHello,
  encodeAlert,
  encodeClientHello,
  encodeServerHello,
  type Hello,
  type ServerHello,
} from "./hello.ts"
export type {
  ChatMessage,
  ErrorMessage,
  PingMessage,
  PongMessage,
} from "./messages.ts"
export {
  type ClientMessage,
  type ClientMessageOf,
  decodeClientMessages,
  encodeClientMessage,
  encodedClientMessageLength,
  writeClientMessage,
} from "./messages-client.ts"
export {
  decodeHandshakeMessages,
  encodeHandshakeMessage,
  type HandshakeMessage,
  type HandshakeMessageOf,
} from "./messages-handshake.ts"
export {
  decodeServerMessages,
  encodedServerMessageLength,
  encodeServerMessage,
  type ServerMessage,
  type ServerMessageOf,
  writeServerMessage,
} from "./messages-server.ts"
export {
  type DecodedName,
  decodeName,
  encodedNameLength,
  encodeName,
  isValidUserName,
  isValidUserNameBytes,
  MAX_NAME_BYTES,
  USER_NAME_PATTERN,
  writeName,
} from "./names.ts"
export * from "./opcodes.ts"
export {
  parseRecordHeader,
  RECORD_AD_BYTES,
  type RecordHeader,
  recordAdditionalData,
  recordBodyLength,
  writeRecordHeader,
} from "./record-header.ts"
