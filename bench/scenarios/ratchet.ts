/**
 * Client CPU per chat message through the Double Ratchet: one `ChatChannel` seal + the peer's open,
 * in this process (no server, no sockets), for 16 B, 1 KiB and 16 KiB texts, one way (no DH step)
 * and alternating (a DH step every message), beside the fixed-key cost that v2 paid (one AEAD seal +
 * open of the same text, `aeadSeal`/`aeadOpen`). Also runs alone: `npx tsx bench/scenarios/ratchet.ts
 * [--quick] [--runs N]`. docs/protocol.md §8.3–§8.4.
 */
import { Result } from "effect"
import { ChatChannel } from "../../src/crypto/chat-channel.ts"
import { aeadOpen, aeadSeal, systemRandom, x25519KeyPair } from "../../src/crypto/primitives.ts"
import { measured } from "../lib/context.ts"
import type { Measured } from "../lib/results.ts"
import { fmt, ratio } from "../lib/stats.ts"

export interface RatchetResult {
  readonly textBytes: number
  /** CPU µs per message: seal + open. */
  readonly fixedKeyUs: Measured
  readonly oneWayUs: Measured
  readonly alternatingUs: Measured
}

const SIZES = [16, 1_024, 16_384] as const

const channels = (): readonly [ChatChannel, ChatChannel] => {
  const rootKey = systemRandom(32)
  const transcriptHash = systemRandom(32)
  const ratchetKey = x25519KeyPair(systemRandom)
  const requester = ChatChannel.open(
    {
      role: "requester",
      rootKey: Uint8Array.from(rootKey),
      transcriptHash,
      peerRatchetKey: ratchetKey.publicKey,
    },
    systemRandom,
  )
  const accepter = ChatChannel.open(
    { role: "accepter", rootKey, transcriptHash, ownRatchetKey: ratchetKey },
    systemRandom,
  )
  return [requester, accepter]
}

/** CPU µs (user + system, this process) per call of `step`, over `count` calls. */
const cpuPerCall = (count: number, step: (i: number) => void): number => {
  const start = process.cpuUsage()
  for (let i = 0; i < count; i++) step(i)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / count
}

const ratchetRun = (text: string, count: number, alternate: boolean): number => {
  const [a, b] = channels()
  const perMessage = cpuPerCall(count, (i) => {
    const [from, to] = alternate && i % 2 === 1 ? [b, a] : [a, b]
    const opened = to.open(Result.getOrThrow(from.seal(text)))
    if (Result.isFailure(opened)) throw new Error(`ratchet bench: ${opened.failure.message}`)
  })
  a.close()
  b.close()
  return perMessage
}

const fixedKeyRun = (text: string, count: number): number => {
  const key = systemRandom(32)
  const iv = systemRandom(12)
  const ad = new Uint8Array(8)
  return cpuPerCall(count, (i) => {
    const nonce = Uint8Array.from(iv)
    nonce[11]! ^= i & 0xff
    const sealed = aeadSeal(key, nonce, ad, Buffer.from(text, "utf8"))
    if (aeadOpen(key, nonce, ad, sealed) === undefined) throw new Error("fixed-key bench: tag refused")
  })
}

/** Runs every size `runs` times after one warm-up; message counts shrink with the text and in quick mode. */
export const runRatchetScenario = (options: {
  readonly quick: boolean
  readonly runs: number
  log(line: string): void
}): RatchetResult[] => {
  options.log("ratchet…")
  const scale = options.quick ? 0.3 : 1
  return SIZES.map((size) => {
    const text = "m".repeat(size)
    const count = Math.max(50, Math.round((size >= 16_384 ? 600 : 2_000) * scale))
    const runs = { fixed: [] as number[], oneWay: [] as number[], alternating: [] as number[] }
    for (let run = -1; run < options.runs; run++) {
      const fixed = fixedKeyRun(text, count * 4)
      const oneWay = ratchetRun(text, count, false)
      const alternating = ratchetRun(text, Math.ceil(count / 2), true)
      if (run < 0) continue // warm-up
      runs.fixed.push(fixed)
      runs.oneWay.push(oneWay)
      runs.alternating.push(alternating)
    }
    const result = {
      textBytes: size,
      fixedKeyUs: measured(runs.fixed),
      oneWayUs: measured(runs.oneWay),
      alternatingUs: measured(runs.alternating),
    }
    options.log(
      `  ratchet ${size} B: fixed key ${fmt(result.fixedKeyUs.median, 1)} µs, one way ${fmt(result.oneWayUs.median, 1)} µs, alternating ${fmt(result.alternatingUs.median, 1)} µs per message`,
    )
    return result
  })
}

/** The Markdown table of the section. */
export const ratchetTable = (results: ReadonlyArray<RatchetResult>): string =>
  [
    "### Chat messages through the Double Ratchet (client CPU per message: seal + open, one process)",
    "",
    "| text | v2 fixed key (AEAD only) | ratchet, one way | ratchet, alternating (DH step each) | one way / fixed | alternating / fixed |",
    "|---|---|---|---|---|---|",
    ...results.map(
      (r) =>
        `| ${fmt(r.textBytes)} B | ${fmt(r.fixedKeyUs.median, 1)} µs | ${fmt(r.oneWayUs.median, 1)} µs | ${fmt(r.alternatingUs.median, 1)} µs | ${ratio(r.oneWayUs.median, r.fixedKeyUs.median)} | ${ratio(r.alternatingUs.median, r.fixedKeyUs.median)} |`,
    ),
    "",
    "Ratchet rows include padding (16 KiB texts travel in the 32,770-byte bucket) and the KDF chain; medians of the runs.",
  ].join("\n")

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick")
  const runsAt = process.argv.indexOf("--runs")
  const runs = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 3
  const results = runRatchetScenario({ quick, runs, log: (line) => console.log(line) })
  console.log(`\n${ratchetTable(results)}`)
}
