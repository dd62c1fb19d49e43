/**
 * Application messages a client sends to the server, as a discriminated union on `type`, with
 * their encoders and the decoder of a client→server application record. Pure: no I/O, no crypto;
 * the decoder never throws. docs/protocol.md §6.1 (C→S column), §7.
 */
import type { Result } from "effect"
import {
  KEM_CIPHERTEXT_BYTES,
  KEM_ENCAPSULATION_KEY_BYTES,
  KEY_BYTES,
  MAC_BYTES,
  NONCE_BYTES,
  SIGNATURE_BYTES,
} from "./constants.ts"
import type { ProtocolError } from "./errors.ts"
import {
  type ChatMessage,
  chatMessageCodec,
  codecTable,
  decodeMessagesWith,
  type ErrorMessage,
  emptyCodec,
  encodedLengthWith,
  encodeWith,
  errorMessageCodec,
  fieldsCodec,
  type MessageCodec,
  type PingMessage,
  type PongMessage,
  pingCodec,
  pongCodec,
  writeWith,
} from "./messages.ts"
import { Opcode } from "./opcodes.ts"

/** A message from a client to the server. Byte fields are zero-copy views when decoded. */
export type ClientMessage =
  | { readonly type: "Quit" }
  | { readonly type: "List" }
  /** Request to talk to `to`: the requester's nonce, X25519 ephemeral key and ML-KEM-768 encapsulation key. */
  | {
      readonly type: "Rtt"
      readonly to: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemKey: Uint8Array
    }
  /** The accepter's nonce, ephemeral, ML-KEM ciphertext (to the requester's kemKey), signature and confirmation. */
  | {
      readonly type: "Accept"
      readonly requester: string
      readonly nonce: Uint8Array
      readonly ephemeralKey: Uint8Array
      readonly kemCiphertext: Uint8Array
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  | { readonly type: "Refuse"; readonly requester: string }
  | ChatMessage
  | {
      readonly type: "CcSessionEstablishment"
      readonly accepter: string
      readonly signature: Uint8Array
      readonly confirmation: Uint8Array
    }
  /** Leave the chat with `peer`, or withdraw one's pending request to `peer`. */
  | { readonly type: "Notify"; readonly peer: string }
  | ErrorMessage
  | PingMessage
  | PongMessage

/** The variant of ClientMessage with `type` K. */
export type ClientMessageOf<K extends ClientMessage["type"]> = Extract<ClientMessage, { readonly type: K }>

type ClientCodecs = { readonly [K in ClientMessage["type"]]: MessageCodec<ClientMessageOf<K>> }

const codecs: ClientCodecs = {
  Quit: emptyCodec("Quit", Opcode.Quit),
  List: emptyCodec("List", Opcode.List),
  Rtt: fieldsCodec("Rtt", Opcode.Rtt, [
    ["to", "name"],
    ["nonce", NONCE_BYTES],
    ["ephemeralKey", KEY_BYTES],
    ["kemKey", KEM_ENCAPSULATION_KEY_BYTES],
  ]),
  Accept: fieldsCodec("Accept", Opcode.Accept, [
    ["requester", "name"],
    ["nonce", NONCE_BYTES],
    ["ephemeralKey", KEY_BYTES],
    ["kemCiphertext", KEM_CIPHERTEXT_BYTES],
    ["signature", SIGNATURE_BYTES],
    ["confirmation", MAC_BYTES],
  ]),
  Refuse: fieldsCodec("Refuse", Opcode.Refuse, [["requester", "name"]]),
  Message: chatMessageCodec,
  CcSessionEstablishment: fieldsCodec("CcSessionEstablishment", Opcode.CcSessionEstablishment, [
    ["accepter", "name"],
    ["signature", SIGNATURE_BYTES],
    ["confirmation", MAC_BYTES],
  ]),
  Notify: fieldsCodec("Notify", Opcode.Notify, [["peer", "name"]]),
  Error: errorMessageCodec,
  Ping: pingCodec,
  Pong: pongCodec,
}

const table = codecTable<ClientMessage>(Object.values(codecs))

const codecFor = (m: ClientMessage): MessageCodec<ClientMessage> => {
  const codec = codecs[m.type] as MessageCodec<ClientMessage> | undefined
  if (codec === undefined) throw new RangeError("not a client message type")
  return codec
}

/** `u8 opcode ‖ u16 length ‖ payload` of a client message. Throws RangeError on invalid fields. */
export const encodeClientMessage = (message: ClientMessage): Uint8Array =>
  encodeWith(codecFor(message), message)

/** Encoded size of a client message, header included. Throws RangeError on invalid fields. */
export const encodedClientMessageLength = (message: ClientMessage): number =>
  encodedLengthWith(codecFor(message), message)

/** Writes a client message at `offset` of `target`; returns the offset after it. */
export const writeClientMessage = (target: Uint8Array, offset: number, message: ClientMessage): number =>
  writeWith(codecFor(message), target, offset, message)

/**
 * Decodes the plaintext of a client→server application record into its messages, in order.
 * Handshake opcodes and USER_NOT_FOUND give OpcodeNotAllowed. Never throws.
 */
export const decodeClientMessages = (
  plaintext: Uint8Array,
): Result.Result<ReadonlyArray<ClientMessage>, ProtocolError> =>
  decodeMessagesWith(plaintext, table, "client application record")
