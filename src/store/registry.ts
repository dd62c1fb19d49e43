/**
 * The user registry the server consults at each login: D/users/<name>.pub (registered, SPKI PEM)
 * and D/revoked/<name>.pub (revoked). Adding or revoking a user needs no restart; no folder is ever
 * listed. An invalid name never reaches the filesystem.
 * docs/protocol.md §2.3 (names), §3.3 (the server checks the client's registered key).
 *
 * `lookup` reads the files every time. While `watch()`'s scope is open, answers are also kept in
 * memory (docs/performance.md #6), and a kept answer is used only when all of these hold:
 *
 * - both folders are being watched (fs.watch): any event in users/ or revoked/ forgets every kept
 *   answer, and a watcher error, or a folder replaced by another, stops the keeping (lookups read
 *   the files again until watching works again);
 * - a `stat` of D/users/<name>.pub right before the use finds the same file as when it was read
 *   (device, inode, size, mtime, ctime; or still no file), and for a refused name the same for
 *   D/revoked/<name>.pub. `onechat user revoke` renames the file away and `onechat user add`
 *   links a new one, so their effect is seen at the next login even before the watch event
 *   arrives; the stat was taken before the read, so a change during the read is seen too;
 * - the files read had not changed for a second (ctime): a rewrite in place within the same
 *   timestamp tick cannot leave an old key behind an unchanged stat.
 *
 * Failed lookups (unreadable or malformed files) are never kept.
 */
import { type FSWatcher, lstatSync, type Stats, statSync, watch } from "node:fs"
import { Effect, Result, type Scope } from "effect"
import { importPublicKeyPem, MAX_PEM_CHARS } from "../crypto/identity.ts"
import { type StoreError, storeError } from "./errors.ts"
import { type DataLayout, dataLayout, pathExists, readSmallFile } from "./layout.ts"

/** What the registry knows about a name. `publicKey` is the raw 32-byte Ed25519 key. */
export type RegistryEntry =
  | { readonly status: "registered"; readonly publicKey: Uint8Array }
  | { readonly status: "revoked" }
  | { readonly status: "unknown" }

const UNKNOWN: RegistryEntry = { status: "unknown" }
const REVOKED: RegistryEntry = { status: "revoked" }

/** Registered users kept in memory, at most; the oldest is forgotten first. */
export const MAX_CACHED_REGISTERED = 100_000
/** Unknown or revoked names kept in memory, at most (names come from the network). */
export const MAX_CACHED_REFUSED = 4_096
/** A file changed less than this long ago (ctime) is read again at every lookup. */
export const SETTLE_MS = 1_000
/** How long after a watcher failed (or a folder was missing) watching is tried again. */
const WATCH_RETRY_MS = 1_000

/** Which file a path named when it was looked at; `undefined`: nothing there. */
type FileStamp =
  | {
      readonly dev: number
      readonly ino: number
      readonly size: number
      readonly mtimeMs: number
      readonly ctimeMs: number
    }
  | undefined

interface Kept {
  readonly entry: RegistryEntry
  readonly registeredPath: string
  readonly registered: FileStamp
  /** Refused names only: the revoked file's stamp. */
  readonly revokedPath?: string
  readonly revoked?: FileStamp
}

export interface UserRegistryOptions {
  /** The clock that file ctimes are compared with (tests). */
  readonly now?: () => number
}

/** The registry of the data folder `dir`. Holds no state besides the folder's paths, unless watched. */
export class UserRegistry {
  readonly layout: DataLayout
  /** Whether `watch()` is active (its scope is open). */
  #caching = false
  readonly #now: () => number
  #watchers: FSWatcher[] = []
  /** Inodes of users/ and revoked/ when the watchers started. */
  #watchedFolders: ReadonlyArray<{ readonly path: string; readonly ino: number }> = []
  #retryAt = 0
  /** Changes at every event, error and stop: an answer read across a change is not kept. */
  #generation = 0
  readonly #registered = new Map<string, Kept>()
  readonly #refused = new Map<string, Kept>()

  constructor(dir: string, options: UserRegistryOptions = {}) {
    this.layout = dataLayout(dir)
    this.#now = options.now ?? Date.now
  }

