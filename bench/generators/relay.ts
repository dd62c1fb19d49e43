/**
 * The relay load: opens chatting pairs on a target (onechat, TLS relay, plaintext relay) as a
 * session that stays open between commands (one per target, so runs on the three can alternate),
 * and runs bursts on command — payloads prepared before `ready`, sent from `go`, delivery reported
 * (`relay-delivered`) before the untimed verification (`relay-verified`).
 */
import { type FramedTransport, openFramedPair } from "../baselines/relay-client.ts"
import type { AgentCommand, PairSpec, Target } from "../lib/wire.ts"
import { runBurst, verifyBurst, windowFor } from "./burst.ts"
import type { CommandQueue } from "./io.ts"
import { emit } from "./io.ts"
import type { OpenPair } from "./lanes.ts"
import { type ClientTrust, openOnechatPair } from "./onechat-pair.ts"

/** Pairs being set up at once (logins and chat agreements in flight). */
const SETUP_CONCURRENCY = 32

export interface TargetContext {
  readonly trust: ClientTrust
  readonly caPem: string
}

export const openPair = (
  target: Target,
  port: number,
  context: TargetContext,
  spec: PairSpec,
): Promise<OpenPair> => {
  if (target === "onechat") return openOnechatPair(port, context.trust, spec)
  const transport: FramedTransport = target === "tls" ? { kind: "tls", ca: context.caPem } : { kind: "plain" }
  return openFramedPair(port, transport, spec.id)
}

/** Runs `task` over `items` with at most `limit` in flight, keeping the order of results. */
export const mapLimited = async <I, O>(
  items: ReadonlyArray<I>,
  limit: number,
  task: (item: I) => Promise<O>,
): Promise<O[]> => {
  const results: O[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

type RelayOpen = Extract<AgentCommand, { readonly cmd: "relay-open" }>
type RelayBurst = Extract<AgentCommand, { readonly cmd: "relay-burst" }>

/** Open relay sessions, one per target at most, kept between commands. */
const sessions = new Map<Target, ReadonlyArray<OpenPair>>()

export const openRelaySession = async (command: RelayOpen, context: TargetContext) => {
  if (sessions.has(command.target)) throw new Error(`a ${command.target} relay session is already open`)
  const started = performance.now()
  const pairs = await mapLimited(command.pairs, SETUP_CONCURRENCY, (spec) =>
    openPair(command.target, command.port, context, spec),
  )
  sessions.set(command.target, pairs)
  emit({ type: "relay-opened", lanes: 2 * pairs.length, setupMs: performance.now() - started })
}

export const closeRelaySession = async (target: Target) => {
  const pairs = sessions.get(target) ?? []
  sessions.delete(target)
  await mapLimited(pairs, SETUP_CONCURRENCY, (pair) => pair.close())
  emit({ type: "relay-closed" })
}

/** Prepares the burst's payloads, says `ready`, runs from `go`, reports delivery, then verifies. */
export const runRelayBurst = async (burst: RelayBurst, commands: CommandQueue) => {
  const lanes = (sessions.get(burst.target) ?? []).flatMap((pair) => pair.lanes)
  if (lanes.length === 0) throw new Error(`no ${burst.target} relay session is open`)
  const prepared = lanes.map((lane) => ({ lane, payloads: lane.prepare(burst.perLane, burst.size) }))
  await commands.readyThenGo()
  const result = await runBurst(prepared, {
    size: burst.size,
    window: windowFor(burst.size, burst.windowBytes),
    ...(burst.ratePerLane === undefined ? {} : { ratePerLane: burst.ratePerLane }),
  })
  const { delivered, elapsedMs, lastArrivalAt } = result
  emit({ type: "relay-delivered", delivered, elapsedMs, lastArrivalAt })
  const failures = result.orderFailures + verifyBurst(result, burst.size)
  emit({
    type: "relay-verified",
    verified: result.delivered - failures,
    failures,
    method: lanes[0]?.verification ?? "none",
  })
}
