/**
 * The contract of one row of `npm run attack`: a category of adversarial cases that runs with a
 * budget and reports what it tried, how much the system under attack rejected (the rest it
 * survived), whether the server was healthy afterwards, and the legitimate pair's latency while
 * it ran. A row passes when `run` resolves with `serverHealthy: true`; a category that sees a
 * broken invariant reports `serverHealthy: false` or rejects (its message is printed).
 * Register a category by adding it to `attack/categories/index.ts`.
 */

export type AttackBudget = "short" | "long"

export interface AttackRow {
  /** Cases tried (inputs, connections, messages or faults injected). */
  readonly cases: number
  /** Cases the system under attack refused or cut off; `cases - rejected` it survived normally. */
  readonly rejected: number
  /** After the run: the server still serves logins and chats, nothing leaked, no invariant broken. */
  readonly serverHealthy: boolean
  /** Ping-pong latency of a legitimate pair chatting during the run. */
  readonly pairLatencyMs?: { readonly p50: number; readonly p99: number }
  /** Free text printed under the table, line by line (keep each line short). */
  readonly notes?: string
}

export interface AttackCategory {
  readonly name: string
  run(budget: AttackBudget): Promise<AttackRow>
}
