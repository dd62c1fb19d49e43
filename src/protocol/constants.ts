/**
 * Protocol constants of onechat v3: sizes, limits and labels. Pure data.
 * docs/protocol.md §2.2 (limits), §2.1 (frame types), §3.1–§3.2 (hellos), §5.1 (record header).
 */

export const PROTOCOL_NAME = "onechat"
export const PROTOCOL_VERSION = 3
/** The previous wire version: a client speaking it is told to upgrade (§3.1). */
export const PREVIOUS_PROTOCOL_VERSION = 2

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
/**
 * The smallest end-to-end envelope (§8): the ratchet header `dh[32] ‖ u32 pn ‖ u32 n` (40 bytes), the
 * smallest padding bucket (32 bytes) and the AEAD tag (16). A shorter MESSAGE payload is malformed.
 */
export const MIN_ENVELOPE_BYTES = 40 + 32 + AEAD_TAG_BYTES // 88
/** A key seals at most this many records (§5.4). */
export const RECORD_LIMIT = 2n ** 48n

/** First body bytes of a v1 (original C++) client's first frame: u32 LE signature length 256. */
export const LEGACY_V1_PREFIX = Uint8Array.of(0x00, 0x01, 0x00, 0x00)

/** ML-KEM-768 (FIPS 203) sizes carried in RTT and ACCEPT (§8) and in the hellos (§3). */
export const KEM_ENCAPSULATION_KEY_BYTES = 1_184
export const KEM_CIPHERTEXT_BYTES = 1_088
/** A user certificate (DER) inside RTT/ACCEPT: `u16 len ‖ der`, at most this long (§6.1). */
export const MAX_CERTIFICATE_BYTES = 2_048
/** A name field is always `u8 len ‖ name ‖ zero fill` to this size, so names hide their length (§2.3). */
export const NAME_FIELD_BYTES = 33
/** LIST pads its names to a multiple of this count (§6.1), so the list's length shows a class only. */
export const LIST_PAD_NAMES = 16

/** `0x01 ‖ "onechat" ‖ u8 3 ‖ nonce_c[32] ‖ eph_c[32] ‖ kem_ek[1184]` (§3.1) */
export const CLIENT_HELLO_BYTES =
  1 + PROTOCOL_NAME.length + 1 + NONCE_BYTES + KEY_BYTES + KEM_ENCAPSULATION_KEY_BYTES // 1,257
/** `0x02 ‖ u8 3 ‖ nonce_s[32] ‖ eph_s[32] ‖ kem_ct[1088]` (§3.2) */
export const SERVER_HELLO_BYTES = 1 + 1 + NONCE_BYTES + KEY_BYTES + KEM_CIPHERTEXT_BYTES // 1,154
