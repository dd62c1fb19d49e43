/**
 * A campaign of attempts against one server, shared by test/adversarial/mitm.test.ts and
 * `npm run attack` (attack/categories/mitm.ts): honest sessions supply each target frame as sent,
 * the catalogue turns it into attempts, and each attempt runs with its own proxy and fresh users,
 * a bounded number at a time, and gets its verdict.
 */
import type { Random } from "../../src/crypto/primitives.ts"
import type { TestServer } from "../server.ts"
import {
  type Attempt,
  attemptsOn,
  EVERY_BYTE_TARGETS,
  flipsOf,
  MITM_TARGETS,
  sampledOffsets,
} from "./catalogue.ts"
import type { MitmProxy } from "./proxy.ts"
import type { FrameSelector, Phase } from "./rules.ts"
import { type MitmResult, runMitmCase } from "./run-case.ts"
import { describeOutcome, verdict } from "./verdict.ts"

export interface CampaignRow {
  readonly attempt: Attempt
  readonly result: MitmResult
  /** Undefined when the attempt was detected (or, for a delay, transparent). */
  readonly problem: string | undefined
}

/**
 * Runs attempts against one server, `concurrency` at a time, each with a fresh pair of users
 * (`prefix` + number) and its own proxy. Starts with two honest sessions whose frames supply
 * sizes and material to inject ("a frame of another session").
 */
export class MitmCampaign {
  readonly #donors: MitmProxy[]
  #pairs = 0

  private constructor(
    readonly server: TestServer,
    private readonly options: {
      readonly prefix: string
      readonly concurrency: number
      readonly random: Random
    },
    donors: MitmProxy[],
  ) {
    this.#donors = donors
  }

  static async start(
    server: TestServer,
    options: { readonly prefix: string; readonly concurrency: number; readonly random: Random },
  ): Promise<MitmCampaign> {
    const campaign = new MitmCampaign(server, options, [])
    for (const upTo of ["list", "chat"] as const) {
      const honest = await runMitmCase(server, { upTo, names: campaign.newPair() })
      if (honest.outcome.kind !== "completed") {
        throw new Error(`an honest session failed: ${describeOutcome(honest.outcome)}`)
      }
      campaign.#donors.push(honest.proxy)
    }
    return campaign
  }

  /** Two fresh user names of fixed length, so a frame has the same size in every attempt. */
  newPair(): readonly [string, string] {
    const id = `${this.options.prefix}${(this.#pairs++).toString().padStart(5, "0")}`
    return [`${id}a`, `${id}b`]
  }

  /** The target frame as the honest session sent it. */
  honestFrame(selector: FrameSelector): Uint8Array {
    for (const donor of this.#donors) {
      const frame = donor.frame(selector)
      if (frame !== undefined) return frame
    }
    throw new Error(`no honest frame at ${JSON.stringify(selector)}`)
  }

  /** Every manipulation kind on every target of `phase`. */
  attemptsFor(phase: Phase): Attempt[] {
    return MITM_TARGETS.filter((t) => t.phase === phase).flatMap((t) =>
      attemptsOn(t, this.honestFrame(t), this.options.random),
    )
  }

  /** A flip of each byte of the phase's every-byte target. */
  everyByte(phase: Phase): Attempt[] {
    const selected = EVERY_BYTE_TARGETS[phase]
    const length = this.honestFrame(selected).length
    return flipsOf(
      selected,
      Array.from({ length }, (_, offset) => offset),
    )
  }

  /** Flips of the phase's every-byte target at `sampledOffsets` (all bytes of a short frame). */
  sampledBytes(phase: Phase): Attempt[] {
    const selected = EVERY_BYTE_TARGETS[phase]
    return flipsOf(selected, sampledOffsets(this.honestFrame(selected)))
  }

  async run(attempts: ReadonlyArray<Attempt>): Promise<CampaignRow[]> {
    const rows: CampaignRow[] = new Array(attempts.length)
    let next = 0
    const worker = async () => {
      while (next < attempts.length) {
        const i = next++
        const attempt = attempts[i]!
        const { what: _, ...selector } = attempt.target
        const result = await runMitmCase(this.server, {
          rule: { ...selector, action: attempt.action },
          upTo: attempt.target.phase,
          names: this.newPair(),
        })
        rows[i] = { attempt, result, problem: verdict(attempt, result) }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, attempts.length) }, worker))
    return rows
  }
}
