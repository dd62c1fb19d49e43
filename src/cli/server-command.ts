/**
 * `onechat server`: serve on the configured address from a data folder, creating a development
 * PKI there on first run. Flags win over environment variables (ONECHAT_*), which win over the
 * embedded defaults. Prints one stdout line "listening on HOST:PORT" when ready (and, with
 * --inspect, "inspector on URL"); logs go to stderr.
 */
import { Config, Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { defaultConnectionLimits } from "../actors/connection.machine.ts"
import { startInspector } from "../net/inspector.ts"
import { type Logger, makeLogger } from "../net/log.ts"
import { watchRevocations } from "../net/revocation-watch.ts"
import { type ServerConfig, serve } from "../net/server.ts"
import { loadServerCredentials } from "../store/credentials.ts"
import { CRL_RENEWAL_WINDOW_DAYS, type CrlRenewal, renewCrlIfDue } from "../store/crl.ts"
import { DEFAULT_DEVELOPMENT_USERS, ensureDevelopmentPki } from "../store/dev-pki.ts"
import { DEFAULT_DATA_DIR } from "../store/layout.ts"
import { UserRegistry } from "../store/registry.ts"

export const DEFAULT_PORT = 7707

const intFlag = (name: string, env: string, fallback: number, description: string) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env)),
    Flag.withDefault(fallback),
    Flag.withDescription(`${description} (env ${env}, default ${fallback})`),
  )

export const dirFlag = Flag.String("dir").pipe(
  Flag.withFallbackConfig(Config.String("ONECHAT_DIR")),
  Flag.withDefault(DEFAULT_DATA_DIR),
  Flag.withDescription(`Data folder (env ONECHAT_DIR, default ${DEFAULT_DATA_DIR})`),
)
export const hostFlag = Flag.String("host").pipe(
  Flag.withFallbackConfig(Config.String("ONECHAT_HOST")),
  Flag.withDefault("127.0.0.1"),
  Flag.withDescription("Address (env ONECHAT_HOST, default 127.0.0.1)"),
)

const flags = {
  dir: dirFlag,
  host: hostFlag,
  port: intFlag("port", "ONECHAT_PORT", DEFAULT_PORT, "TCP port; 0 picks a free one"),
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

const printDevelopmentPki = (
  dir: string,
  users: ReadonlyArray<{ name: string; passphrase: string; generated: boolean }>,
) =>
  Console.log(
    [
      `Created a DEVELOPMENT PKI in ${dir} (not for production): CA, server certificate, CRL, users.`,
      ...users.map((user) =>
        user.generated
          ? `  user ${user.name}: passphrase ${user.passphrase}`
          : `  user ${user.name}: passphrase from ONECHAT_PASSPHRASE`,
      ),
      "These passphrases are shown once; they are stored nowhere in clear.",
    ].join("\n"),
  )

/** `crl.renewed`, or a warning when the CRL is due and could not be renewed here (no CA key). */
const logCrlRenewal = (log: Logger, { renewed, nextUpdate }: CrlRenewal, now = new Date()): void => {
  const fields = { nextUpdate: nextUpdate.toISOString() }
  if (renewed) log.info("crl.renewed", fields)
  else if (nextUpdate.getTime() <= now.getTime()) {
    log.warn("crl.stale", { ...fields, hint: "clients refuse this server until the CA issues a new CRL" })
  } else if (nextUpdate.getTime() - now.getTime() <= CRL_RENEWAL_WINDOW_DAYS * 86_400_000) {
    log.warn("crl.due", { ...fields, hint: "no CA key in the data folder to renew it" })
  }
}

export const serverCommand = Command.make("server", flags, (options) =>
  Effect.gen(function* () {
    const passphrase = process.env.ONECHAT_PASSPHRASE
    const pki = yield* ensureDevelopmentPki({
      dir: options.dir,
      users: DEFAULT_DEVELOPMENT_USERS,
      ...(passphrase === undefined || passphrase === "" ? {} : { passphrase }),
    })
    if (pki.created) yield* printDevelopmentPki(pki.dir, pki.users)
    const log = makeLogger({ format: options.logFormat, level: options.logLevel })
    logCrlRenewal(log, yield* renewCrlIfDue({ dir: options.dir }))
    const credentials = yield* loadServerCredentials(options.dir)
    const registry = new UserRegistry(options.dir)
    // Keeps registry answers in memory, checked against the files at every login (registry.ts).
    yield* registry.watch()
    const config: ServerConfig = {
      host: options.host,
      port: options.port,
      maxConnections: options.maxConnections,
      maxHandshakesPerAddress: options.maxHandshakes,
      maxOutboundBytes: options.maxOutboundBytes,
      closeGraceMs: 2_000,
      shutdownGraceMs: options.shutdownGraceMs,
      limits: {
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        idlePingMs: options.idlePingMs,
        idleTimeoutMs: options.idleTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
      },
    }
    // Started first so that it sees the supervisor's first snapshot; closed after the server.
    const inspector = Option.isSome(options.inspect)
      ? yield* startInspector({ port: options.inspect.value, showNames: options.inspectNames, log })
      : undefined
    const running = yield* serve(config, {
      credentials,
      log,
      lookupUser: (name) => registry.lookupUser(name),
      ...(inspector === undefined ? {} : { inspect: inspector.inspect }),
    })
    yield* watchRevocations({ dir: options.dir, supervisor: running.supervisor, log })
    yield* Console.log(`onechat server listening on ${running.host}:${running.port}`)
    if (inspector !== undefined) yield* Console.log(`inspector on ${inspector.url}`)
    return yield* Effect.never
  }).pipe(Effect.scoped),
).pipe(
  Command.withDescription(
    "Run the onechat server (creates a development PKI in the data folder on first run)",
  ),
)
