/**
 * fast-check arbitraries of valid onechat v3 encodings, each with the offsets of its length
 * fields (for the mutators of mutate.ts): messages of the three families (33-byte names, padded
 * LIST, certificates and ML-KEM fields in RTT/ACCEPT), hellos, alerts, record bodies and whole
 * frames. Test-only; pure. docs/protocol.md §2–§3, §5.1, §6.
 */
import fc from "fast-check"
import { mlKemKeyPair } from "../../src/crypto/mlkem.ts"
import {
  CLIENT_HELLO_BYTES,
  type ClientMessage,
  Direction,
  ErrorCode,
  encodeAlert,
  encodeClientHello,
  encodeClientMessage,
  encodeHandshakeMessage,
  encodeServerHello,
  encodeServerMessage,
  FrameType,
  type HandshakeMessage,
  KEM_CIPHERTEXT_BYTES,
  KEM_ENCAPSULATION_KEY_BYTES,
  LEGACY_V1_PREFIX,
  MAX_CERTIFICATE_BYTES,
  MAX_FRAME_BODY,
  MIN_ENVELOPE_BYTES,
  NAME_FIELD_BYTES,
  NotFoundReason,
  NotifyReason,
  Opcode,
  PROTOCOL_VERSION,
  SERVER_HELLO_BYTES,
  type ServerMessage,
  USER_NAME_PATTERN,
} from "../../src/protocol/index.ts"
import { seededRandom } from "../random.ts"
import type { LengthField, Sample } from "./mutate.ts"

export const bytes = (length: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: length, maxLength: length })

/** Any valid user name (§2.3). */
export const validName: fc.Arbitrary<string> = fc.stringMatching(USER_NAME_PATTERN)

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const reasonText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 200,
})
const errorCode = fc.constantFrom(...Object.values(ErrorCode))

/** An opaque certificate (the codec does not parse DER): mostly short, sometimes at the bounds. */
export const certificateBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, MAX_CERTIFICATE_BYTES).chain(bytes) },
)

/**
 * An RTT's ML-KEM-768 key: random bytes (the codec carries them opaquely) or a genuine key, so a
 * client under fuzz also gets past its key check. Called after module load (kemEncapsulationKeys).
 */
const kemKeyArbitrary = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(bytes(KEM_ENCAPSULATION_KEY_BYTES), fc.constantFrom(...kemEncapsulationKeys))
const kemCiphertext = bytes(KEM_CIPHERTEXT_BYTES)

const sharedMessages = <M>(envelopeMax: number) =>
  [
    fc.record({
      type: fc.constant("Message" as const),
      envelope: fc.uint8Array({ minLength: MIN_ENVELOPE_BYTES, maxLength: envelopeMax }),
    }),
    fc.record({
      type: fc.constant("Error" as const),
      code: errorCode,
      fatal: fc.boolean(),
      text: reasonText,
    }),
    fc.record({ type: fc.constant("Ping" as const), value: u64 }),
    fc.record({ type: fc.constant("Pong" as const), value: u64 }),
  ] as unknown as ReadonlyArray<fc.Arbitrary<M>>

/** A client→server application message whose names come from `name`. */
export const clientMessage = (name: fc.Arbitrary<string> = validName, envelopeMax = 300) =>
  fc.oneof<fc.Arbitrary<ClientMessage>[]>(
    fc.constant({ type: "Quit" as const }),
    fc.constant({ type: "List" as const }),
    fc.record({
      type: fc.constant("Rtt" as const),
      to: name,
      nonce: bytes(32),
      ephemeralKey: bytes(32),
      kemKey: kemKeyArbitrary(),
    }),
    fc.record({
      type: fc.constant("Accept" as const),
      requester: name,
      nonce: bytes(32),
      ephemeralKey: bytes(32),
      kemCiphertext,
      signature: bytes(64),
      confirmation: bytes(32),
    }),
    fc.record({ type: fc.constant("Refuse" as const), requester: name }),
    fc.record({
      type: fc.constant("CcSessionEstablishment" as const),
      accepter: name,
      signature: bytes(64),
      confirmation: bytes(32),
    }),
    fc.record({ type: fc.constant("Notify" as const), peer: name }),
    ...sharedMessages<ClientMessage>(envelopeMax),
  )

