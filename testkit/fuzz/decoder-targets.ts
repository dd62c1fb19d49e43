/**
 * Fuzz targets over the pure decoders: every message codec, the hellos, ALERT and the record
 * header on arbitrary and mutated encodings, and the record opener on mutated sealed records
 * (the frame decoder's targets are in frame-targets.ts). Each checks totality (a Result, never a
 * throw), typed errors, canonical decoding and round trips. Test-only; no I/O.
 */
import { Result } from "effect"
import fc from "fast-check"
import { makeRecordChannel } from "../../src/crypto/record.ts"
import { SecretBytes } from "../../src/crypto/secret.ts"
import {
  type ClientMessage,
  decodeAlert,
  decodeClientHello,
  decodeClientMessages,
  decodeHandshakeMessages,
  decodeServerHello,
  decodeServerMessages,
  encodeAlert,
  encodeClientHello,
  encodeClientMessage,
  encodeHandshakeMessage,
  encodeServerHello,
  encodeServerMessage,
  type HandshakeMessage,
  MAX_FRAME_BODY,
  PROTOCOL_VERSION,
  type ProtocolError,
  parseRecordHeader,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import {
  alertSample,
  clientHelloSample,
  clientPlaintext,
  handshakePlaintext,
  recordBodySample,
  serverHelloSample,
  serverPlaintext,
} from "./arbitraries.ts"
import { check, checkTyped, sameValue } from "./checks.ts"
import { frameBytes, frameChunks } from "./frame-targets.ts"
import { applyMutations, mutationsArbitrary, type Sample, sameBytes } from "./mutate.ts"
import type { FuzzTarget } from "./runner.ts"

interface Family<M> {
  readonly name: string
  readonly plaintext: fc.Arbitrary<{ readonly messages: ReadonlyArray<M>; readonly sample: Sample }>
  readonly encode: (message: M) => Uint8Array
  readonly decode: (plaintext: Uint8Array) => Result.Result<ReadonlyArray<M>, ProtocolError>
}

/** Random framed messages: an opcode, a plausible length and a payload. */
const framedRandom = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 160 }), fc.nat(3))
  .map(([opcode, payload, skew]) => {
    const length = Math.max(0, payload.length - skew + 1)
    return Uint8Array.from([opcode, length >> 8, length & 0xff, ...payload])
  })

const codecTarget = <M>(family: Family<M>): FuzzTarget => ({
  name: `codec/${family.name}`,
  kind: "decoder",
  property: (tally) =>
    fc.property(
      family.plaintext,
      family.plaintext,
      mutationsArbitrary(),
      fc.oneof(fc.uint8Array({ maxLength: 300 }), framedRandom),
      ({ messages, sample }, donor, mutations, random) => {
        tally.inputs(3)
        const valid = family.decode(sample.bytes)
        check(Result.isSuccess(valid), "a valid encoding did not decode")
        check(sameValue(Result.getOrThrow(valid), messages), "a valid encoding did not round-trip")
        for (const input of [applyMutations(sample, mutations, donor.sample.bytes), random]) {
          const result = family.decode(input)
          checkTyped(result, "decode")
          if (Result.isFailure(result)) tally.rejected()
          else {
            const again = Uint8Array.from(Buffer.concat(result.success.map(family.encode)))
            check(sameBytes(again, input), "decoded bytes are not canonical")
          }
        }
        return true
      },
    ),
})

const clientFamily: Family<ClientMessage> = {
  name: "client-messages",
  plaintext: clientPlaintext(),
  encode: encodeClientMessage,
  decode: decodeClientMessages,
}
const serverFamily: Family<ServerMessage> = {
  name: "server-messages",
  plaintext: serverPlaintext(),
  encode: encodeServerMessage,
  decode: decodeServerMessages,
}
const handshakeFamily: Family<HandshakeMessage> = {
  name: "handshake-messages",
  plaintext: handshakePlaintext(),
  encode: encodeHandshakeMessage,
  decode: decodeHandshakeMessages,
}

// ---- plaintext frames and the record header ------------------------------------------------

/** Any first-frame-like body: another kind's valid encoding, mutated, or random bytes. */
const anyBody = fc.oneof(clientHelloSample, serverHelloSample, alertSample, recordBodySample)

