/**
 * Protocol constants of onechat v2: sizes, limits and labels. Pure data.
 * docs/protocol.md §2.2 (limits), §2.1 (frame types), §5.1 (record header).
 */

export const PROTOCOL_NAME = "onechat"
export const PROTOCOL_VERSION = 2

/** Frame type: the first byte of every frame body (§2.1). */
export const FrameType = {
  ClientHello: 0x01,
  ServerHello: 0x02,
  Alert: 0x03,
  Record: 0x17,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

/** Direction byte of a record header (§5.1). */
export const Direction = {
  ClientToServer: 0x01,
  ServerToClient: 0x02,
} as const
export type Direction = (typeof Direction)[keyof typeof Direction]

export const FRAME_HEADER_BYTES = 4
export const RECORD_HEADER_BYTES = 11
export const AEAD_TAG_BYTES = 16
export const MAX_RECORD_PLAINTEXT = 65_536
export const MAX_FRAME_BODY = RECORD_HEADER_BYTES + MAX_RECORD_PLAINTEXT + AEAD_TAG_BYTES // 65,563
export const MESSAGE_HEADER_BYTES = 3
export const MAX_MESSAGE_PAYLOAD = MAX_RECORD_PLAINTEXT - MESSAGE_HEADER_BYTES // 65,533
export const MAX_TEXT_BYTES = 32_768
export const MAX_LIST_NAMES = 1_000
export const NONCE_BYTES = 32
export const KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
export const MAC_BYTES = 32
export const MAX_REASON_TEXT = 200
/** End-to-end envelope `u64 counter ‖ ciphertext ‖ tag[16]` (§8): its counter field, and its minimum size. */
export const E2E_COUNTER_BYTES = 8
export const MIN_ENVELOPE_BYTES = E2E_COUNTER_BYTES + AEAD_TAG_BYTES // 24
/** A key seals at most this many records (§5.4). */
export const RECORD_LIMIT = 2n ** 48n

export const CLIENT_HELLO_BYTES = 1 + PROTOCOL_NAME.length + 1 + NONCE_BYTES + KEY_BYTES // 73
export const SERVER_HELLO_BYTES = 1 + 1 + NONCE_BYTES + KEY_BYTES // 66

/** First body bytes of a v1 (original C++) client's first frame: u32 LE signature length 256. */
export const LEGACY_V1_PREFIX = Uint8Array.of(0x00, 0x01, 0x00, 0x00)