/** A server→client application message. */
export const serverMessage = (name: fc.Arbitrary<string> = validName, envelopeMax = 300) =>
  fc.oneof<fc.Arbitrary<ServerMessage>[]>(
    fc
      .array(name, { maxLength: 12 })
      .chain((names) =>
        fc
          .integer({ min: names.length, max: 0xffff })
          .map((total) => ({ type: "List" as const, total, names })),
      ),
    fc.record({
      type: fc.constant("Rtt" as const),
      from: name,
      certificate: certificateBytes,
      nonce: bytes(32),
      ephemeralKey: bytes(32),
      kemKey: kemKeyArbitrary(),
    }),
    fc.record({
      type: fc.constant("Accept" as const),
      from: name,
      certificate: certificateBytes,
      nonce: bytes(32),
      ephemeralKey: bytes(32),
      kemCiphertext,
      signature: bytes(64),
      confirmation: bytes(32),
    }),
    fc.record({ type: fc.constant("Refuse" as const), from: name }),
    fc.record({
      type: fc.constant("CcSessionEstablishment" as const),
      from: name,
      signature: bytes(64),
      confirmation: bytes(32),
    }),
    fc.record({
      type: fc.constant("UserNotFound" as const),
      user: name,
      reason: fc.constantFrom(...Object.values(NotFoundReason)),
    }),
    fc.record({
      type: fc.constant("Notify" as const),
      peer: name,
      reason: fc.constantFrom(...Object.values(NotifyReason)),
    }),
    ...sharedMessages<ServerMessage>(envelopeMax),
  )

