/**
 * Property tests of the v3 message codecs: round trips, batching order, truncation, canonical
 * encoding (the name fill and LIST padding included), and totality of every decoder on random
 * bytes. Test-only. docs/protocol.md §6, §2.3.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type ClientMessage,
  decodeAlert,
  decodeClientHello,
  decodeClientMessages,
  decodeHandshakeMessages,
  decodeServerHello,
  decodeServerMessages,
  encodeClientMessage,
  encodeHandshakeMessage,
  encodeServerMessage,
  MAX_LIST_NAMES,
  ProtocolError,
  parseRecordHeader,
  type ServerMessage,
  USER_NAME_PATTERN,
} from "../../src/protocol/index.ts"
import {
  clientMessage as clientMessageArbitrary,
  handshakeMessage,
  serverMessage as serverMessageArbitrary,
} from "../../testkit/fuzz/arbitraries.ts"
import { hex, normalise, ok } from "./helpers.ts"

const name = fc.stringMatching(USER_NAME_PATTERN)
// The same message arbitraries the fuzzers use: one definition of "a valid message".
const clientMessage: fc.Arbitrary<ClientMessage> = clientMessageArbitrary(name, 1500)
const serverMessage: fc.Arbitrary<ServerMessage> = serverMessageArbitrary(name, 1500)

interface Family<M> {
  readonly label: string
  readonly arbitrary: fc.Arbitrary<M>
  readonly encode: (message: M) => Uint8Array
  readonly decode: (plaintext: Uint8Array) => Result.Result<ReadonlyArray<M>, ProtocolError>
}

const families = [
  { label: "client", arbitrary: clientMessage, encode: encodeClientMessage, decode: decodeClientMessages },
  { label: "server", arbitrary: serverMessage, encode: encodeServerMessage, decode: decodeServerMessages },
  {
    label: "handshake",
    arbitrary: handshakeMessage,
    encode: encodeHandshakeMessage,
    decode: decodeHandshakeMessages,
  },
] as ReadonlyArray<Family<unknown>>

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(Buffer.concat(parts))

/** A decoder result must be a success or a ProtocolError; a throw fails the test by itself. */
const expectTotal = (result: Result.Result<unknown, unknown>): void => {
  if (Result.isFailure(result)) expect(result.failure).toBeInstanceOf(ProtocolError)
}

describe.each(families)("$label messages", ({ arbitrary, encode, decode }) => {
  it("round-trip through encode and decode", () => {
    fc.assert(
      fc.property(arbitrary, (message) => {
        expect(normalise(ok(decode(encode(message))))).toEqual([normalise(message)])
      }),
    )
  })

  it("decode in order when several share a record", () => {
    fc.assert(
      fc.property(fc.array(arbitrary, { minLength: 1, maxLength: 10 }), (messages) => {
        expect(normalise(ok(decode(concat(messages.map(encode)))))).toEqual(normalise(messages))
      }),
    )
  })

  it("fail with a ProtocolError when truncated at any byte", () => {
    fc.assert(
      fc.property(arbitrary, (message) => {
        const encoded = encode(message)
        for (let length = 0; length < encoded.length; length++) {
          expect(Result.isFailure(decode(encoded.subarray(0, length)))).toBe(true)
          expectTotal(decode(encoded.subarray(0, length)))
        }
      }),
    )
  })

  it("fail when a payload is shortened with a consistent header (except MESSAGE)", () => {
    fc.assert(
      fc.property(arbitrary, fc.nat(), (message, cut) => {
        const encoded = Uint8Array.from(encode(message))
        const payload = encoded.length - 3
        if (payload === 0 || (message as { type: string }).type === "Message") return
        const shorter = encoded.subarray(0, encoded.length - 1 - (cut % payload))
        new DataView(shorter.buffer).setUint16(1, shorter.length - 3)
        expect(Result.isFailure(decode(shorter))).toBe(true)
      }),
    )
  })

  it("accept only canonical bytes: whatever decodes re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(arbitrary, fc.nat(), fc.integer({ min: 0, max: 255 }), (message, at, value) => {
        const mutated = Uint8Array.from(encode(message))
        mutated[at % mutated.length] = value
        const result = decode(mutated)
        if (Result.isSuccess(result)) expect(hex(concat(result.success.map(encode)))).toBe(hex(mutated))
        else expect(result.failure).toBeInstanceOf(ProtocolError)
      }),
    )
  })

  it("never throw on random bytes", () => {
    const framed = fc
      .tuple(fc.integer({ min: 0, max: 30 }), fc.uint8Array({ maxLength: 200 }))
      .map(([opcode, payload]) =>
        Uint8Array.from([opcode, payload.length >> 8, payload.length & 0xff, ...payload]),
      )
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), framed), (plaintext) =>
        expectTotal(decode(plaintext)),
      ),
      { numRuns: 1000 },
    )
  })
})

describe("other decoders are total", () => {
  it("hellos, alerts and record headers never throw on random bytes", () => {
    fc.assert(
      // Long enough to reach the v3 hello sizes (1,154 and 1,257 bytes).
      fc.property(fc.uint8Array({ maxLength: 1_300 }), (body) => {
        for (const decode of [decodeClientHello, decodeServerHello, decodeAlert, parseRecordHeader]) {
          expectTotal(decode(body))
        }
      }),
      { numRuns: 2000 },
    )
  })

  it("a LIST of up to 1,000 names round-trips", () => {
    fc.assert(
      fc.property(fc.array(name, { minLength: MAX_LIST_NAMES - 5, maxLength: MAX_LIST_NAMES }), (names) => {
        const message: ServerMessage = { type: "List", total: names.length, names }
        expect(ok(decodeServerMessages(encodeServerMessage(message)))).toEqual([message])
      }),
      { numRuns: 5 },
    )
  })

  it("sizes do not show name lengths: a LIST's size shows only ceil(count / 16)", () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 40 }), fc.array(name, { maxLength: 40 }), (a, b) => {
        const size = (names: string[]) => encodeServerMessage({ type: "List", total: 5000, names }).length
        const sameClass = Math.ceil(a.length / 16) === Math.ceil(b.length / 16)
        expect(size(a) === size(b)).toBe(sameClass)
        const refuse = (requester: string) => encodeClientMessage({ type: "Refuse", requester }).length
        expect(refuse(a[0] ?? "a")).toBe(refuse(b[0] ?? "a".repeat(32)))
      }),
    )
  })
})
