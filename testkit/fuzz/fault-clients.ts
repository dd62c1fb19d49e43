/**
 * Client faults against an in-process server (under the attack harness, the legitimate pair
 * chatting throughout): a client killed — socket destroyed, or reset — at every step of login, of
 * a chat request (after RTT, ACCEPT, CC_SESSION_ESTABLISHMENT, as requester and as accepter), and
 * in the middle of a burst of chat messages (sending and receiving). After each: the server
 * noticed at once (well before any timeout), the survivor was told (NOTIFY), a fresh LIST shows
 * no ghost, and what a receiver got is an in-order prefix of what was sent. Test-only.
 */
import type { ClientLink } from "../../src/client/link.ts"
import {
  KEM_CIPHERTEXT_BYTES,
  KEM_ENCAPSULATION_KEY_BYTES,
  MIN_ENVELOPE_BYTES,
} from "../../src/protocol/constants.ts"
import { type ClientMessage, NotifyReason, type ServerMessage } from "../../src/protocol/index.ts"
import { login } from "../chat.ts"
import { type AttackContext, type AttackReport, runAttack } from "./attack-harness.ts"
import { RawClient, type RawClientOptions, rawLogin } from "./raw-client.ts"
import { waitUntil } from "./runner.ts"

export type KillMode = "destroy" | "reset"
const MODES: ReadonlyArray<KillMode> = ["destroy", "reset"]
const LOGIN_STEPS = ["connected", "hello-sent", "server-auth", "client-auth-sent", "logged-in"] as const
const REQUEST_STEPS = ["rtt", "accept", "ccse"] as const
/** The server must notice a dead client long before its (raised) handshake timeout of 10 s. */
const NOTICE_MS = 4_000

const fail = (what: string): never => {
  throw new Error(what)
}

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill)
const rtt = (to: string): ClientMessage => ({
  type: "Rtt",
  to,
  nonce: bytes(32, 1),
  ephemeralKey: bytes(32, 9),
  kemKey: bytes(KEM_ENCAPSULATION_KEY_BYTES, 7),
})
const accept = (requester: string): ClientMessage => ({
  type: "Accept",
  requester,
  nonce: bytes(32, 2),
  ephemeralKey: bytes(32, 9),
  kemCiphertext: bytes(KEM_CIPHERTEXT_BYTES, 8),
  signature: bytes(64, 3),
  confirmation: bytes(32, 4),
})
const ccse = (accepter: string): ClientMessage => ({
  type: "CcSessionEstablishment",
  accepter,
  signature: bytes(64, 5),
  confirmation: bytes(32, 6),
})

const victimOptions = (context: AttackContext): RawClientOptions => ({
  port: context.server.port,
  pki: context.server.pki,
  identity: { name: "mallory", key: context.server.users.get("mallory")! },
})

/** Connections back to `open` promptly, and a fresh login's LIST shows exactly `available`. */
const expectSettled = async (context: AttackContext, open: number, available: ReadonlyArray<string>) => {
  const { server } = context
  await waitUntil(
    () => server.server.connectionCount() === open,
    "the server noticed the dead client",
    NOTICE_MS,
  )
  const carol = await login(server, "carol")
  const names = carol.welcome.names
  carol.close({ quit: true })
  await carol.closed
  if (names.join() !== [...available].sort().join())
    fail(`LIST shows ${names.join(", ")}; expected ${available.join(", ")}`)
  await waitUntil(() => server.server.connectionCount() === open, "the LIST client left", NOTICE_MS)
}

const killDuringLogin = async (
  context: AttackContext,
  step: (typeof LOGIN_STEPS)[number],
  mode: KillMode,
) => {
  const victim = await RawClient.connect(victimOptions(context))
  const reached = LOGIN_STEPS.indexOf(step)
  if (reached >= 1) victim.sendHello()
  if (reached >= 2) await victim.awaitServerAuth()
  if (reached >= 3) victim.sendClientAuth()
  if (reached >= 4) await victim.awaitWelcome()
  victim.kill(mode)
  await expectSettled(context, context.baseline, [])
}

/** Takes the survivor's messages in order until one matches `last`. */
const collectUntil = async (
  link: ClientLink,
  last: (m: ServerMessage) => boolean,
): Promise<ServerMessage[]> => {
  const taken: ServerMessage[] = []
  for (;;) {
    const message = await link.next((m) => m.type === "Message" || last(m), 5_000)
    taken.push(message)
    if (last(message)) return taken
  }
}

const toldOfVictim = (m: ServerMessage): boolean =>
  (m.type === "Notify" && m.peer === "mallory") || (m.type === "UserNotFound" && m.user === "mallory")

/** Runs the request (victim as requester or accepter) up to `step` with dummy key material. */
const requestUpTo = async (
  victim: RawClient,
  eve: ClientLink,
  step: (typeof REQUEST_STEPS)[number],
  role: string,
) => {
  const reached = REQUEST_STEPS.indexOf(step)
  const isType = (type: ServerMessage["type"]) => (m: ServerMessage) => m.type === type
  if (role === "requester") {
    victim.send(rtt("eve"))
    await eve.next(isType("Rtt"))
    if (reached >= 1) eve.send(accept("mallory"))
    if (reached >= 1) await victim.next(isType("Accept"))
    if (reached >= 2) victim.send(ccse("eve"))
    if (reached >= 2) await eve.next(isType("CcSessionEstablishment"))
  } else {
    eve.send(rtt("mallory"))
    await victim.next(isType("Rtt"))
    if (reached >= 1) victim.send(accept("eve"))
    if (reached >= 1) await eve.next(isType("Accept"))
    if (reached >= 2) eve.send(ccse("mallory"))
    if (reached >= 2) await victim.next(isType("CcSessionEstablishment"))
  }
}