interface Plain<T> {
  readonly name: string
  readonly sample: fc.Arbitrary<Sample>
  readonly decode: (body: Uint8Array) => Result.Result<T, ProtocolError>
  /** Re-encodes a decoded value (canonical check), or checks its fields against the body. */
  readonly canonical: (value: T, body: Uint8Array) => boolean
}

const plainTarget = <T>(plain: Plain<T>): FuzzTarget => ({
  name: `codec/${plain.name}`,
  kind: "decoder",
  property: (tally) =>
    fc.property(
      plain.sample,
      anyBody,
      mutationsArbitrary(),
      fc.uint8Array({ maxLength: 200 }),
      (sample, other, mutations, random) => {
        tally.inputs(4)
        const valid = plain.decode(sample.bytes)
        check(Result.isSuccess(valid), "a valid encoding did not decode")
        check(plain.canonical(Result.getOrThrow(valid), sample.bytes), "a valid encoding did not round-trip")
        const inputs = [
          applyMutations(sample, mutations, other.bytes),
          applyMutations(other, mutations),
          random,
        ]
        for (const input of inputs) {
          const result = plain.decode(input)
          checkTyped(result, "decode")
          if (Result.isFailure(result)) tally.rejected()
          else check(plain.canonical(result.success, input), "not canonical")
        }
        return true
      },
    ),
})

const hellos = [
  plainTarget({
    name: "client-hello",
    sample: clientHelloSample,
    decode: decodeClientHello,
    canonical: (hello, body) => sameBytes(encodeClientHello(hello), body),
  }),
  plainTarget({
    name: "server-hello",
    sample: serverHelloSample,
    decode: decodeServerHello,
    canonical: (hello, body) => sameBytes(encodeServerHello(hello), body),
  }),
  plainTarget({
    name: "alert",
    sample: alertSample,
    decode: decodeAlert,
    canonical: (alert, body) => sameBytes(encodeAlert(alert), body),
  }),
  plainTarget({
    name: "record-header",
    sample: recordBodySample,
    decode: parseRecordHeader,
    canonical: (header, body) =>
      body.length >= 27 &&
      body.length <= MAX_FRAME_BODY &&
      body[0] === 0x17 &&
      header.version === PROTOCOL_VERSION &&
      header.direction === body[2] &&
      header.counter === new DataView(body.buffer, body.byteOffset).getBigUint64(3) &&
      sameBytes(header.header, body.subarray(0, 11)) &&
      sameBytes(header.ciphertext, body.subarray(11)),
  }),
]

// ---- record opener -------------------------------------------------------------------------

const keys = (seed: number) => ({
  key: new SecretBytes(new Uint8Array(32).fill(seed)),
  iv: new SecretBytes(new Uint8Array(12).fill(seed ^ 0x5a)),
})

/** A sealed record, mutated: it opens only when the mutation left it unchanged. */
const recordOpen: FuzzTarget = {
  name: "record/open-mutated",
  kind: "decoder",
  property: (tally) =>
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.nat(3),
      mutationsArbitrary(3),
      fc.boolean(),
      (plaintext, skip, mutations, reflect) => {
        tally.inputs()
        const [c2s, s2c] = [keys(1), keys(2)]
        const client = makeRecordChannel("client", c2s, s2c)
        const server = makeRecordChannel("server", c2s, s2c)
        for (let i = 0; i < skip; i++) {
          const earlier = Result.getOrThrow(client.sealer.seal(plaintext)).subarray(4)
          check(Result.isSuccess(server.opener.open(earlier)), "an earlier record did not open")
        }
        const sender = reflect ? server.sealer : client.sealer
        const body = Result.getOrThrow(sender.seal(plaintext)).subarray(4)
        const mutated = applyMutations({ bytes: body, lengthFields: [] }, mutations, body)
        const opened = server.opener.open(mutated)
        if (Result.isFailure(opened)) tally.rejected()
        else {
          check(!reflect && sameBytes(mutated, body), "a forged, reflected or altered record opened")
          check(sameBytes(opened.success, plaintext), "a record opened to other bytes")
        }
        return true
      },
    ),
}

/** Every decoder target, in the order they are reported. */
export const decoderTargets: ReadonlyArray<FuzzTarget> = [
  frameChunks,
  frameBytes,
  codecTarget(clientFamily),
  codecTarget(serverFamily),
  codecTarget(handshakeFamily),
  ...hellos,
  recordOpen,
]
