/**
 * Lets a running server pick up a new CRL: watches the server folder's crl.pem (fs.watch, plus a
 * poll because fs.watch can miss events or be unavailable). A new CRL that the folder's CA signed
 * and that is in date is handed to `onCrl` (the server staples it from the next login on), and
 * every online user whose certificate serial it lists gets REVOKE_USER (ERROR REVOKED). A CRL that
 * is not valid is refused and the old one kept; one nearing or past its nextUpdate is logged.
 * Never fails; lives in the caller's scope. docs/protocol.md §3.2 (CRL), §10 (REVOKED), §11.
 */
import { type FSWatcher, statSync, watch } from "node:fs"
import { readFile } from "node:fs/promises"
import { Effect, Queue, type Scope } from "effect"
import { certificatePemToDer, certificateSerialNumber } from "../crypto/pki.ts"
import { checkServerCrl } from "../store/crl.ts"
import { serverFolderOf } from "../store/layout.ts"
import type { Logger } from "./log.ts"
import type { RunningServer } from "./server.ts"

export interface RevocationWatchOptions {
  /** The server folder, or a data folder D holding D/server. */
  readonly dir: string
  readonly supervisor: RunningServer["supervisor"]
  readonly log: Logger
  /** Receives each new valid CRL (DER), to staple from then on. */
  readonly onCrl?: (crlDer: Uint8Array) => void
  /** Fallback scan interval, in ms. */
  readonly pollMs?: number
  readonly now?: () => Date
}

/** Online users' certificates, as far as the supervisor's directory tells them. */
interface OnlineDirectory {
  userOf(name: string): { readonly certificate?: Uint8Array } | undefined
}

const HOUR_MS = 3_600_000

/**
 * Starts watching crl.pem in the current scope and returns at once. The CRL in the folder when it
 * starts is taken as the one already stapled (the server checked it at start).
 */
export const watchRevocations = (options: RevocationWatchOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const layout = serverFolderOf(options.dir)
    const { supervisor, log } = options
    const now = options.now ?? (() => new Date())
    const pollMs = options.pollMs ?? 1_000
    const online = new Set<string>()
    supervisor.on("user.online", (event) => online.add(event.name))
    supervisor.on("user.offline", (event) => online.delete(event.name))
    let stamp = stampOf(layout.crl)
    let lastWarning = 0
    /** The last CRL handed to `onCrl` (undefined: the one in the folder at start). */
    let lastDer: Uint8Array | undefined
    // Capacity 1: any number of fs events between two scans cause one more scan.
    const wake = yield* Queue.dropping<void>(1)
    let watcher: FSWatcher | undefined
    const startWatcher = (): void => {
      if (watcher !== undefined) return
      try {
        watcher = watch(layout.root, { persistent: false }, () => Queue.offerUnsafe(wake, undefined))
        watcher.on("error", () => {
          watcher?.close()
          watcher = undefined
        })
      } catch {
        watcher = undefined // no folder yet, or no fs.watch here: the poll still runs
      }
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        watcher?.close()
        watcher = undefined
      }),
    )
    const serialOf = async (name: string): Promise<string | undefined> => {
      const directory = (supervisor.getSnapshot().context as { readonly directory?: OnlineDirectory })
        .directory
      const certificate = directory?.userOf(name)?.certificate
      if (certificate !== undefined && certificate.length > 0) return certificateSerialNumber(certificate)
      // The login's certificate is not known here: the one registered now is the best guess.
      const path = layout.userCertificatePath(name)
      if (path._tag === "Failure") return undefined
      const der = await readFile(path.success, "utf8").then(certificatePemToDer, () => undefined)
      return der === undefined ? undefined : certificateSerialNumber(der)
    }
    const disconnectRevoked = (revoked: ReadonlySet<string>) =>
      Effect.promise(async () => {
        for (const name of [...online]) {
          const serial = await serialOf(name)
          if (serial === undefined || !revoked.has(serial)) continue
          log.info("user.revoked", { user: name, serial })
          if (supervisor.getSnapshot().status === "active") supervisor.send({ type: "REVOKE_USER", name })
        }
      })
    const reload = Effect.gen(function* () {
      const checked = yield* Effect.result(checkServerCrl(layout, now()))
      if (checked._tag === "Failure") {
        log.warn("crl.refused", { error: checked.failure.message, hint: "the previous CRL stays in use" })
        return
      }
      const crl = checked.success
      if (crl.state === "stale") {
        log.error("crl.refused", {
          nextUpdate: crl.nextUpdate?.toISOString() ?? "none",
          hint: 'the new crl.pem is out of date: run "onechat ca crl" and copy it here',
        })
        return
      }
      if (lastDer !== undefined && Buffer.compare(lastDer, crl.der) === 0) return // the same CRL rewritten
      lastDer = crl.der
      options.onCrl?.(crl.der)
      log.info("crl.reloaded", { nextUpdate: crl.nextUpdate.toISOString(), revoked: crl.revokedSerials.size })
      yield* disconnectRevoked(crl.revokedSerials)
    })
    const warnIfDue = Effect.gen(function* () {
      if (now().getTime() - lastWarning < HOUR_MS) return
      const checked = yield* Effect.result(checkServerCrl(layout, now()))
      if (checked._tag === "Failure" || checked.success.state === "fresh") return
      lastWarning = now().getTime()
      const { state, nextUpdate } = checked.success
      const fields = {
        nextUpdate: nextUpdate?.toISOString() ?? "none",
        hint: 'run "onechat ca crl" on the CA machine and copy crl.pem here',
      }
      if (state === "due") log.warn("crl.due", fields)
      else log.error("crl.stale", { ...fields, effect: "clients refuse this server until then" })
    })
    const scan = Effect.gen(function* () {
      startWatcher()
      const current = stampOf(layout.crl)
      if (current !== stamp) {
        stamp = current
        yield* reload
      }
      yield* warnIfDue
    })
    startWatcher()
    yield* warnIfDue
    yield* Queue.take(wake).pipe(
      Effect.timeoutOption(pollMs),
      Effect.andThen(scan),
      Effect.forever,
      Effect.forkScoped,
    )
  })

/** Which file crl.pem is now (identity and times), or "" when there is none. */
const stampOf = (path: string): string => {
  try {
    const stats = statSync(path, { throwIfNoEntry: false })
    return stats === undefined
      ? ""
      : `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`
  } catch {
    return ""
  }
}
