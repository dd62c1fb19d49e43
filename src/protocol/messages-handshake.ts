/**
 * Handshake messages carried in the handshake records of phases 1.1 and 1.2, with their encoder
 * and decoder. Encoding is canonical (decode then encode gives the same bytes), so the transcript
 * can be hashed from re-encoded messages. Pure: no I/O, no crypto. docs/protocol.md §3.2, §3.3, §6.2.
 */
import type { Result } from "effect"
import { checkRange, fixedSize } from "./codec.ts"
import { KEY_BYTES, MAC_BYTES, SIGNATURE_BYTES } from "./constants.ts"
import type { ProtocolError } from "./errors.ts"
import { codecTable, decodeMessagesWith, encodeWith, fieldsCodec, type MessageCodec } from "./messages.ts"
import { Opcode } from "./opcodes.ts"

/** A handshake message. Byte fields are zero-copy views when decoded. */
export type HandshakeMessage =
  /** The server's X.509 certificate (DER) and a stapled CRL (DER; empty when none). */
  | { readonly type: "ServerCertificate"; readonly certificate: Uint8Array; readonly crl: Uint8Array }
  | { readonly type: "ServerVerify"; readonly signature: Uint8Array }
  | { readonly type: "ServerFinished"; readonly mac: Uint8Array }
  /** The user's name and registered Ed25519 public key. */
  | { readonly type: "ClientIdentity"; readonly name: string; readonly publicKey: Uint8Array }
  | { readonly type: "ClientVerify"; readonly signature: Uint8Array }
  | { readonly type: "ClientFinished"; readonly mac: Uint8Array }

/** The variant of HandshakeMessage with `type` K. */
export type HandshakeMessageOf<K extends HandshakeMessage["type"]> = Extract<
  HandshakeMessage,
  { readonly type: K }
>

type HandshakeCodecs = { readonly [K in HandshakeMessage["type"]]: MessageCodec<HandshakeMessageOf<K>> }

const signatureCodec = <T extends "ServerVerify" | "ClientVerify">(
  type: T,
  opcode: Opcode,
): MessageCodec<{ readonly type: T; readonly signature: Uint8Array }> => ({
  opcode,
  size: (m) => fixedSize(m.signature, SIGNATURE_BYTES, "signature"),
  write: (w, m) => w.bytes(m.signature),
  read: (r) => {
    r.expectSize(SIGNATURE_BYTES)
    return { type, signature: r.bytes(SIGNATURE_BYTES, "signature") }
  },
})

const finishedCodec = <T extends "ServerFinished" | "ClientFinished">(
  type: T,
  opcode: Opcode,
): MessageCodec<{ readonly type: T; readonly mac: Uint8Array }> => ({
  opcode,
  size: (m) => fixedSize(m.mac, MAC_BYTES, "mac"),
  write: (w, m) => w.bytes(m.mac),
  read: (r) => {
    r.expectSize(MAC_BYTES)
    return { type, mac: r.bytes(MAC_BYTES, "mac") }
  },
})

const certificateCodec: MessageCodec<HandshakeMessageOf<"ServerCertificate">> = {
  opcode: Opcode.ServerCertificate,
  size: (m) => {
    checkRange(m.certificate.length, 1, 0xffff, "certificate length")
    checkRange(m.crl.length, 0, 0xffff, "CRL length")
    return 4 + m.certificate.length + m.crl.length
  },
  write: (w, m) => {
    w.u16(m.certificate.length)
    w.bytes(m.certificate)
    w.u16(m.crl.length)
    w.bytes(m.crl)
  },
  read: (r) => {
    const certificateLength = r.u16("certificate length")
    if (certificateLength === 0) r.fail("BadPayload", "certificate is empty")
    const certificate = r.bytes(certificateLength, "certificate")
    const crl = r.bytes(r.u16("CRL length"), "CRL")
    return { type: "ServerCertificate", certificate, crl }
  },
}

const codecs: HandshakeCodecs = {
  ServerCertificate: certificateCodec,
  ServerVerify: signatureCodec("ServerVerify", Opcode.ServerVerify),
  ServerFinished: finishedCodec("ServerFinished", Opcode.ServerFinished),
  ClientIdentity: fieldsCodec("ClientIdentity", Opcode.ClientIdentity, [
    ["name", "name"],
    ["publicKey", KEY_BYTES],
  ]),
  ClientVerify: signatureCodec("ClientVerify", Opcode.ClientVerify),
  ClientFinished: finishedCodec("ClientFinished", Opcode.ClientFinished),
}

const table = codecTable<HandshakeMessage>(Object.values(codecs))

/**
 * `u8 opcode ‖ u16 length ‖ payload` of a handshake message: exactly the bytes added to the
 * transcript (§4.1). Throws RangeError on invalid fields.
 */
export const encodeHandshakeMessage = (message: HandshakeMessage): Uint8Array => {
  const codec = codecs[message.type] as MessageCodec<HandshakeMessage> | undefined
  if (codec === undefined) throw new RangeError("not a handshake message type")
  return encodeWith(codec, message)
}

/**
 * Decodes the plaintext of a handshake record into its messages, in order. Application opcodes
 * give OpcodeNotAllowed; which messages are expected in which record is the handshake's check.
 * Never throws.
 */
export const decodeHandshakeMessages = (
  plaintext: Uint8Array,
): Result.Result<ReadonlyArray<HandshakeMessage>, ProtocolError> =>
  decodeMessagesWith(plaintext, table, "handshake record")