  /**
   * The registry entry for `name`: "registered" with its key when D/users/<name>.pub exists,
   * else "revoked" when D/revoked/<name>.pub exists, else "unknown" (also for an invalid name).
   * Fails with "Malformed" when the registered file is not an Ed25519 SPKI PEM, and with
   * "Unreadable"/"Io" when it cannot be read: the caller must then refuse the login.
   */
  lookup(name: string): Effect.Effect<RegistryEntry, StoreError> {
    return Effect.suspend(() => {
      const kept = this.#keptEntry(name)
      return kept === undefined ? this.#readAndKeep(name) : Effect.succeed(kept)
    })
  }

  /**
   * `lookup` as a Promise, for the server's logins (src/net `UserLookup`): an answer kept in
   * memory is returned without running an Effect.
   */
  lookupUser(name: string): Promise<RegistryEntry> {
    const kept = this.#keptEntry(name)
    return kept === undefined ? Effect.runPromise(this.#readAndKeep(name)) : Promise.resolve(kept)
  }

  /**
   * Keeps answers in memory while the current scope is open (see the top of this file). When the
   * folders cannot be watched, lookups keep reading the files (and watching is tried again).
   */
  watch(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => this.#startCaching()),
      () => Effect.sync(() => this.#stopCaching()),
    )
  }

  /** Whether answers are being kept right now (both folders watched). */
  get cacheActive(): boolean {
    return this.#caching && this.#watchers.length > 0
  }

  #startCaching(): void {
    this.#caching = true
    this.#retryAt = 0
    this.#startWatching()
  }

  #stopCaching(): void {
    this.#caching = false
    this.#stopWatching()
  }

  #startWatching(): void {
    if (!this.#caching || this.#watchers.length > 0) return
    this.#retryAt = this.#now() + WATCH_RETRY_MS
    const folders = [this.layout.usersDir, this.layout.revokedDir]
    const watchers: FSWatcher[] = []
    try {
      const watched = folders.map((path) => ({ path, ino: statSync(path).ino }))
      for (const folder of folders) {
        const watcher = watch(folder, { persistent: false }, () => this.#onFolderEvent())
        watchers.push(watcher)
        watcher.on("error", () => this.#stopWatching())
      }
      // A folder replaced while the watches were being set up: give up for now, try again later.
      if (watched.some(({ path, ino }) => statSync(path).ino !== ino)) throw new Error("folder replaced")
      this.#watchedFolders = watched
    } catch {
      for (const watcher of watchers) watcher.close()
      return // a folder is missing, or no fs.watch here: read every time, try again later
    }
    this.#watchers = watchers
    this.#forget()
  }

  #stopWatching(): void {
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
    this.#watchedFolders = []
    this.#retryAt = this.#now() + WATCH_RETRY_MS
    this.#forget()
  }

  #onFolderEvent(): void {
    this.#forget()
    // A watched folder renamed or deleted (then maybe made again) leaves a watch on the wrong one.
    const moved = this.#watchedFolders.some(({ path, ino }) => {
      try {
        return statSync(path).ino !== ino
      } catch {
        return true
      }
    })
    if (moved) this.#stopWatching()
  }

  #forget(): void {
    this.#generation++
    this.#registered.clear()
    this.#refused.clear()
  }

  /** A kept answer for `name` that is still right, or `undefined` (then read the files). */
  #keptEntry(name: string): RegistryEntry | undefined {
    if (!this.#caching) return undefined
    if (this.#watchers.length === 0) {
      if (this.#now() >= this.#retryAt) this.#startWatching()
      return undefined
    }
    const registered = this.#registered.get(name)
    const kept = registered ?? this.#refused.get(name)
    if (kept === undefined) return undefined
    const fresh =
      sameStamp(kept.registered, stampOf(kept.registeredPath, "follow")) &&
      (kept.revokedPath === undefined || sameStamp(kept.revoked, stampOf(kept.revokedPath, "link")))
    if (!fresh) {
      ;(registered === undefined ? this.#refused : this.#registered).delete(name)
      return undefined
    }
    const { entry } = kept
    // A copy: the caller may keep or wipe its key without touching the kept one.
    return entry.status === "registered"
      ? { status: "registered", publicKey: entry.publicKey.slice() }
      : entry
  }

  /** Reads the files; keeps the answer when caching and nothing changed meanwhile. */
  #readAndKeep(name: string): Effect.Effect<RegistryEntry, StoreError> {
    const registeredPath = this.layout.userKeyPath(name)
    const revokedPath = this.layout.revokedKeyPath(name)
    if (Result.isFailure(registeredPath) || Result.isFailure(revokedPath)) return Effect.succeed(UNKNOWN)
    const read = readEntry(name, registeredPath.success, revokedPath.success)
    if (!this.#caching || this.#watchers.length === 0) return read
    // Stamps first, then the read: a change during the read makes the stamps stale, never the answer.
    const generation = this.#generation
    // Like the read: open() follows a symbolic link in users/, pathExists (lstat) does not in revoked/.
    const registered = stampOf(registeredPath.success, "follow")
    const revoked = stampOf(revokedPath.success, "link")
    return Effect.map(read, (entry) => {
      if (registered === null || revoked === null || generation !== this.#generation) return entry
      if (!this.#settled(registered) || !this.#settled(revoked)) return entry
      this.#registered.delete(name)
      this.#refused.delete(name)
      if (entry.status === "registered") {
        keep(this.#registered, MAX_CACHED_REGISTERED, name, {
          entry: { status: "registered", publicKey: entry.publicKey.slice() },
          registeredPath: registeredPath.success,
          registered,
        })
      } else {
        keep(this.#refused, MAX_CACHED_REFUSED, name, {
          entry,
          registeredPath: registeredPath.success,
          registered,
          revokedPath: revokedPath.success,
          revoked,
        })
      }
      return entry
    })
  }

  #settled(stamp: FileStamp): boolean {
    return stamp === undefined || this.#now() - stamp.ctimeMs >= SETTLE_MS
  }
}

