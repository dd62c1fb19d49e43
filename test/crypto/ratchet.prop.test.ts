/**
 * Property tests of the Double Ratchet (src/crypto/ratchet.ts) over random conversations: any
 * interleaving and any delivery order decrypts; replayed, altered and beyond-window messages are
 * refused with the state unchanged; post-compromise security and forward secrecy against a cloned
 * state. Test-only; seeded randomness per run. docs/protocol.md §8.3.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Random, x25519KeyPair } from "../../src/crypto/primitives.ts"
import {
  initRatchetAccepter,
  initRatchetRequester,
  MAX_SKIP,
  ratchetDecrypt,
  ratchetEncrypt,
} from "../../src/crypto/ratchet.ts"
import { deserialiseRatchet, type RatchetState, serialiseRatchet } from "../../src/crypto/ratchet-state.ts"
import { seededRandom } from "../../testkit/random.ts"

type Who = "A" | "B"
interface Party {
  state: RatchetState
  readonly random: Random
  readonly usedKeys: Uint8Array[]
}
interface InFlight {
  readonly envelope: Uint8Array
  readonly text: string
}
interface Chat {
  readonly ad: Uint8Array
  readonly parties: Record<Who, Party>
  /** Messages on their way *to* each party. */
  readonly inFlight: Record<Who, InFlight[]>
  readonly delivered: Record<Who, InFlight[]>
  count: number
}

const other = (who: Who): Who => (who === "A" ? "B" : "A")

const newChat = (seed: number): Chat => {
  const random = seededRandom(`prop ${seed}`)
  const rootKey = random(32)
  const bobKey = x25519KeyPair(random)
  const aliceRandom = seededRandom(`prop ${seed}/alice`)
  const alice = Result.getOrThrow(initRatchetRequester(rootKey, bobKey.publicKey, aliceRandom))
  return {
    ad: random(32),
    parties: {
      A: { state: alice, random: aliceRandom, usedKeys: [] },
      B: {
        state: initRatchetAccepter(rootKey, bobKey),
        random: seededRandom(`prop ${seed}/bob`),
        usedKeys: [],
      },
    },
    inFlight: { A: [], B: [] },
    delivered: { A: [], B: [] },
    count: 0,
  }
}

const send = (chat: Chat, from: Who): InFlight => {
  const party = chat.parties[from]
  const text = `${from} says ${chat.count++}`
  const envelope = ratchetEncrypt(party.state, Buffer.from(text), chat.ad, (k) =>
    party.usedKeys.push(Uint8Array.from(k)),
  )
  const message = { envelope: Result.getOrThrow(envelope), text }
  chat.inFlight[other(from)].push(message)
  return message
}

const open = (chat: Chat, to: Who, envelope: Uint8Array, party = chat.parties[to]) =>
  ratchetDecrypt(party.state, envelope, chat.ad, party.random, (k) => party.usedKeys.push(Uint8Array.from(k)))

/** Deliveries that overtook an earlier message (the properties check that they happen). */
let outOfOrder = 0

/** Delivers the message at `pick` (modulo) of those on their way to `to`; it must decrypt to its text. */
const deliver = (chat: Chat, to: Who, pick: number): void => {
  const queue = chat.inFlight[to]
  if (queue.length === 0) return
  const index = pick % queue.length
  if (index > 0) outOfOrder++
  const [message] = queue.splice(index, 1)
  const opened = open(chat, to, message!.envelope)
  expect(Result.isSuccess(opened) && Buffer.from(opened.success).toString()).toBe(message!.text)
  chat.delivered[to].push(message!)
}

type Command = { readonly send: Who } | { readonly deliver: Who; readonly pick: number }
const who = fc.constantFrom<Who>("A", "B")
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ send: who }),
  fc.record({ deliver: who, pick: fc.nat(7) }),
)
const conversation = fc.array(command, { maxLength: 40, size: "medium" })
const flushOrder = fc.array(fc.nat(7), { minLength: 1, size: "medium" })

/** Runs the commands, then delivers what is still in flight (in the order `flush` picks). */
const run = (seed: number, commands: ReadonlyArray<Command>, flush: ReadonlyArray<number> = [0]): Chat => {
  const chat = newChat(seed)
  for (const c of commands) "send" in c ? send(chat, c.send) : deliver(chat, c.deliver, c.pick)
  for (let i = 0; chat.inFlight.A.length + chat.inFlight.B.length > 0; i++) {
    const pick = flush[i % flush.length]!
    deliver(
      chat,
      chat.inFlight.A.length > 0 && (pick % 2 === 0 || chat.inFlight.B.length === 0) ? "A" : "B",
      pick,
    )
  }
  return chat
}

