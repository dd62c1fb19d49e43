/**
 * Runs fuzz targets with fast-check, seeded and reproducible: every target reports how many
 * inputs it generated, how long it took and, on failure, fast-check's report (seed, path and
 * counterexample: replay with FUZZ_SEED and FUZZ_PATH). Also counts stray process-level faults
 * (unhandled rejections, uncaught exceptions). Shared by vitest and `npm run fuzz`. Test-only.
 */
import fc from "fast-check"

/** What a target reports as it runs: inputs generated (a run may hold several), and how many were refused. */
export interface Tally {
  inputs(n?: number): void
  /** Inputs the code under test rejected (a typed error, an ALERT, a closed connection). */
  rejected(n?: number): void
}

/** One fuzz target: a property over generated inputs. */
export interface FuzzTarget {
  readonly name: string
  /** "decoder": pure and fast; "tcp": real sockets against a running server or client. */
  readonly kind: "decoder" | "tcp"
  readonly property: (tally: Tally) => fc.IRawProperty<unknown>
}

export interface FuzzOutcome {
  readonly name: string
  readonly kind: FuzzTarget["kind"]
  readonly runs: number
  readonly inputs: number
  readonly rejected: number
  readonly ms: number
  readonly seed: number
  /** fast-check's report (seed, path, counterexample), when the property failed. */
  readonly failure?: string
}

/** FUZZ_SEED from the environment, else `fallback`. */
export const fuzzSeed = (fallback: number): number => {
  const fromEnv = Number.parseInt(process.env.FUZZ_SEED ?? "", 10)
  return Number.isFinite(fromEnv) ? fromEnv : fallback
}

/** A stable per-target seed derived from `base` and the target's name. */
export const targetSeed = (base: number, name: string): number => {
  let h = base | 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h
}

/**
 * Runs `target` for `numRuns` runs from `seed`. TCP targets stop at the first failure without
 * shrinking (each shrink step costs sockets); decoder targets shrink to a minimal counterexample.
 */
export const runTarget = async (target: FuzzTarget, numRuns: number, seed: number): Promise<FuzzOutcome> => {
  let inputs = 0
  let rejected = 0
  const tally: Tally = {
    inputs: (n = 1) => {
      inputs += n
    },
    rejected: (n = 1) => {
      rejected += n
    },
  }
  const path = process.env.FUZZ_PATH
  const started = performance.now()
  const details = await fc.check(target.property(tally), {
    seed,
    numRuns,
    endOnFailure: target.kind === "tcp",
    ...(path === undefined ? {} : { path }),
  })
  const ms = performance.now() - started
  const outcome = { name: target.name, kind: target.kind, runs: details.numRuns, inputs, rejected, ms, seed }
  if (!details.failed) return outcome
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  return { ...outcome, failure: `${target.name}: ${error}\n${fc.defaultReportMessage(details)}` }
}

/** Counts unhandled rejections and uncaught exceptions while installed. */
export interface ProcessFaults {
  readonly unhandledRejections: number
  readonly uncaughtExceptions: number
  readonly samples: ReadonlyArray<string>
  dispose(): void
}

export const watchProcessFaults = (): ProcessFaults => {
  const samples: string[] = []
  let unhandledRejections = 0
  let uncaughtExceptions = 0
  const describe = (reason: unknown): string =>
    reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)
  const onRejection = (reason: unknown): void => {
    unhandledRejections++
    if (samples.length < 5) samples.push(`unhandledRejection ${describe(reason)}`)
  }
  const onException = (error: unknown): void => {
    uncaughtExceptions++
    if (samples.length < 5) samples.push(`uncaughtException ${describe(error)}`)
  }
  process.on("unhandledRejection", onRejection)
  process.on("uncaughtException", onException)
  return {
    get unhandledRejections() {
      return unhandledRejections
    },
    get uncaughtExceptions() {
      return uncaughtExceptions
    },
    samples,
    dispose: () => {
      process.off("unhandledRejection", onRejection)
      process.off("uncaughtException", onException)
    },
  }
}

/** Resolves once `condition` holds (polled), or rejects with `what` after `timeoutMs`. */
export const waitUntil = async (condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Rejects with `what` unless `promise` settles within `timeoutMs`. */
export const within = <T>(promise: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
