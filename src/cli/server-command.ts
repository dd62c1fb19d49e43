/**
 * `onechat server`: serve on the configured address from a server folder (D/server of a data folder
 * D, or the folder itself), creating a development setup in D on first run. Never reads the CA
 * folder: refuses to start with a stale CRL (saying to run `onechat ca crl`) and reloads crl.pem
 * while running. Its flags are in src/cli/server-flags.ts. Prints one stdout line "listening on
 * HOST:PORT" when ready (and, with --inspect, "inspector on URL"); logs go to stderr.
 */
import { Console, Data, Effect, Option } from "effect"
import type { ServerCredentials } from "../crypto/handshake-server.ts"
import { startInspector } from "../net/inspector.ts"
import { type Logger, makeLogger } from "../net/log.ts"
import { watchRevocations } from "../net/revocation-watch.ts"
import { type ServerConfig, serve } from "../net/server.ts"
import { loadServerCredentials } from "../store/credentials.ts"
import { checkServerCrl, type ServerCrlState } from "../store/crl.ts"
import { renewDevelopmentCrl } from "../store/dev-crl.ts"
import { DEFAULT_DEVELOPMENT_USERS, ensureDevelopmentPki } from "../store/dev-pki.ts"
import { serverFolderOf } from "../store/layout.ts"
import { UserRegistry } from "../store/registry.ts"
import type { ServerOptions } from "./server-flags.ts"

const printDevelopmentPki = (
  dir: string,
  users: ReadonlyArray<{ name: string; passphrase: string; generated: boolean }>,
) =>
  Console.log(
    [
      `Created a DEVELOPMENT PKI in ${dir} (not for production): ca/ (the offline CA; the server never reads it), server/, clients/NAME/.`,
      ...users.map((user) =>
        user.generated
          ? `  user ${user.name}: passphrase ${user.passphrase}`
          : `  user ${user.name}: passphrase from ONECHAT_PASSPHRASE`,
      ),
      "These passphrases are shown once; they are stored nowhere in clear.",
    ].join("\n"),
  )

/** The sentence a stale CRL stops the server with. */
export class StaleCrlError extends Data.TaggedError("StaleCrlError")<{
  readonly path: string
  readonly nextUpdate: Date | undefined
}> {
  override get message(): string {
    const due =
      this.nextUpdate === undefined
        ? "it has no next-update date"
        : `its next update was due at ${this.nextUpdate.toISOString()}`
    return `The CRL ${this.path} is out of date (${due}), and clients refuse a server that staples it, so the server does not start. On the CA machine run "onechat ca crl --ca-dir CA" and copy the new crl.pem here (for an init folder D: "onechat ca crl --ca-dir D/ca --server-dir D/server").`
  }
}

/** Refuses a stale CRL; warns when it is due within days. */
const checkCrlAtStart = (log: Logger, path: string, crl: ServerCrlState) => {
  if (crl.state === "stale") return Effect.fail(new StaleCrlError({ path, nextUpdate: crl.nextUpdate }))
  if (crl.state === "due") {
    log.warn("crl.due", {
      nextUpdate: crl.nextUpdate.toISOString(),
      hint: 'run "onechat ca crl" and copy crl.pem here',
    })
  }
  return Effect.void
}

/** How often a running server looks whether a development CRL (CA beside it) is due. */
const CRL_RENEWAL_CHECK = "6 hours"

/** Renews the CRL of a development folder with the CA beside the server; logs, never fails. */
const renewCrlBeside = (dir: string, log: Logger) =>
  renewDevelopmentCrl(dir, new Date()).pipe(
    Effect.tap((outcome) =>
      Effect.sync(() => {
        if (outcome.renewed)
          log.info("crl.renewed", {
            nextUpdate: outcome.nextUpdate.toISOString(),
            why: "development folder: the CA is beside the server",
          })
      }),
    ),
    Effect.catch((error) => Effect.sync(() => log.warn("crl.renewal-failed", { error: error.message }))),
    Effect.asVoid,
  )

/** Runs `onechat server` (flags: src/cli/server-flags.ts) until SIGINT/SIGTERM. */
export const runServer = (options: ServerOptions) =>
  Effect.gen(function* () {
    const passphrase = process.env.ONECHAT_PASSPHRASE
    const pki = yield* ensureDevelopmentPki({
      dir: options.dir,
      users: DEFAULT_DEVELOPMENT_USERS,
      ...(passphrase === undefined || passphrase === "" ? {} : { passphrase }),
    })
    if (pki.created) yield* printDevelopmentPki(pki.dir, pki.users)
    const log = makeLogger({ format: options.logFormat, level: options.logLevel })
    const folder = serverFolderOf(options.dir)
    yield* renewCrlBeside(options.dir, log)
    yield* checkCrlAtStart(log, folder.crl, yield* checkServerCrl(folder, new Date()))
    // A development folder's CRL (CA beside the server) is renewed as it falls due, while running.
    yield* Effect.forkScoped(
      renewCrlBeside(options.dir, log).pipe(Effect.delay(CRL_RENEWAL_CHECK), Effect.forever),
    )
    let credentials: ServerCredentials = yield* loadServerCredentials(options.dir)
    const registry = new UserRegistry(options.dir)
    yield* registry.prime()
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
      credentials: () => credentials,
      log,
      lookupUser: (name) => registry.lookupUser(name),
      ...(inspector === undefined ? {} : { inspect: inspector.inspect }),
    })
    yield* watchRevocations({
      dir: options.dir,
      supervisor: running.supervisor,
      log,
      onCrl: (crlDer) => {
        credentials = { ...credentials, crlDer }
      },
    })
    // IPv6 in brackets, as --server takes it: "[::]:7707".
    const host = running.host.includes(":") ? `[${running.host}]` : running.host
    yield* Console.log(`onechat server listening on ${host}:${running.port}`)
    if (inspector !== undefined) yield* Console.log(`inspector on ${inspector.url}`)
    return yield* Effect.never
  }).pipe(Effect.scoped)