/** Reads D/users/<name>.pub, else looks for D/revoked/<name>.pub. */
const readEntry = (
  name: string,
  registeredPath: string,
  revokedPath: string,
): Effect.Effect<RegistryEntry, StoreError> => {
  const context = { path: registeredPath, subject: "registered public key", userName: name }
  return readSmallFile(context, MAX_PEM_CHARS).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
    Effect.flatMap((pem) => {
      if (pem === undefined) {
        return pathExists(revokedPath, "revoked public key").pipe(
          Effect.map((revoked) => (revoked ? REVOKED : UNKNOWN)),
        )
      }
      const publicKey = importPublicKeyPem(pem)
      return Result.isSuccess(publicKey)
        ? Effect.succeed<RegistryEntry>({ status: "registered", publicKey: publicKey.success })
        : Effect.fail(
            storeError(
              "Malformed",
              context,
              publicKey.failure.reason === "NotEd25519" ? "not an Ed25519 key" : "not an SPKI PEM public key",
            ),
          )
    }),
  )
}

/** The file at `path` now; `undefined` when there is none, `null` when that cannot be told. */
const stampOf = (path: string, links: "follow" | "link"): FileStamp | null => {
  let stats: Stats | undefined
  try {
    stats = (links === "follow" ? statSync : lstatSync)(path, { throwIfNoEntry: false })
  } catch {
    return null // e.g. EACCES, ENOTDIR: never matches, so the files are read and the error reported
  }
  if (stats === undefined) return undefined
  const { dev, ino, size, mtimeMs, ctimeMs } = stats
  return { dev, ino, size, mtimeMs, ctimeMs }
}

const sameStamp = (kept: FileStamp, now: FileStamp | null): boolean =>
  kept === undefined || now === undefined || now === null
    ? kept === now
    : kept.dev === now.dev &&
      kept.ino === now.ino &&
      kept.size === now.size &&
      kept.mtimeMs === now.mtimeMs &&
      kept.ctimeMs === now.ctimeMs

const keep = (map: Map<string, Kept>, max: number, name: string, kept: Kept): void => {
  if (map.size >= max) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
  map.set(name, kept)
}