const killDuringRequest = async (
  context: AttackContext,
  step: (typeof REQUEST_STEPS)[number],
  role: "requester" | "accepter",
  mode: KillMode,
) => {
  const [victim, eve] = await Promise.all([rawLogin(victimOptions(context)), login(context.server, "eve")])
  await requestUpTo(victim, eve, step, role)
  victim.kill(mode)
  const [told] = await collectUntil(eve, toldOfVictim)
  const accepterKilledAtRtt = role === "accepter" && step === "rtt"
  if (told?.type === "Notify" ? told.reason !== NotifyReason.Disconnected : !accepterKilledAtRtt) {
    fail(`eve was told ${JSON.stringify(told)}`)
  }
  await expectSettled(context, context.baseline + 1, ["eve"])
  eve.close({ quit: true })
  await eve.closed
}

/** A chat with dummy key material: the server relays envelopes it cannot read anyway. */
const chatting = async (context: AttackContext): Promise<[RawClient, ClientLink]> => {
  const [victim, eve] = await Promise.all([rawLogin(victimOptions(context)), login(context.server, "eve")])
  await requestUpTo(victim, eve, "ccse", "requester")
  return [victim, eve]
}

const envelope = (sequence: number): Uint8Array => {
  const bytes = new Uint8Array(MIN_ENVELOPE_BYTES)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(sequence))
  return bytes
}

/** The envelopes' sequence numbers must be 0, 1, 2, … : nothing lost or reordered before the fault. */
const checkPrefix = (envelopes: ReadonlyArray<Uint8Array>, what: string): number => {
  envelopes.forEach((e, i) => {
    const sequence = Number(new DataView(e.buffer, e.byteOffset).getBigUint64(0))
    if (sequence !== i) fail(`${what}: message ${i} carries sequence ${sequence}`)
  })
  return envelopes.length
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The victim sends a burst and dies after `killAfter` messages; eve gets an in-order prefix, then NOTIFY. */
const killWhileSending = async (
  context: AttackContext,
  killAfter: number,
  mode: KillMode,
): Promise<number> => {
  const [victim, eve] = await chatting(context)
  for (let i = 0; i < killAfter; i++) {
    victim.send({ type: "Message", envelope: envelope(i) })
    if (i % 8 === 7) await tick()
  }
  victim.kill(mode)
  const taken = await collectUntil(eve, toldOfVictim)
  const got = checkPrefix(
    taken.flatMap((m) => (m.type === "Message" ? [m.envelope] : [])),
    "eve",
  )
  if (taken.at(-1)?.type !== "Notify") fail("eve was not told her peer left")
  await expectSettled(context, context.baseline + 1, ["eve"])
  eve.close({ quit: true })
  await eve.closed
  return got
}

/** Eve sends a burst; the victim dies after receiving `killAfter`; it got an in-order prefix, eve gets NOTIFY. */
const killWhileReceiving = async (
  context: AttackContext,
  killAfter: number,
  mode: KillMode,
): Promise<number> => {
  const [victim, eve] = await chatting(context)
  const burst = killAfter * 4
  const received = () => victim.messages.filter((m) => m.type === "Message").length
  const sending = (async () => {
    for (let i = 0; i < burst && !victim.isClosed; i++) {
      eve.send({ type: "Message", envelope: envelope(i) })
      if (i % 8 === 7) await tick()
    }
  })()
  await victim.until(() => received() >= killAfter, "the victim received part of the burst")
  victim.kill(mode)
  await sending
  const got = checkPrefix(
    victim.messages.flatMap((m) => (m.type === "Message" ? [m.envelope] : [])),
    "victim",
  )
  await collectUntil(eve, (m) => m.type === "Notify" && m.peer === "mallory")
  await expectSettled(context, context.baseline + 1, ["eve"])
  eve.close({ quit: true })
  await eve.closed
  return got
}

/** Every kill point, `rounds` times over, both kill modes. */
export const clientFaults = (rounds: number): Promise<AttackReport> =>
  runAttack(
    "client-faults",
    0,
    async (context) => {
      let cases = 0
      let relayed = 0
      for (let round = 0; round < rounds; round++) {
        for (const mode of MODES) {
          for (const step of LOGIN_STEPS) await killDuringLogin(context, step, mode)
          for (const step of REQUEST_STEPS) {
            for (const role of ["requester", "accepter"] as const)
              await killDuringRequest(context, step, role, mode)
          }
          relayed += await killWhileSending(context, 20 + round * 37, mode)
          relayed += await killWhileReceiving(context, 10 + round * 23, mode)
          cases += LOGIN_STEPS.length + REQUEST_STEPS.length * 2 + 2
        }
      }
      return {
        cases,
        rejected: 0,
        survived: cases,
        notes: [
          `${cases} kills (login ×5, request ×6, mid-burst ×2; FIN and RST); ${relayed} burst messages checked in order`,
        ],
      }
    },
    { limits: { handshakeTimeoutMs: 10_000 } },
  )
