/**
 * Lets a running server notice `onechat user revoke`: watches D/revoked/ (fs.watch, plus a poll
 * because fs.watch can miss events or be unavailable) and sends REVOKE_USER to the supervisor for
 * each user newly revoked there, which disconnects that user with ERROR REVOKED if online. Logins
 * need none of this (the registry is read at every login). Never fails; lives in the caller's scope.
 * docs/protocol.md §10 (REVOKED), §11 (server policies).
 */
import { type FSWatcher, watch } from "node:fs"
import { lstat, readdir } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Queue, type Scope } from "effect"
import { isValidUserName } from "../protocol/names.ts"
import { dataLayout } from "../store/layout.ts"
import type { Logger } from "./log.ts"
import type { RunningServer } from "./server.ts"

export interface RevocationWatchOptions {
  readonly dir: string
  readonly supervisor: RunningServer["supervisor"]
  readonly log: Logger
  /** Fallback scan interval, in ms. */
  readonly pollMs?: number
}

/** Names whose files are looked at in one scan, at most; the rest wait for the next scan. */
const MAX_ENTRIES_PER_SCAN = 10_000

/**
 * Which revoked/<name>.pub files exist now, each with an identity that changes if it is replaced;
 * `undefined` when the folder cannot be listed (missing, for instance).
 */
const scanRevoked = (folder: string): Effect.Effect<Map<string, string> | undefined> =>
  Effect.tryPromise(async () => {
    const found = new Map<string, string>()
    const entries = await readdir(folder)
    for (const entry of entries.slice(0, MAX_ENTRIES_PER_SCAN)) {
      const name = entry.endsWith(".pub") ? entry.slice(0, -".pub".length) : ""
      if (!isValidUserName(name)) continue
      const stats = await lstat(join(folder, entry)).catch(() => undefined)
      if (stats?.isFile()) found.set(name, `${stats.ino}:${stats.mtimeMs}:${stats.ctimeMs}`)
    }
    return found
  }).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Starts watching D/revoked/ in the current scope and returns at once. Users already revoked when
 * it starts are not reported; a user revoked, re-registered and revoked again is reported again.
 */
export const watchRevocations = (options: RevocationWatchOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const folder = dataLayout(options.dir).revokedDir
    const { supervisor, log } = options
    const pollMs = options.pollMs ?? 1_000
    let known = (yield* scanRevoked(folder)) ?? new Map<string, string>()
    // Capacity 1: any number of fs events between two scans cause one more scan.
    const wake = yield* Queue.dropping<void>(1)
    let watcher: FSWatcher | undefined
    const startWatcher = (): void => {
      if (watcher !== undefined) return
      try {
        watcher = watch(folder, { persistent: false }, () => Queue.offerUnsafe(wake, undefined))
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
    const report = (name: string): void => {
      log.info("user.revoked", { user: name })
      if (supervisor.getSnapshot().status === "active") supervisor.send({ type: "REVOKE_USER", name })
    }
    const scan = Effect.gen(function* () {
      startWatcher()
      const now = yield* scanRevoked(folder)
      if (now === undefined) return // keep what was known: a folder that comes back is no news
      for (const [name, identity] of now) if (known.get(name) !== identity) report(name)
      known = now
    })
    startWatcher()
    yield* Queue.take(wake).pipe(
      Effect.timeoutOption(pollMs),
      Effect.andThen(scan),
      Effect.forever,
      Effect.forkScoped,
    )
  })
