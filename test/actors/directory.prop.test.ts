/**
 * Property tests of the Directory: random sequences of register (displaced logins included),
 * unregister, request, advance and endConversation run in lockstep against the original
 * implementation (test/actors/reference-directory.ts, whose list() sorts everything on every call).
 * After every step each call's answer, list() for many askers and every lookup must agree: the
 * sorted index of available names is maintained exactly. One property uses few, oddly ordered
 * names; the other sits around the MAX_LIST_NAMES cap.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { OnlineUser } from "../../src/actors/connection.events.ts"
import { type ConversationPhase, Directory } from "../../src/actors/directory.ts"
import { MAX_LIST_NAMES } from "../../src/protocol/constants.ts"
import { ReferenceDirectory } from "./reference-directory.ts"

type Role = "requester" | "accepter"

type Op =
  | { readonly kind: "register"; readonly name: string }
  | { readonly kind: "unregister"; readonly connection: number }
  | { readonly kind: "request"; readonly from: string; readonly to: string }
  | {
      readonly kind: "advance"
      /** Index into the pairs that were ever requested; undefined: arbitrary (mostly stale) arguments. */
      readonly pair: number | undefined
      readonly accepterSide: boolean
      readonly name: string
      readonly peer: string
      readonly role: Role
      readonly from: ConversationPhase
      readonly to: ConversationPhase
    }
  | { readonly kind: "end"; readonly name: string; readonly peer: string | undefined }

const phase = fc.constantFrom<ConversationPhase>("requested", "establishing", "chatting")
const nextPhase: Record<ConversationPhase, ConversationPhase> = {
  requested: "establishing",
  establishing: "chatting",
  chatting: "chatting",
}

const opOf = (name: fc.Arbitrary<string>): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("register" as const), name }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("unregister" as const), connection: fc.nat() }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("request" as const), from: name, to: name }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        pair: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
        accepterSide: fc.boolean(),
        name,
        peer: name,
        role: fc.constantFrom<Role>("requester", "accepter"),
        from: phase,
        to: phase,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("end" as const),
        name,
        peer: fc.option(name, { nil: undefined }),
      }),
    },
  )

/** The real Directory and the reference, driven with the same calls; every answer compared. */
class Lockstep {
  readonly real = new Directory()
  readonly reference = new ReferenceDirectory()
  /** Every connection id issued so far (displaced and closed ones stay: stale unregisters). */
  readonly connections: string[] = []
  /** Every [requester, accepter] pair whose request was accepted (ended ones stay: stale advances). */
  readonly pairs: Array<readonly [string, string]> = []
  readonly #users = new Map<string, OnlineUser>()