/** A handshake message (§3.2, §3.3). */
export const handshakeMessage: fc.Arbitrary<HandshakeMessage> = fc.oneof<fc.Arbitrary<HandshakeMessage>[]>(
  fc.record({
    type: fc.constant("ServerCertificate" as const),
    certificate: fc.uint8Array({ minLength: 1, maxLength: 600 }),
    crl: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({ type: fc.constant("ServerVerify" as const), signature: bytes(64) }),
  fc.record({ type: fc.constant("ServerFinished" as const), mac: bytes(32) }),
  fc.record({ type: fc.constant("ClientIdentity" as const), name: validName, publicKey: bytes(32) }),
  fc.record({ type: fc.constant("ClientVerify" as const), signature: bytes(64) }),
  fc.record({ type: fc.constant("ClientFinished" as const), mac: bytes(32) }),
)

const NAME_FIRST: ReadonlySet<number> = new Set([
  Opcode.Rtt,
  Opcode.Accept,
  Opcode.Refuse,
  Opcode.CcSessionEstablishment,
  Opcode.UserNotFound,
  Opcode.Notify,
  Opcode.ClientIdentity,
])

/** Which family a plaintext belongs to: server RTT/ACCEPT carry a certificate after the name. */
export type MessageFamily = "client" | "server" | "handshake"

/** The length fields of the message encoded at `start` of `plaintext` (header and payload). */
const messageLengthFields = (plaintext: Uint8Array, start: number, family: MessageFamily): LengthField[] => {
  const opcode = plaintext[start]!
  const payload = start + 3
  const payloadLength = (plaintext[start + 1]! << 8) | plaintext[start + 2]!
  const fields: LengthField[] = [{ offset: start + 1, width: 2 }]
  if (payloadLength === 0) return fields
  if (NAME_FIRST.has(opcode)) {
    fields.push({ offset: payload, width: 1 })
    const certified = family === "server" && (opcode === Opcode.Rtt || opcode === Opcode.Accept)
    if (certified) fields.push({ offset: payload + NAME_FIELD_BYTES, width: 2 })
  } else if (opcode === Opcode.Error) fields.push({ offset: payload + 3, width: 1 })
  else if (opcode === Opcode.ServerCertificate) {
    const certificateLength = (plaintext[payload]! << 8) | plaintext[payload + 1]!
    fields.push({ offset: payload, width: 2 }, { offset: payload + 2 + certificateLength, width: 2 })
  } else if (opcode === Opcode.List && payloadLength >= 4) {
    fields.push({ offset: payload, width: 2 }, { offset: payload + 2, width: 2 })
    const count = (plaintext[payload + 2]! << 8) | plaintext[payload + 3]!
    for (let i = 0; i < count; i++) fields.push({ offset: payload + 4 + i * NAME_FIELD_BYTES, width: 1 })
  }
  return fields
}

/** Encoded messages concatenated into one record plaintext, with every length field located. */
export const messagesSample = (encoded: ReadonlyArray<Uint8Array>, family: MessageFamily): Sample => {
  const plaintext = Uint8Array.from(Buffer.concat(encoded))
  const lengthFields: LengthField[] = []
  let start = 0
  for (const message of encoded) {
    lengthFields.push(...messageLengthFields(plaintext, start, family))
    start += message.length
  }
  return { bytes: plaintext, lengthFields }
}

/** 1–`max` messages of a family, encoded into one plaintext. */
export const plaintextSample = <M>(
  message: fc.Arbitrary<M>,
  encode: (message: M) => Uint8Array,
  family: MessageFamily,
  max = 5,
): fc.Arbitrary<{ readonly messages: ReadonlyArray<M>; readonly sample: Sample }> =>
  fc
    .array(message, { minLength: 1, maxLength: max })
    .map((messages) => ({ messages, sample: messagesSample(messages.map(encode), family) }))

export const clientPlaintext = (name?: fc.Arbitrary<string>, max?: number) =>
  plaintextSample(clientMessage(name), encodeClientMessage, "client", max)
export const serverPlaintext = (name?: fc.Arbitrary<string>, max?: number) =>
  plaintextSample(serverMessage(name), encodeServerMessage, "server", max)
export const handshakePlaintext = (max?: number) =>
  plaintextSample(handshakeMessage, encodeHandshakeMessage, "handshake", max)

/** Genuine ML-KEM-768 encapsulation keys (random bytes would almost never pass the modulus check). */
export const kemEncapsulationKeys: ReadonlyArray<Uint8Array> = [0, 1, 2].map(
  (i) => mlKemKeyPair(seededRandom(`fuzz kem ${i}`)).encapsulationKey,
)

/** A valid CLIENT_HELLO body (1,257 bytes, with a genuine ML-KEM key). */
export const clientHelloSample: fc.Arbitrary<Sample> = fc
  .record({
    nonce: bytes(32),
    ephemeralKey: bytes(32),
    kemEncapsulationKey: fc.constantFrom(...kemEncapsulationKeys),
  })
  .map((h) => ({ bytes: encodeClientHello(h), lengthFields: [] }))

/** A valid SERVER_HELLO body (1,154 bytes). */
export const serverHelloSample: fc.Arbitrary<Sample> = fc
  .record({ nonce: bytes(32), ephemeralKey: bytes(32), kemCiphertext: bytes(1088) })
  .map((h) => ({ bytes: encodeServerHello(h), lengthFields: [] }))

/** A valid ALERT body. */
export const alertSample: fc.Arbitrary<Sample> = fc
  .record({ code: errorCode, text: reasonText })
  .map((alert) => ({ bytes: encodeAlert(alert), lengthFields: [{ offset: 3, width: 1 }] }))

/** A well-formed RECORD body (header valid, ciphertext ‖ tag random). */
export const recordBodySample: fc.Arbitrary<Sample> = fc
  .record({
    direction: fc.constantFrom(Direction.ClientToServer, Direction.ServerToClient),
    counter: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    sealed: fc.uint8Array({ minLength: 16, maxLength: 200 }),
  })
  .map(({ direction, counter, sealed }) => {
    const body = new Uint8Array(11 + sealed.length)
    body[0] = FrameType.Record
    body[1] = PROTOCOL_VERSION
    body[2] = direction
    new DataView(body.buffer).setBigUint64(3, counter)
    body.set(sealed, 11)
    return { bytes: body, lengthFields: [] }
  })

/** `u32 length ‖ body` with the length as the first length field (shifting the body's fields). */
export const framed = (sample: Sample): Sample => {
  const frame = new Uint8Array(4 + sample.bytes.length)
  new DataView(frame.buffer).setUint32(0, sample.bytes.length)
  frame.set(sample.bytes, 4)
  return {
    bytes: frame,
    lengthFields: [
      { offset: 0, width: 4 },
      ...sample.lengthFields.map((f) => ({ offset: f.offset + 4, width: f.width })),
    ],
  }
}

/** Declared frame lengths on and around the limits of §2.1 and the hello sizes of §3. */
export const edgeFrameLength = fc.constantFrom(
  ...[0, 1, 2, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff],
  ...[SERVER_HELLO_BYTES, CLIENT_HELLO_BYTES, MAX_FRAME_BODY].flatMap((n) => [n - 1, n, n + 1]),
)

/** A v1 (original C++) client's first frame: `00 01 00 00` then anything. */
export const legacyFirstBody: fc.Arbitrary<Uint8Array> = fc
  .uint8Array({ maxLength: 300 })
  .map((rest) => Uint8Array.from([...LEGACY_V1_PREFIX, ...rest]))

/** Splits `bytes` at the cut points (each reduced modulo the length), in order. */
export const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Uint8Array[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}
