/**
 * Fuzz target (a): the server after login receives hostile records from a logged-in raw client —
 * random frames, forged and mutated records, replays, gaps, reflections, oversize and empty
 * frames, plaintext frame types, truncated streams. It must close with RECORD_REJECTED, MALFORMED
 * or FRAME_TOO_LARGE (or silently, for a stream that just stops) and never act on the record: the
 * bait it carries (a PING and a LIST) goes unanswered. docs/protocol.md §2.1, §5.2.
 */
import fc from "fast-check"
import {
  ErrorCode,
  encodeAlert,
  encodeClientHello,
  encodeClientMessage,
  encodeFrame,
  encodeServerHello,
  FrameType,
  MAX_FRAME_BODY,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import { recordBodySample } from "./arbitraries.ts"
import { applyMutations, type Mutation, mutationsArbitrary } from "./mutate.ts"
import { type RawClient, rawLogin } from "./raw-client.ts"
import type { FuzzTarget } from "./runner.ts"
import type { ServerFuzzEnv } from "./server-env.ts"

const failWith = (what: string): never => {
  throw new Error(what)
}

type RecordAttack =
  | { readonly kind: "random"; readonly body: Uint8Array }
  | { readonly kind: "forged"; readonly body: Uint8Array }
  | { readonly kind: "mutated"; readonly mutations: ReadonlyArray<Mutation> }
  | { readonly kind: "replay" }
  | { readonly kind: "gap"; readonly skip: number }
  | { readonly kind: "reflect" }
  | { readonly kind: "oversize"; readonly length: number; readonly rest: Uint8Array }
  | { readonly kind: "empty" }
  | { readonly kind: "plain"; readonly which: "client-hello" | "server-hello" | "alert" }
  | { readonly kind: "truncated"; readonly keep: number }

const recordAttack: fc.Arbitrary<RecordAttack> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("random"),
      body: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    }),
  },
  {
    weight: 2,
    arbitrary: recordBodySample.map((sample) => ({ kind: "forged" as const, body: sample.bytes })),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("mutated"), mutations: mutationsArbitrary(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "replay" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("gap"), skip: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reflect" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("oversize"),
      length: fc.oneof(
        fc.constantFrom(MAX_FRAME_BODY + 1, 0xffffffff),
        fc.integer({ min: MAX_FRAME_BODY + 1, max: 0xffffffff }),
      ),
      rest: fc.uint8Array({ maxLength: 64 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "empty" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("plain"),
      which: fc.constantFrom("client-hello", "server-hello", "alert"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncated"), keep: fc.nat() }) },
)

/** What the server may do: close with one ERROR of `codes` (or silently), and the bait's fate. */
interface Verdict {
  readonly codes: ReadonlyArray<number>
  readonly silentOk: boolean
  /** The bait (PING value, LIST) must not be answered, must be, or may be. */
  readonly bait: "forbidden" | "required" | "optional"
  /** The record is genuine: the connection stays up. */
  readonly stays?: boolean
}

const REJECTED = [ErrorCode.RecordRejected, ErrorCode.Malformed, ErrorCode.FrameTooLarge]

const header = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}

const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean =>
  bytes.length >= prefix.length &&
  Buffer.compare(Buffer.from(bytes.subarray(0, prefix.length)), Buffer.from(prefix)) === 0

const plainFrame = (which: "client-hello" | "server-hello" | "alert"): Uint8Array => {
  const hello = { nonce: new Uint8Array(32).fill(7), ephemeralKey: new Uint8Array(32).fill(9) }
  if (which === "client-hello")
    return encodeFrame(encodeClientHello({ ...hello, kemEncapsulationKey: new Uint8Array(1184).fill(5) }))
  if (which === "server-hello")
    return encodeFrame(encodeServerHello({ ...hello, kemCiphertext: new Uint8Array(1088).fill(3) }))
  return encodeFrame(encodeAlert({ code: ErrorCode.Timeout, text: "bye" }))
}

/** The bytes of an attack (sealing the bait where it needs a genuine record) and the verdict. */
const prepare = (client: RawClient, attack: RecordAttack, bait: Uint8Array): [Uint8Array, Verdict] => {
  const forbidden = (codes: ReadonlyArray<number>): Verdict => ({ codes, silentOk: false, bait: "forbidden" })
  switch (attack.kind) {
    case "random":
      return [encodeFrame(attack.body), forbidden([ErrorCode.Malformed, ErrorCode.RecordRejected])]
    case "forged":
      return [encodeFrame(attack.body), forbidden([ErrorCode.RecordRejected])]
    case "replay": {
      const frame = client.seal(bait)
      return [
        Buffer.concat([frame, frame]),
        { codes: [ErrorCode.RecordRejected], silentOk: false, bait: "required" },
      ]
    }
    case "gap": {
      for (let i = 0; i < attack.skip; i++) client.seal(bait)
      return [client.seal(bait), forbidden([ErrorCode.RecordRejected])]
    }
    case "reflect": {
      const record = client.frames.findLast((frame) => frame[0] === FrameType.Record)!
      return [encodeFrame(record), forbidden([ErrorCode.RecordRejected])]
    }
    case "oversize":
      return [Buffer.concat([header(attack.length), attack.rest]), forbidden([ErrorCode.FrameTooLarge])]
    case "empty":
      return [header(0), forbidden([ErrorCode.Malformed])]
    case "plain":
      return [plainFrame(attack.which), forbidden([ErrorCode.Malformed])]
    case "truncated": {
      const frame = client.seal(bait)
      return [frame.subarray(0, attack.keep % frame.length), { codes: [], silentOk: true, bait: "forbidden" }]
    }
    case "mutated": {
      const frame = client.seal(bait)
      const bytes = applyMutations(
        { bytes: frame, lengthFields: [{ offset: 0, width: 4 }] },
        attack.mutations,
        frame,
      )
      if (bytes.length === frame.length && startsWith(bytes, frame))
        return [bytes, { codes: [], silentOk: true, bait: "required", stays: true }]
      if (startsWith(bytes, frame)) return [bytes, { codes: REJECTED, silentOk: true, bait: "optional" }]
      return [bytes, { codes: REJECTED, silentOk: true, bait: "forbidden" }]
    }
  }
}

const checkVerdict = (after: ReadonlyArray<ServerMessage>, verdict: Verdict, value: bigint): void => {
  const pong = after.some((m) => m.type === "Pong" && m.value === value)
  const list = after.some((m) => m.type === "List")
  if (verdict.bait === "forbidden" && (pong || list)) failWith("the server acted on a rejected record")
  if (verdict.bait === "required" && !pong) failWith("the server did not act on a genuine record")
  const errors = after.filter((m) => m.type === "Error")
  if (errors.length === 0) {
    if (!verdict.silentOk) failWith(`closed without an ERROR; expected one of ${verdict.codes}`)
    return
  }
  const last = after.at(-1)!
  if (errors.length > 1 || last.type !== "Error" || !last.fatal || !verdict.codes.includes(last.code)) {
    failWith(`the server's errors ${JSON.stringify(errors)} do not match codes ${verdict.codes}`)
  }
}

/** Target (a): hostile records after login. */
export const hostileRecordTarget = (env: ServerFuzzEnv): FuzzTarget => ({
  name: "server/hostile-records",
  kind: "tcp",
  property: (tally) =>
    fc.asyncProperty(recordAttack, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), async (attack, value) => {
      tally.inputs()
      const client = await rawLogin(env.mallory)
      const loggedIn = client.messages.length
      const bait = Uint8Array.from(
        Buffer.concat([encodeClientMessage({ type: "Ping", value }), encodeClientMessage({ type: "List" })]),
      )
      const [bytes, verdict] = prepare(client, attack, bait)
      client.write(bytes)
      if (verdict.stays === true) await client.next((m) => m.type === "Pong" && m.value === value)
      else {
        await client.awaitServerClose(100)
        tally.rejected()
      }
      client.kill()
      if (client.breaches.length > 0) failWith(`the server sent a bad record: ${client.breaches[0]}`)
      checkVerdict(client.messages.slice(loggedIn), verdict, value)
      await env.healthy()
      return true
    }),
})
