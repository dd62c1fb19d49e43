/**
 * The legitimate pair: two users chatting end to end while an attack runs. Ping-pong rounds
 * (A says, B hears and replies, A hears) measure latency; a round that fails or stalls marks the
 * pair unhealthy. Also: percentiles, and the in-process heap measured after a forced GC.
 * Test-only.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Result } from "effect"
import type { ClientLink } from "../../src/client/link.ts"
import type { ChatChannel } from "../../src/crypto/chat-channel.ts"
import { establishChat, login, say } from "../chat.ts"
import type { TestServer } from "../server.ts"
import { sleep } from "./runner.ts"

export interface LatencyReport {
  readonly rounds: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Why the pair stopped chatting, if it did. */
  readonly failure?: string
}

/** Nearest-rank percentile of already sorted values; NaN when empty. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

export const summarize = (samples: ReadonlyArray<number>, failure?: string): LatencyReport => {
  const sorted = [...samples].sort((a, b) => a - b)
  const report = {
    rounds: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  }
  return failure === undefined ? report : { ...report, failure }
}

export interface PairProbe {
  readonly links: readonly [ClientLink, ClientLink]
  /** Latency so far, without stopping. */
  snapshot(): LatencyReport
  /** Stops the rounds, logs both users out, and reports. */
  stop(): Promise<LatencyReport>
}

/**
 * Logs `names` in, establishes their chat and runs ping-pong rounds every `intervalMs` until
 * stopped. A round slower than `roundTimeoutMs` is a failure.
 */
export const startPairProbe = async (
  server: TestServer,
  names: readonly [string, string] = ["alice", "bob"],
  options: { readonly intervalMs?: number; readonly roundTimeoutMs?: number } = {},
): Promise<PairProbe> => {
  const [a, b] = await Promise.all(names.map((name) => login(server, name)))
  const chat = await establishChat(server, a!, b!)
  const samples: number[] = []
  let failure: string | undefined
  let running = true
  const roundTimeoutMs = options.roundTimeoutMs ?? 10_000
  const loop = (async () => {
    for (let round = 0; running; round++) {
      const started = performance.now()
      try {
        say(a!, chat.requester, `ping ${round}`)
        const heard = await hearWithin(b!, chat.accepter, roundTimeoutMs)
        if (heard !== `ping ${round}`) throw new Error(`B heard "${heard}" for ping ${round}`)
        say(b!, chat.accepter, `pong ${round}`)
        const back = await hearWithin(a!, chat.requester, roundTimeoutMs)
        if (back !== `pong ${round}`) throw new Error(`A heard "${back}" for pong ${round}`)
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error)
        return
      }
      const elapsed = performance.now() - started
      if (elapsed > roundTimeoutMs) {
        failure = `round ${round} took ${Math.round(elapsed)} ms`
        return
      }
      samples.push(elapsed)
      await sleep(options.intervalMs ?? 20)
    }
  })()
  return {
    links: [a!, b!],
    snapshot: () => summarize(samples, failure),
    stop: async () => {
      running = false
      await loop
      a!.close({ quit: true })
      b!.close({ quit: true })
      await Promise.all([a!.closed, b!.closed])
      return summarize(samples, failure)
    },
  }
}

/** The next chat message, opened: its text (a goodbye or a failure to open is an error). */
const hearWithin = async (link: ClientLink, chat: ChatChannel, timeoutMs: number): Promise<string> => {
  const message = await link.next((m) => m.type === "Message", timeoutMs)
  if (message.type !== "Message") return ""
  const content = Result.getOrThrow(chat.open(message.envelope))
  if (content.kind !== "text") throw new Error(`expected a chat text, got ${content.kind}`)
  return content.text
}

let gcFunction: (() => void) | undefined

/** Runs a full garbage collection (exposing V8's gc once, for measurements only). */
export const collectGarbage = (): void => {
  if (gcFunction === undefined) {
    setFlagsFromString("--expose-gc")
    gcFunction = runInNewContext("gc") as () => void
  }
  gcFunction()
}

export interface MemoryReport {
  readonly heapBeforeMiB: number
  readonly heapAfterMiB: number
  readonly heapPeakMiB: number
  readonly rssBeforeMiB: number
  readonly rssAfterMiB: number
}

const mib = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10

/** Heap (after GC) and RSS of this process at the start, sampled during, and at the end. */
export const watchMemory = (sampleMs = 50) => {
  collectGarbage()
  const before = process.memoryUsage()
  let peak = before.heapUsed
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }, sampleMs)
  return {
    stop: (): MemoryReport => {
      clearInterval(timer)
      collectGarbage()
      const after = process.memoryUsage()
      return {
        heapBeforeMiB: mib(before.heapUsed),
        heapAfterMiB: mib(after.heapUsed),
        heapPeakMiB: mib(Math.max(peak, after.heapUsed)),
        rssBeforeMiB: mib(before.rss),
        rssAfterMiB: mib(after.rss),
      }
    },
  }
}