  #user(name: string): OnlineUser {
    let user = this.#users.get(name)
    if (user === undefined) {
      user = { name, identityKey: Uint8Array.of(this.#users.size), certificate: Uint8Array.of(0x30) }
      this.#users.set(name, user)
    }
    return user
  }

  register(name: string): void {
    const connectionId = `c${this.connections.length}`
    this.connections.push(connectionId)
    const user = this.#user(name)
    expect(this.real.register(connectionId, user)).toEqual(this.reference.register(connectionId, user))
  }

  run(op: Op): void {
    switch (op.kind) {
      case "register":
        return this.register(op.name)
      case "unregister": {
        // mostly an issued id (live, displaced or already closed), sometimes one never issued
        const n = this.connections.length + 1
        const connectionId = this.connections[op.connection % n] ?? "never-issued"
        expect(this.real.unregister(connectionId)).toEqual(this.reference.unregister(connectionId))
        return
      }
      case "request": {
        const outcome = this.real.request(op.from, op.to)
        expect(outcome).toEqual(this.reference.request(op.from, op.to))
        if ("target" in outcome) this.pairs.push([op.from, op.to])
        return
      }
      case "advance": {
        const pair = op.pair === undefined ? undefined : this.pairs[op.pair % (this.pairs.length || 1)]
        if (pair === undefined) {
          const args = [op.name, op.role, op.peer, op.from, op.to] as const
          expect(this.real.advance(...args)).toEqual(this.reference.advance(...args))
          return
        }
        const [requester, accepter] = pair
        const [name, peer, role] = op.accepterSide
          ? ([accepter, requester, "accepter"] as const)
          : ([requester, accepter, "requester"] as const)
        const from = this.reference.phaseOf(name) ?? op.from
        const args = [name, role, peer, from, nextPhase[from]] as const
        expect(this.real.advance(...args)).toEqual(this.reference.advance(...args))
        return
      }
      case "end":
        expect(this.real.endConversation(op.name, op.peer)).toEqual(
          this.reference.endConversation(op.name, op.peer),
        )
        return
    }
  }

  /** list() for every asker, compared cheaply (joined), and every lookup of the given names. */
  check(askers: ReadonlyArray<string>, names: ReadonlyArray<string>): void {
    for (const asker of askers) {
      const real = this.real.list(asker)
      const reference = this.reference.list(asker)
      expect(real.total).toBe(reference.total)
      expect(real.names.length).toBe(reference.names.length)
      expect(real.names.join("\n")).toBe(reference.names.join("\n"))
    }
    expect(this.real.onlineCount).toBe(this.reference.onlineCount)
    for (const connectionId of this.connections) {
      expect(this.real.nameOf(connectionId)).toBe(this.reference.nameOf(connectionId))
    }
    for (const name of names) {
      expect(this.real.connectionOf(name)).toBe(this.reference.connectionOf(name))
      expect(this.real.userOf(name)).toBe(this.reference.userOf(name))
      expect(this.real.phaseOf(name)).toBe(this.reference.phaseOf(name))
      expect(this.real.chatPeer(name)).toBe(this.reference.chatPeer(name))
    }
  }
}

describe("Directory against the reference implementation", () => {
  it("few names in an awkward order: every answer and every list() agree after every step", () => {
    // upper before lower case, prefixes, non-ASCII, an astral character (surrogates sort by code unit)
    const universe = ["alice", "bob", "Bob", "a", "ab", "é", "\u{1f600}", "\uffe0", "z9"]
    const askers = [...universe, "", "outsider"]
    fc.assert(
      fc.property(
        fc.array(opOf(fc.constantFrom(...universe)), { minLength: 1, maxLength: 80, size: "max" }),
        (ops) => {
          const lockstep = new Lockstep()
          lockstep.check(askers, universe)
          for (const op of ops) {
            lockstep.run(op)
            lockstep.check(askers, universe)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it("around the MAX_LIST_NAMES cap: the same first names, the same total, the asker excluded", () => {
    const universe = Array.from({ length: MAX_LIST_NAMES + 16 }, (_, i) => `n${String(i).padStart(5, "0")}`)
    // the names that move the cap's boundary: the very first ones and those around index MAX_LIST_NAMES
    const hot = [...universe.slice(0, 4), ...universe.slice(MAX_LIST_NAMES - 6, MAX_LIST_NAMES + 14)]
    const cold = [universe[500]!, universe.at(-1)!, "outsider"]
    fc.assert(
      fc.property(
        fc.subarray(hot),
        fc.array(opOf(fc.constantFrom(...hot)), { minLength: 1, maxLength: 40, size: "max" }),
        (absent, ops) => {
          const lockstep = new Lockstep()
          const skip = new Set(absent)
          for (const name of universe) if (!skip.has(name)) lockstep.register(name)
          lockstep.check([...hot, ...cold], [])
          for (const op of ops) {
            lockstep.run(op)
            const touched =
              op.kind === "register" || op.kind === "end"
                ? [op.name]
                : op.kind === "request"
                  ? [op.from, op.to]
                  : [hot[0]!, hot[8]!]
            lockstep.check(
              [...touched, universe[MAX_LIST_NAMES - 1]!, universe[MAX_LIST_NAMES]!, ...cold],
              hot,
            )
          }
        },
      ),
      { numRuns: 40 },
    )
  })
})
