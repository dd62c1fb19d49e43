/**
 * Fuzz target: the server before login. Batches of raw TCP clients send arbitrary or mutated
 * first frames (hello variants, low-order keys, the legacy v1 prefix, edge and oversize lengths,
 * other frame types, garbage), split anywhere, then half-close, linger or reset. The server must
 * answer exactly as an oracle built from the pure handshake step predicts — SERVER_HELLO and its
 * authentication record, one ALERT with the right code, or silence — and close; after every batch
 * the connections return to the baseline and a fresh login works. docs/protocol.md §2, §3.1.
 */
import { connect } from "node:net"
import { Result } from "effect"
import fc from "fast-check"
import { serverReceiveClientHello } from "../../src/crypto/handshake-server.ts"
import {
  decodeAlert,
  decodeServerHello,
  ErrorCode,
  encodeClientHello,
  encodeFrame,
  FrameDecoder,
  FrameType,
  MAX_FRAME_BODY,
} from "../../src/protocol/index.ts"
import type { TestPki } from "../pki.ts"
import { seededRandom } from "../random.ts"
import {
  alertSample,
  clientHelloSample,
  edgeFrameLength,
  framed,
  kemEncapsulationKeys,
  legacyFirstBody,
  recordBodySample,
  serverHelloSample,
  splitAt,
} from "./arbitraries.ts"
import { applyMutations, mutationsArbitrary } from "./mutate.ts"
import type { FuzzTarget } from "./runner.ts"
import type { ServerFuzzEnv } from "./server-env.ts"

/** X25519 public keys of small order (libsodium's blocklist): the shared secret is all zeros. */
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((hex) => Uint8Array.from(Buffer.from(hex, "hex")))

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(Buffer.concat(parts))

const header = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}

const validHello = clientHelloSample.map((sample) => framed(sample).bytes)
const otherBody = fc.oneof(serverHelloSample, alertSample, recordBodySample)

/** The bytes a hostile first contact sends. */
const firstBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 2, arbitrary: validHello },
  {
    weight: 5,
    arbitrary: fc
      .tuple(clientHelloSample, otherBody, mutationsArbitrary())
      .map(([hello, other, mutations]) => applyMutations(framed(hello), mutations, framed(other).bytes)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...LOW_ORDER_POINTS), fc.uint8Array({ minLength: 32, maxLength: 32 }))
      .map(([ephemeralKey, nonce]) =>
        encodeFrame(
          encodeClientHello({ nonce, ephemeralKey, kemEncapsulationKey: kemEncapsulationKeys[0]! }),
        ),
      ),
  },
  { weight: 1, arbitrary: legacyFirstBody.map((body) => encodeFrame(body)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(edgeFrameLength, fc.uint8Array({ maxLength: 100 }))
      .map(([length, rest]) => concat(header(length), rest)),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(otherBody, mutationsArbitrary(2), fc.boolean())
      .map(([body, mutations, mutate]) =>
        mutate ? applyMutations(framed(body), mutations) : framed(body).bytes,
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        validHello,
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }),
          otherBody.map((b) => framed(b).bytes),
        ),
      )
      .map(([hello, rest]) => concat(hello, rest)),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 2_000 })
      .map((partial) => concat(header(MAX_FRAME_BODY), Uint8Array.of(FrameType.ClientHello), partial)),
  },
)

export interface FirstContact {
  readonly bytes: Uint8Array
  readonly cuts: ReadonlyArray<number>
  /** After writing: half-close at once, wait 100 ms for a verdict first, or abort with a RST. */
  readonly finish: "end" | "linger" | "reset"
}

export const firstContact: fc.Arbitrary<FirstContact> = fc.record({
  bytes: firstBytes,
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  finish: fc.constantFrom<FirstContact["finish"]>("end", "end", "linger", "reset"),
})

/** What the server may answer: nothing, one ALERT with one of `codes`, or its hello (or an ALERT). */
type Answer =
  | { readonly kind: "silent" }
  | { readonly kind: "alert"; readonly codes: ReadonlyArray<number> }
  | { readonly kind: "hello"; readonly orAlert: ReadonlyArray<number> }