const snapshot = (party: Party): string => Buffer.from(serialiseRatchet(party.state)).toString("hex")
const clone = (party: Party, seed: string): Party => ({
  state: deserialiseRatchet(serialiseRatchet(party.state))!,
  random: seededRandom(seed),
  usedKeys: [],
})
const seed = fc.integer({ min: 0, max: 1_000_000 })
const NUM_RUNS = 60

describe("double ratchet properties", () => {
  it("decrypts any interleaving of the two directions delivered in order", () => {
    fc.assert(
      fc.property(seed, conversation, (s, commands) => {
        run(
          s,
          commands.map((c) => ("send" in c ? c : { deliver: c.deliver, pick: 0 })),
          [0],
        )
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("decrypts any delivery order within the window", () => {
    outOfOrder = 0
    fc.assert(
      fc.property(seed, conversation, flushOrder, (s, commands, flush) => {
        run(s, commands, flush)
      }),
      { numRuns: NUM_RUNS },
    )
    expect(outOfOrder).toBeGreaterThan(NUM_RUNS)
  })

  it("refuses replayed, altered and beyond-window messages, leaving the state unchanged", () => {
    fc.assert(
      fc.property(seed, conversation, who, fc.nat(), fc.nat(1_000), (s, commands, from, at, extra) => {
        const chat = run(s, commands)
        const to = other(from)
        const receiver = chat.parties[to]
        const before = snapshot(receiver)
        for (const old of chat.delivered[to])
          expect(Result.isFailure(open(chat, to, old.envelope))).toBe(true)
        const fresh = send(chat, from)
        const altered = Uint8Array.from(fresh.envelope)
        altered[at % altered.length]! ^= 1 << (at % 8)
        expect(Result.isFailure(open(chat, to, altered))).toBe(true)
        const ahead = Uint8Array.from(fresh.envelope)
        new DataView(ahead.buffer).setUint32(36, receiver.state.received + MAX_SKIP + 1 + extra)
        const tooFar = open(chat, to, ahead)
        expect(Result.isFailure(tooFar) && tooFar.failure.reason).toBe("TooFarAhead")
        expect(snapshot(receiver)).toBe(before)
        deliver(chat, to, chat.inFlight[to].length - 1)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("heals after a compromise: once the peer has stepped to a fresh key, the stolen state reads nothing", () => {
    fc.assert(
      fc.property(seed, conversation, who, (s, commands, victim) => {
        const chat = run(s, commands)
        const thief = clone(chat.parties[victim], `thief ${s}`)
        const peer = other(victim)
        const stolenKey = Buffer.from(chat.parties[victim].state.sendingKey.publicKey)
        // The compromise bites: the thief reads the peer's next message.
        const first = send(chat, peer)
        expect(Result.isSuccess(open(chat, victim, first.envelope, thief))).toBe(true)
        deliver(chat, victim, 0)
        let healed = false
        let unreadable = 0
        for (let round = 0; round < 3; round++) {
          const reply = send(chat, victim)
          healed ||= !Buffer.from(reply.envelope.subarray(0, 32)).equals(stolenKey)
          deliver(chat, peer, 0)
          const next = send(chat, peer)
          const stolen = open(chat, victim, next.envelope, thief)
          if (healed) {
            expect(Result.isFailure(stolen)).toBe(true)
            unreadable++
          }
          deliver(chat, victim, 0)
        }
        expect(unreadable).toBeGreaterThan(0)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("keeps forward secrecy: the current state opens no received message and holds none of its keys", () => {
    fc.assert(
      fc.property(seed, conversation, flushOrder, (s, commands, flush) => {
        const chat = run(s, commands, flush)
        for (const to of ["A", "B"] as const) {
          const now = clone(chat.parties[to], `later ${s}`)
          for (const old of chat.delivered[to])
            expect(Result.isFailure(open(chat, to, old.envelope, now))).toBe(true)
          const state = Buffer.from(serialiseRatchet(chat.parties[to].state))
          for (const key of chat.parties[to].usedKeys) expect(state.includes(Buffer.from(key))).toBe(false)
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })
})
