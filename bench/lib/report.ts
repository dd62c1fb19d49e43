/**
 * Renders results as Markdown tables (printed, and pasted into docs/performance.md): medians with
 * ratios to the baselines measured in the same run, server CPU per unit of work beside each rate,
 * and the targets with whether each was met.
 */
import type { BenchResults, LatencyResult, LoginCryptoCost, LoginResult, RelayResult } from "./results.ts"
import { fmt, ratio } from "./stats.ts"

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n")

const sizeLabel = (size: number): string => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`)
const pct = (fraction: number | undefined): string =>
  fraction === undefined ? "—" : `${fmt(fraction * 100)}%`
const mib = (kib: number): string => fmt(kib / 1024, 1)

const relayRow = (
  results: BenchResults,
  target: string,
  pairs: number,
  size: number,
): RelayResult | undefined =>
  results.relay.find((r) => r.target === target && r.pairs === pairs && r.size === size)

const LOGIN_LABELS: Record<LoginResult["target"], string> = {
  onechat: "onechat v3 (X25519 + ML-KEM-768)",
  tls: "Node tls 1.3, X25519MLKEM768",
  "tls-x25519": "Node tls 1.3, X25519",
}

/** The hybrid's cost per login and the ML-DSA-65 comparison (bench/scenarios/login-crypto.ts). */
export const loginCryptoTable = (cost: LoginCryptoCost): string => {
  const { mlkem, x25519, wire } = cost
  const us = (value: number) => fmt(value, 1)
  const client = mlkem.keyGenerationUs.median + mlkem.decapsulationUs.median
  const server = mlkem.importKeyUs.median + mlkem.encapsulationUs.median
  const rows = [
    ["ML-KEM-768, client: key generation + decapsulation", `${us(client)} µs`],
    ["ML-KEM-768, server: key import + encapsulation", `${us(server)} µs`],
    ["ML-KEM-768, whole login (both sides)", `${us(client + server)} µs`],
    [
      "X25519, whole login (both sides: 2 key pairs, 2 shared secrets)",
      `${us(2 * (x25519.keyPairUs.median + x25519.sharedSecretUs.median))} µs`,
    ],
    [
      "bytes the hybrid adds on the wire (kem_ek + kem_ct)",
      `${wire.addedBytes} B (hellos ${wire.clientHelloBytes} + ${wire.serverHelloBytes} B, were 73 + 66)`,
    ],
    ...cost.signatures.map((s) => [
      `${s.name}: sign + verify (signature, public key)`,
      `${us(s.signUs.median)} + ${us(s.verifyUs.median)} µs (${s.signatureBytes} B, ${s.publicKeyBytes} B)`,
    ]),
  ]
  return table(["hybrid cost (one core, in-process)", "per login"], rows)
}

export const loginTable = (results: BenchResults): string => {
  const tls = results.logins.find((r) => r.target === "tls")
  return table(
    [
      "server",
      "logins/s",
      "server CPU ms/login",
      "server core use",
      "generator cores",
      "other processes' cores",
      "vs TLS X25519MLKEM768",
    ],
    results.logins.map((r) => [
      LOGIN_LABELS[r.target],
      fmt(r.loginsPerSecond.median),
      fmt(r.serverCpuMsPerLogin.median, 3),
      pct(r.serverCpuUtilisation.median),
      fmt(r.generatorCores.median, 2),
      fmt(r.otherCores.median, 2),
      ratio(r.loginsPerSecond.median, tls?.loginsPerSecond.median),
    ]),
  )
}

export const relayTable = (results: BenchResults): string => {
  const keys = [...new Set(results.relay.map((r) => `${r.pairs}/${r.size}`))]
  const rows = keys.map((key) => {
    const [pairs, size] = key.split("/").map(Number) as [number, number]
    const one = relayRow(results, "onechat", pairs, size)
    const tls = relayRow(results, "tls", pairs, size)
    const plain = relayRow(results, "plain", pairs, size)
    return [
      fmt(pairs),
      sizeLabel(size),
      fmt(one?.messagesPerSecond.median),
      fmt(one?.serverCpuUsPerMessage.median, 2),
      pct(one?.serverCpuUtilisation.median),
      fmt(one?.generatorCores.median, 2),
      fmt(one?.otherCores.median, 2),
      fmt(tls?.messagesPerSecond.median),
      fmt(tls?.serverCpuUsPerMessage.median, 2),
      fmt(plain?.messagesPerSecond.median),
      fmt(plain?.serverCpuUsPerMessage.median, 2),
      ratio(one?.messagesPerSecond.median, tls?.messagesPerSecond.median),
      ratio(one?.messagesPerSecond.median, plain?.messagesPerSecond.median),
    ]
  })
  return table(
    [
      "pairs",
      "size",
      "onechat msg/s",
      "µs CPU/msg",
      "server core",
      "gen. cores",
      "others",
      "TLS msg/s",
      "µs/msg",
      "plain msg/s",
      "µs/msg",
      "onechat/TLS",
      "onechat/plain",
    ],
    rows,
  )
}

const latencyOf = (results: BenchResults, target: string, load: string): LatencyResult | undefined =>
  results.latency.find((r) => r.target === target && r.load === load)

export const latencyTable = (results: BenchResults): string =>
  table(
    [
      "relay",
      "load",
      "offered msg/s",
      "p50 µs",
      "p99 µs",
      "p50 vs TLS",
      "server µs CPU/round trip",
      "server core",
      "others",
    ],
    results.latency.map((r) => [
      r.target,
      r.load,
      fmt(r.offeredLoad),
      fmt(r.p50Us.median),
      fmt(r.p99Us.median),
      ratio(r.p50Us.median, latencyOf(results, "tls", r.load)?.p50Us.median),
      r.serverCpuUsPerRoundTrip.runs.length === 0 ? "—" : fmt(r.serverCpuUsPerRoundTrip.median),
      pct(r.serverCpuUtilisation.runs.length === 0 ? undefined : r.serverCpuUtilisation.median),
      r.otherCores.runs.length === 0 ? "—" : fmt(r.otherCores.median, 2),
    ]),
  )

export const scaleTable = (results: BenchResults): string => {
  const scale = results.scale
  if (scale === undefined) return ""
  const gc = scale.forcedGc
  const levels = table(
    [
      "idle clients",
      "connected",
      "logins/s (this step)",
      "server fds",
      "RSS MiB",
      "KiB/connection over start",
    ],
    scale.levels.map((l) => [
      fmt(l.clients),
      fmt(l.connected),
      fmt(l.loginsPerSecond),
      fmt(l.serverFds),
      mib(l.rssKiB),
      fmt(l.rssKiBPerConnection, 1),
    ]),
  )
  const summary = table(
    ["moment", "RSS MiB", "JS heap used MiB"],
    [
      ["fresh server", mib(scale.freshRssKiB), "—"],
      [`after a warm-up of ${scale.warmUpLogins} logins`, mib(scale.warmRssKiB), "—"],
      ["start (after one forced GC)", mib(gc.start.rssKiB), mib(gc.start.heapUsedKiB)],
      [
        `all ${fmt(scale.levels.at(-1)?.connected)} connected, forced GC`,
        mib(gc.top.rssKiB),
        mib(gc.top.heapUsedKiB),
      ],
      [
        `all disconnected; the server closed their sockets in ${fmt(scale.serverCloseSeconds, 1)} s; ` +
          `${scale.secondsWaitedAfterDisconnect} s later (${scale.serverFdsAfter} fds)`,
        mib(scale.afterRssKiB),
        "—",
      ],
      ["then a forced GC", mib(gc.after.rssKiB), mib(gc.after.heapUsedKiB)],
    ],
  )
  const live = `Live memory per connection (forced GC before both readings): ${fmt(gc.liveKiBPerConnection, 1)} KiB RSS, ${fmt(gc.liveHeapKiBPerConnection, 1)} KiB of JS heap.`
  return [levels, summary, live].join("\n\n")
}

interface Target {
  readonly name: string
  readonly measured: string
  readonly goal: string
  readonly met: boolean | undefined
}

const check = (
  name: string,
  value: number | undefined,
  goal: string,
  test: (v: number) => boolean,
  show: (v: number) => string,
): Target => ({
  name,
  measured: value === undefined || !Number.isFinite(value) ? "—" : show(value),
  goal,
  met: value === undefined || !Number.isFinite(value) ? undefined : test(value),
})

export const targets = (results: BenchResults): Target[] => {
  const logins = (t: string) => results.logins.find((r) => r.target === t)
  const relay100 = (t: string, size: number) => relayRow(results, t, 100, size)
  const rel = (size: number) => {
    const one = relay100("onechat", size)?.messagesPerSecond.median
    const tls = relay100("tls", size)?.messagesPerSecond.median
    return one === undefined || tls === undefined ? undefined : one / tls
  }
  const p50 = (load: string) => {
    const one = latencyOf(results, "onechat", load)?.p50Us.median
    const tls = latencyOf(results, "tls", load)?.p50Us.median
    return one === undefined || tls === undefined ? undefined : one / tls
  }
  const largest = results.scale?.levels.at(-1)
  const x = (v: number) => `${v.toFixed(2)}×`
  return [
    check(
      "logins/s vs TLS",
      ((l, t) => (l && t ? l / t : undefined))(
        logins("onechat")?.loginsPerSecond.median,
        logins("tls")?.loginsPerSecond.median,
      ),
      "≥ 2.0×",
      (v) => v >= 2,
      x,
    ),
    check(
      "server CPU per login",
      logins("onechat")?.serverCpuMsPerLogin.median,
      "≤ 0.6 ms",
      (v) => v <= 0.6,
      (v) => `${v.toFixed(3)} ms`,
    ),
    check(
      "100 pairs, 16 B",
      relay100("onechat", 16)?.messagesPerSecond.median,
      "≥ 150,000 msg/s",
      (v) => v >= 150_000,
      (v) => `${fmt(v)} msg/s`,
    ),
    check(
      "server CPU per 16 B message",
      relay100("onechat", 16)?.serverCpuUsPerMessage.median,
      "≤ 6 µs",
      (v) => v <= 6,
      (v) => `${v.toFixed(2)} µs`,
    ),
    check("100 pairs, 1 KiB vs TLS", rel(1024), "≥ 0.5×", (v) => v >= 0.5, x),
    check("100 pairs, 16 KiB vs TLS", rel(16_384), "≥ 1.0×", (v) => v >= 1, x),
    check("latency p50 vs TLS, idle", p50("idle"), "≤ 1.5×", (v) => v <= 1.5, x),
    check("latency p50 vs TLS, loaded", p50("loaded"), "≤ 1.5×", (v) => v <= 1.5, x),
    check(
      "latency p99, idle",
      latencyOf(results, "onechat", "idle")?.p99Us.median,
      "< 2,000 µs",
      (v) => v < 2_000,
      (v) => `${fmt(v)} µs`,
    ),
    check(
      `RSS per idle connection at ${fmt(largest?.clients)}`,
      largest?.rssKiBPerConnection,
      "≤ 32 KiB",
      (v) => v <= 32,
      (v) => `${v.toFixed(1)} KiB`,
    ),
    check("RSS after disconnect vs start", results.scale?.afterToStart, "≤ 1.10×", (v) => v <= 1.1, x),
  ]
}

export const targetTable = (results: BenchResults): string =>
  table(
    ["target", "measured", "goal", "met"],
    targets(results).map((t) => [
      t.name,
      t.measured,
      t.goal,
      t.met === undefined ? "not measured" : t.met ? "yes" : "**no**",
    ]),
  )

/** Every table, with headings. */
export const renderReport = (results: BenchResults): string => {
  const m = results.machine
  const sections = [
    `## onechat benchmark (${results.mode}, median of ${results.runsPerFigure} runs) — ${results.startedAt}`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, commit ${m.commit?.slice(0, 12) ?? "unknown"}, load average at start ${m.loadAverageAtStart.join(" / ")}`,
  ]
  if (results.logins.length > 0) sections.push("### Logins", loginTable(results))
  const crypto = results.logins.find((r) => r.crypto !== undefined)?.crypto
  if (crypto !== undefined) sections.push(loginCryptoTable(crypto))
  if (results.relay.length > 0)
    sections.push("### Relay throughput (messages/s delivered end to end)", relayTable(results))
  if (results.latency.length > 0)
    sections.push("### Latency (ping-pong round trip, 16 B)", latencyTable(results))
  if (results.scale !== undefined)
    sections.push("### Idle connections and memory (server RSS)", scaleTable(results))
  sections.push("### Targets", targetTable(results))
  if (results.notes.length > 0) sections.push("### Notes", results.notes.map((n) => `- ${n}`).join("\n"))
  return sections.join("\n\n")
}