/** The oracle: the pure handshake step decides what the server must answer. */
export const expectedAnswer = (bytes: Uint8Array, pki: TestPki): Answer => {
  if (bytes.length < 4) return { kind: "silent" }
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)
  if (length === 0) return { kind: "alert", codes: [ErrorCode.Malformed] }
  if (length > MAX_FRAME_BODY) return { kind: "alert", codes: [ErrorCode.FrameTooLarge] }
  if (bytes.length < 4 + length) return { kind: "silent" }
  // The first frame is always handled first: a bad header after it, even in the same TCP chunk,
  // only surfaces on the decoder's next push, by which time the server has answered the hello
  // (its alert), or has moved past the hello phase (and closes without an ALERT).
  const hello = serverReceiveClientHello(bytes.subarray(4, 4 + length), pki.server, seededRandom("oracle"))
  if (Result.isFailure(hello)) return { kind: "alert", codes: [hello.failure.code] }
  return { kind: "hello", orAlert: [] }
}

interface Observed {
  readonly frames: ReadonlyArray<Uint8Array>
}

/** One raw connection: writes the chunks, finishes as told, resolves with what came back at close. */
const contact = (port: number, attempt: FirstContact): Promise<Observed> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port })
    const decoder = new FrameDecoder()
    const frames: Uint8Array[] = []
    const deadline = setTimeout(() => {
      socket.destroy()
      reject(new Error("the server did not close the connection within 5 s"))
    }, 5_000)
    socket.on("error", () => {})
    socket.on("data", (chunk: Buffer) => {
      const result = decoder.push(chunk)
      if (Result.isSuccess(result)) frames.push(...result.success.map((frame) => Uint8Array.from(frame)))
      else frames.push(Uint8Array.of(0xff)) // the server sent broken framing: fails the check below
    })
    socket.on("close", () => {
      clearTimeout(deadline)
      resolve({ frames })
    })
    socket.on("connect", () => {
      for (const chunk of splitAt(attempt.bytes, attempt.cuts)) socket.write(chunk)
      if (attempt.finish === "reset") socket.resetAndDestroy()
      else if (attempt.finish === "end") socket.end()
      else setTimeout(() => socket.end(), 100)
    })
  })

const alertCode = (body: Uint8Array | undefined): number | undefined => {
  const alert = body === undefined ? undefined : decodeAlert(body)
  return alert !== undefined && Result.isSuccess(alert) ? alert.success.code : undefined
}

const isHelloAnswer = (frames: ReadonlyArray<Uint8Array>): boolean =>
  frames.length === 2 && Result.isSuccess(decodeServerHello(frames[0]!)) && frames[1]![0] === FrameType.Record

/** Checks the server's answer against the oracle; throws with what differed. */
const checkAnswer = (attempt: FirstContact, seen: Observed, answer: Answer): void => {
  if (attempt.finish === "reset") return // the server may not even have read the bytes
  const code = alertCode(seen.frames[0])
  const oneAlert = (codes: ReadonlyArray<number>) =>
    seen.frames.length === 1 && code !== undefined && codes.includes(code)
  const ok =
    answer.kind === "silent"
      ? seen.frames.length === 0
      : answer.kind === "alert"
        ? oneAlert(answer.codes)
        : isHelloAnswer(seen.frames) || oneAlert(answer.orAlert)
  if (!ok) {
    const got = seen.frames.map((f) => `type 0x${f[0]?.toString(16)} (${f.length} B)`).join(", ")
    throw new Error(`expected ${JSON.stringify(answer)}, got [${got}] alert code ${code}`)
  }
}

/** The target: batches of 1–6 concurrent first contacts, then the health check and a fresh login. */
export const firstContactTarget = (env: ServerFuzzEnv): FuzzTarget => ({
  name: "server/before-login",
  kind: "tcp",
  property: (tally) =>
    fc.asyncProperty(fc.array(firstContact, { minLength: 1, maxLength: 6 }), async (batch) => {
      tally.inputs(batch.length)
      const seen = await Promise.all(batch.map((attempt) => contact(env.server.port, attempt)))
      batch.forEach((attempt, i) => {
        const answer = expectedAnswer(attempt.bytes, env.server.pki)
        checkAnswer(attempt, seen[i]!, answer)
        if (!isHelloAnswer(seen[i]!.frames)) tally.rejected()
      })
      await env.healthy({ freshLogin: true })
      return true
    }),
})
