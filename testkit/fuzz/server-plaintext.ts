/**
 * Fuzz target (b): the server after login receives validly sealed records of arbitrary plaintext
 * (valid message sequences with names that matter, mutated ones, random bytes, random framing).
 * When the plaintext does not decode, the server answers exactly one fatal MALFORMED and closes;
 * when it does, it handles every message — a PONG for each PING in order, only non-fatal
 * ILLEGAL_STATE / WRONG_PEER errors — and stays up (or closes quietly after QUIT / ERROR).
 * docs/protocol.md §6, §7.
 */
import { Result } from "effect"
import fc from "fast-check"
import {
  type ClientMessage,
  decodeClientMessages,
  ErrorCode,
  type ServerMessage,
} from "../../src/protocol/index.ts"
import { clientPlaintext, validName } from "./arbitraries.ts"
import { applyMutations, mutationsArbitrary } from "./mutate.ts"
import { rawLogin } from "./raw-client.ts"
import type { FuzzTarget } from "./runner.ts"
import type { ServerFuzzEnv } from "./server-env.ts"

const failWith = (what: string): never => {
  throw new Error(what)
}

const hostileName = fc.oneof(fc.constantFrom("alice", "bob", "mallory", "carol", "nobody"), validName)

const framedRandom = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 80 })), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) =>
    Uint8Array.from(
      parts.flatMap(([opcode, payload]) => [opcode, payload.length >> 8, payload.length & 0xff, ...payload]),
    ),
  )

const hostilePlaintext: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    { weight: 3, arbitrary: clientPlaintext(hostileName, 6).map(({ sample }) => sample.bytes) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(clientPlaintext(hostileName, 6), clientPlaintext(hostileName, 2), mutationsArbitrary())
        .map(([{ sample }, donor, mutations]) => applyMutations(sample, mutations, donor.sample.bytes)),
    },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }) },
    { weight: 2, arbitrary: framedRandom },
  )
  .filter((bytes) => bytes.length >= 1)

const ALLOWED = new Set<ServerMessage["type"]>(["Pong", "List", "UserNotFound", "Error"])

/** Every PING before any QUIT/ERROR answered in order; only expected kinds of answers, none fatal. */
const checkHandled = (processed: ReadonlyArray<ClientMessage>, after: ReadonlyArray<ServerMessage>): void => {
  for (const message of after) {
    if (!ALLOWED.has(message.type)) failWith(`unexpected ${message.type} from the server`)
    if (
      message.type === "Error" &&
      (message.fatal || ![ErrorCode.IllegalState, ErrorCode.WrongPeer].includes(message.code as 2 | 3))
    ) {
      failWith(`ERROR ${message.code} (fatal ${message.fatal}) for a record that decodes`)
    }
  }
  const pings = processed.flatMap((m) => (m.type === "Ping" ? [m.value] : []))
  const pongs = after.flatMap((m) => (m.type === "Pong" ? [m.value] : []))
  if (pings.some((value, i) => pongs[i] !== value)) failWith(`PINGs ${pings} answered with PONGs ${pongs}`)
}

const MARKER = 0xfeed_face_cafe_beefn

/** Target (b): validly sealed records of arbitrary plaintext. */
export const hostilePlaintextTarget = (env: ServerFuzzEnv): FuzzTarget => ({
  name: "server/hostile-plaintext",
  kind: "tcp",
  property: (tally) =>
    fc.asyncProperty(hostilePlaintext, async (plaintext) => {
      tally.inputs()
      const client = await rawLogin(env.mallory)
      const loggedIn = client.messages.length
      client.sendPlaintext(plaintext)
      const decoded = decodeClientMessages(plaintext)
      if (Result.isFailure(decoded)) {
        tally.rejected()
        await client.awaitServerClose(5_000)
        const after = client.messages.slice(loggedIn)
        const only = after[0]
        if (
          after.length !== 1 ||
          only?.type !== "Error" ||
          !only.fatal ||
          only.code !== ErrorCode.Malformed
        ) {
          failWith(`expected exactly one fatal MALFORMED, got ${JSON.stringify(after.map((m) => m.type))}`)
        }
      } else {
        const quit = decoded.success.findIndex((m) => m.type === "Quit" || m.type === "Error")
        const processed = quit < 0 ? decoded.success : decoded.success.slice(0, quit)
        if (quit >= 0) await client.awaitServerClose(5_000)
        else {
          client.send({ type: "Ping", value: MARKER })
          await client.next((m) => m.type === "Pong" && m.value === MARKER)
        }
        const after = client.messages
          .slice(loggedIn)
          .filter((m) => !(m.type === "Pong" && m.value === MARKER))
        checkHandled(processed, after)
      }
      client.kill()
      if (client.breaches.length > 0) failWith(`the server sent a bad record: ${client.breaches[0]}`)
      await env.healthy()
      return true
    }),
})
