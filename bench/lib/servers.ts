/**
 * Starting the processes under test: the onechat server (`node bin/onechat.mjs server …`, its own
 * process, optionally with --cpu-prof) and the baseline servers. Each resolves once the process
 * printed "listening on HOST:PORT".
 */
import { spawnListeningServer } from "./child.ts"
import type { Target } from "./wire.ts"

export type RunningServer = Awaited<ReturnType<typeof spawnListeningServer>>

export interface OnechatServerOptions {
  readonly dir: string
  /** Directory for a V8 CPU profile, written when the server exits. */
  readonly cpuProfileDir?: string
  /** Opens the V8 inspector on a free local port (for forced GCs in the memory scenario). */
  readonly inspect?: boolean
}

/** The onechat server with limits raised for load (no per-address handshake cap in practice). */
export const startOnechatServer = (options: OnechatServerOptions): Promise<RunningServer> =>
  spawnListeningServer("onechat server", [
    ...(options.cpuProfileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`]),
    ...(options.inspect === true ? ["--inspect=127.0.0.1:0"] : []),
    "bin/onechat.mjs",
    "server",
    "--dir",
    options.dir,
    "--port",
    "0",
    "--log",
    "error",
    "--max-connections",
    "30000",
    "--max-handshakes-per-address",
    "100000",
    "--handshake-timeout-ms",
    "120000",
    "--shutdown-grace-ms",
    "2000",
  ])

/** A baseline: the TLS handshake server (offering only `groups`), or the TLS / plaintext relay. */
export const startBaselineServer = (
  kind: "tls-handshake" | "tls-relay" | "plain-relay",
  dir: string,
  groups = "X25519MLKEM768",
) =>
  spawnListeningServer(
    kind,
    kind === "tls-handshake"
      ? ["--import", "tsx", "bench/baselines/tls-handshake-server.ts", "--dir", dir, "--groups", groups]
      : [
          "--import",
          "tsx",
          "bench/baselines/relay-server.ts",
          "--dir",
          dir,
          ...(kind === "tls-relay" ? ["--tls"] : []),
        ],
  )

/** The server a relay or latency load of `target` talks to. */
export const startRelayTarget = (target: Target, dir: string): Promise<RunningServer> =>
  target === "onechat"
    ? startOnechatServer({ dir })
    : startBaselineServer(target === "tls" ? "tls-relay" : "plain-relay", dir)

/** One server per target, started together; `stop` ends them all. */
export const startTargetServers = async (targets: ReadonlyArray<Target>, dir: string) => {
  const started = await Promise.all(targets.map((target) => startRelayTarget(target, dir)))
  const servers = new Map<Target, RunningServer>(targets.map((target, i) => [target, started[i]!]))
  return {
    servers,
    stop: async (): Promise<void> => {
      await Promise.all(started.map((server) => server.stop()))
    },
  }
}
