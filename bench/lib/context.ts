/**
 * What every scenario gets from bench/run.ts: the data folder, the mode, the load agents (two, for
 * 2 cores) and the latency probe agent, and helpers to measure a step (server + agents' CPU) and
 * to record notes for the report.
 */

import type { AgentClient } from "./agent-client.ts"
import type { Measured } from "./results.ts"
import { median } from "./stats.ts"

export interface BenchContext {
  readonly dir: string
  readonly quick: boolean
  /** Runs per figure (3: the median of 3). */
  readonly runs: number
  /** Pair counts for the relay scenario when given with --pairs (else by mode). */
  readonly pairCounts: ReadonlyArray<number> | undefined
  /** The load generators (one process each). */
  readonly agents: ReadonlyArray<AgentClient>
  /** A separate process for latency probes. */
  readonly probe: AgentClient
  /** bench/results (raw results, profiles). */
  readonly resultsDir: string
  readonly timestamp: string
  readonly notes: string[]
  log(line: string): void
}

export const measured = (runs: ReadonlyArray<number>): Measured => ({ median: median(runs), runs })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export const sum = (values: ReadonlyArray<number>): number => values.reduce((total, x) => total + x, 0)

/** Splits `items` into `parts` contiguous, nearly equal slices (empty slices dropped). */
export const split = <T>(items: ReadonlyArray<T>, parts: number): T[][] => {
  const out: T[][] = []
  const size = Math.ceil(items.length / parts)
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
