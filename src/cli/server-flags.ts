/**
 * `onechat server`'s flags: address, limits, logging, inspector. Each flag wins over its
 * environment variable (ONECHAT_*), which wins over the embedded default. Loads no server code
 * (only the connection machine, for its default limits): the handler is src/cli/server-command.ts.
 */
import { Config } from "effect"
import { type Command, Flag } from "effect/cli"
import { defaultConnectionLimits } from "../actors/connection.machine.ts"
import { DEFAULT_PORT, dirFlag, hostFlag } from "./shared-flags.ts"

/** A whole number from `least` to `most`: anything else is a usage error naming the range. */
interface Range {
  readonly least: number
  readonly most?: number
  readonly expected: string
}
const POSITIVE: Range = { least: 1, expected: "a whole number of at least 1" }
const PORT: Range = { least: 0, most: 65_535, expected: "a TCP port from 0 to 65535" }

/** An integer flag with its environment variable and default, checked against `range`. */
const intFlag = (name: string, env: string, fallback: number, description: string, range = POSITIVE) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env)),
    Flag.withDefault(fallback),
    Flag.filter(
      (value) => value >= range.least && value <= (range.most ?? Number.MAX_SAFE_INTEGER),
      () => range.expected,
    ),
    Flag.withDescription(`${description} (env ${env}, default ${fallback})`),
  )

export const serverFlags = {
  dir: dirFlag,
  host: hostFlag,
  port: intFlag("port", "ONECHAT_PORT", DEFAULT_PORT, "TCP port; 0 picks a free one", PORT),
  maxConnections: intFlag("max-connections", "ONECHAT_MAX_CONNECTIONS", 20_000, "Open connections at most"),
  maxHandshakes: intFlag(
    "max-handshakes-per-address",
    "ONECHAT_MAX_HANDSHAKES_PER_ADDRESS",
    512,
    "Logins in progress per client address",
  ),
  maxOutboundBytes: intFlag(
    "max-outbound-bytes",
    "ONECHAT_MAX_OUTBOUND_BYTES",
    8 * 1024 * 1024,
    "Unread bytes queued for one client before it is disconnected",
  ),
  handshakeTimeoutMs: intFlag(
    "handshake-timeout-ms",
    "ONECHAT_HANDSHAKE_TIMEOUT_MS",
    defaultConnectionLimits.handshakeTimeoutMs,
    "Login must finish within",
  ),
  idlePingMs: intFlag(
    "idle-ping-ms",
    "ONECHAT_IDLE_PING_MS",
    defaultConnectionLimits.idlePingMs,
    "Ping a silent client after",
  ),
  idleTimeoutMs: intFlag(
    "idle-timeout-ms",
    "ONECHAT_IDLE_TIMEOUT_MS",
    defaultConnectionLimits.idleTimeoutMs,
    "Close a client that stays silent after a ping for",
  ),
  requestTimeoutMs: intFlag(
    "request-timeout-ms",
    "ONECHAT_REQUEST_TIMEOUT_MS",
    defaultConnectionLimits.requestTimeoutMs,
    "An unanswered chat request expires after",
  ),
  shutdownGraceMs: intFlag(
    "shutdown-grace-ms",
    "ONECHAT_SHUTDOWN_GRACE_MS",
    5_000,
    "On SIGINT/SIGTERM, close within",
  ),
  logFormat: Flag.Literals("log-format", ["text", "json"]).pipe(
    Flag.withFallbackConfig(Config.Literals(["text", "json"], "ONECHAT_LOG_FORMAT")),
    Flag.withDefault("text" as const),
    Flag.withDescription("Log lines on stderr as text or JSON (env ONECHAT_LOG_FORMAT)"),
  ),
  logLevel: Flag.Literals("log", ["debug", "info", "warn", "error"]).pipe(
    Flag.withFallbackConfig(Config.Literals(["debug", "info", "warn", "error"], "ONECHAT_LOG_LEVEL")),
    Flag.withDefault("info" as const),
    Flag.withDescription("Least severe log level shown (env ONECHAT_LOG_LEVEL)"),
  ),
  inspect: Flag.Int("inspect").pipe(
    Flag.filter(
      (port) => port >= PORT.least && port <= 65_535,
      () => PORT.expected,
    ),
    Flag.optional,
    Flag.withDescription(
      "Serve a live view of the connection states on http://127.0.0.1:PORT/ (0 picks a free port)",
    ),
  ),
  inspectNames: Flag.Boolean("inspect-names").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Show user names in the inspector (default: connection ids only)"),
  ),
}

export type ServerOptions = Command.Command.Config.Infer<typeof serverFlags>
