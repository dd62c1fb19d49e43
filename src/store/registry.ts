/**
 * The user registry the server consults at each login: the user identity certificates in the
 * server folder's users/<name>.cert.pem, judged against its ca.cert.pem and crl.pem. A user is
 * registered when the certificate chains to that CA, is in date, names the user and is not listed
 * in the current CRL; revoked when the file is there but fails any of that; unknown without a file.
 * Adding, replacing or removing a certificate, or a new crl.pem, needs no restart; no folder is ever
 * listed. An invalid name never reaches the filesystem. The CA key is never needed.
 * docs/protocol.md §2.3 (names), §3.3 (the server checks the client's certified key), §8.3.
 *
 * `lookup` reads the certificate every time. While `watch()`'s scope is open, certificate files
 * read are also kept in memory (docs/performance.md #6), and a kept one is used only when all hold:
 *
 * - users/ and the server folder are being watched (fs.watch): any event there forgets every kept
 *   answer, and a watcher error, or a folder replaced by another, stops the keeping (lookups read
 *   the files again until watching works again);
 * - a `stat` of users/<name>.cert.pem right before the use finds the same file as when it was read
 *   (device, inode, size, mtime, ctime; or still no file), so a certificate replaced or removed is
 *   seen at the next login even before the watch event arrives;
 * - the file read had not changed for a second (ctime): a rewrite in place within the same
 *   timestamp tick cannot leave an old certificate behind an unchanged stat.
 *
 * The verdict itself (dates, CRL) is worked out again at every lookup from the kept bytes; the CA
 * certificate and CRL are re-read whenever their files change (checked by stat at each lookup).
 * Failed lookups (unreadable or malformed files) are never kept.
 */
import { type FSWatcher, lstatSync, readFileSync, type Stats, statSync, watch } from "node:fs"
import { Effect, Result, type Scope } from "effect"
import { decodePem, MAX_PEM_CHARS } from "../crypto/identity.ts"
import { certificatePemToDer } from "../crypto/pki.ts"
import { verifyCrl, verifyUserCertificate } from "../crypto/pki-check.ts"
import { bytesEqual } from "../crypto/primitives.ts"
import { type StoreError, storeError } from "./errors.ts"
import { MAX_STORE_FILE_BYTES, readSmallFile, type ServerLayout, serverFolderOf } from "./layout.ts"

/** What the registry knows about a name. `publicKey` is the raw 32-byte Ed25519 key it certifies. */
export type RegistryEntry =
  | {
      readonly status: "registered"
      readonly publicKey: Uint8Array
      readonly certificateDer: Uint8Array
      readonly serialNumber: string
    }
  /** `detail`: why (for the server log only; the wire says LOGIN_FAILED either way). */
  | { readonly status: "revoked"; readonly detail: string }
  | { readonly status: "unknown" }

const UNKNOWN: RegistryEntry = { status: "unknown" }

/** Users whose certificate is kept in memory, at most; the oldest is forgotten first. */
export const MAX_CACHED_REGISTERED = 100_000
/** Names without a certificate kept in memory, at most (names come from the network). */
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

/** A certificate file as read (`der` undefined: no file), and the stamp it was read under. */
interface Kept {
  readonly der: Uint8Array | undefined
  readonly stamp: FileStamp
}

/** The CA certificate and CRL the certificates are judged against, with the stamps they were read under. */
interface Trust {
  readonly caCertificateDer: Uint8Array
  readonly crlDer: Uint8Array
  readonly caStamp: FileStamp | null
  readonly crlStamp: FileStamp | null
}

export interface UserRegistryOptions {
  /** The clock for certificate dates and file ctimes (tests). */
  readonly now?: () => number
}

/** The registry of the server folder of `dir` (D/server, else D). Holds the folder's paths, and kept files when watched. */
export class UserRegistry {
  readonly layout: ServerLayout
  /** Whether `watch()` is active (its scope is open). */
  #caching = false
  readonly #now: () => number
  #watchers: FSWatcher[] = []
  /** Inodes of the watched folders when the watchers started. */
  #watchedFolders: ReadonlyArray<{ readonly path: string; readonly ino: number }> = []
  #retryAt = 0
  /** Changes at every event, error and stop: a file read across a change is not kept. */
  #generation = 0
  readonly #present = new Map<string, Kept>()
  readonly #absent = new Map<string, Kept>()
  #trust: Trust | undefined

  constructor(dir: string, options: UserRegistryOptions = {}) {
    this.layout = serverFolderOf(dir)
    this.#now = options.now ?? Date.now
  }

  /**
   * The registry entry for `name` (see the top of this file); "unknown" also for an invalid name.
   * Fails with "Malformed" when the certificate file is not a PEM certificate, or the CA copy or
   * CRL is missing or unreadable, and with "Unreadable"/"Io": the caller must then refuse the login.
   */
  lookup(name: string): Effect.Effect<RegistryEntry, StoreError> {
    return Effect.suspend(() => {
      const kept = this.#keptFile(name)
      return kept === undefined
        ? Effect.flatMap(this.#readAndKeep(name), (der) => this.#judge(name, der))
        : this.#judge(name, kept.der)
    })
  }

  /**
   * `lookup` as a Promise, for the server's logins (src/net `UserLookup`): a certificate kept in
   * memory is judged without running an Effect.
   */
  lookupUser(name: string): Promise<RegistryEntry> {
    const kept = this.#keptFile(name)
    if (kept !== undefined) {
      const judged = this.#judgeSync(name, kept.der)
      if (judged !== undefined)
        return Result.isSuccess(judged) ? Promise.resolve(judged.success) : Promise.reject(judged.failure)
    }
    return Effect.runPromise(this.lookup(name))
  }

  /** Reads the CA copy and the CRL now (the server does at start, so that a bad CRL dropped in later cannot replace a good one). */
  prime(): Effect.Effect<void, StoreError> {
    return Effect.asVoid(this.#loadTrust())
  }

  /**
   * Keeps certificate files in memory while the current scope is open (see the top of this file).
   * When the folders cannot be watched, lookups keep reading the files (and watching is tried again).
   */
  watch(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => this.#startCaching()),
      () => Effect.sync(() => this.#stopCaching()),
    )
  }

  /** Whether files are being kept right now (both folders watched). */
  get cacheActive(): boolean {
    return this.#caching && this.#watchers.length > 0
  }

  /** The verdict for a certificate (or none), against the current CA copy and CRL. */
  #judge(name: string, der: Uint8Array | undefined): Effect.Effect<RegistryEntry, StoreError> {
    return Effect.suspend(() => {
      const judged = this.#judgeSync(name, der)
      if (judged !== undefined) return Effect.fromResult(judged)
      return Effect.map(this.#loadTrust(), (trust) => this.#verdict(name, der, trust))
    })
  }

  /** The verdict when the trust files are loaded and unchanged; `undefined` when they must be read first. */
  #judgeSync(
    name: string,
    der: Uint8Array | undefined,
  ): Result.Result<RegistryEntry, StoreError> | undefined {
    if (der === undefined) return Result.succeed(UNKNOWN)
    const trust = this.#trust
    const fresh =
      trust !== undefined &&
      sameStamp(trust.caStamp, stampOf(this.layout.caCertificate, "follow")) &&
      sameStamp(trust.crlStamp, stampOf(this.layout.crl, "follow"))
    return fresh ? Result.succeed(this.#verdict(name, der, trust)) : undefined
  }

  #verdict(name: string, der: Uint8Array | undefined, trust: Trust): RegistryEntry {
    if (der === undefined) return UNKNOWN
    const verified = verifyUserCertificate({
      certificateDer: der,
      caCertificateDer: trust.caCertificateDer,
      crlDer: trust.crlDer,
      now: new Date(this.#now()),
      expectedName: name,
    })
    if (Result.isFailure(verified)) return { status: "revoked", detail: verified.failure.message }
    const { publicKey, serialNumber } = verified.success
    return { status: "registered", publicKey, certificateDer: der.slice(), serialNumber }
  }

  /** Reads the CA copy and the CRL (stamps first: a change during the read makes them stale). */
  #loadTrust(): Effect.Effect<Trust, StoreError> {
    return Effect.try({
      try: (): Trust => {
        const caStamp = stampOf(this.layout.caCertificate, "follow")
        const crlStamp = stampOf(this.layout.crl, "follow")
        const caCertificateDer = readPemDer(this.layout.caCertificate, "CERTIFICATE")
        const crlDer = this.#acceptedCrl(readPemDer(this.layout.crl, "X509 CRL"), caCertificateDer)
        const trust = { caCertificateDer, crlDer, caStamp, crlStamp }
        // Kept only when both stamps could be taken; otherwise read again at the next lookup.
        this.#trust = caStamp === null || crlStamp === null ? undefined : trust
        return trust
      },
      catch: (failure) =>
        failure instanceof TrustFileError
          ? storeError(failure.reason, { path: failure.path, subject: failure.subject }, failure.detail)
          : storeError("Io", { path: this.layout.root, subject: "server folder" }, "unexpected failure"),
    })
  }

  /**
   * `crlDer`, unless the CA did not sign it (or it cannot be parsed, or is not yet valid) while the
   * CRL read before was good: a bad crl.pem dropped in then leaves the previous one in force, as
   * the server's staple does (src/net/revocation-watch.ts). A stale CRL is taken: it refuses everyone.
   */
  #acceptedCrl(crlDer: Uint8Array, caCertificateDer: Uint8Array): Uint8Array {
    const previous = this.#trust
    if (previous === undefined || !bytesEqual(previous.caCertificateDer, caCertificateDer)) return crlDer
    const checked = verifyCrl({ crlDer, caCertificateDer, now: new Date(this.#now()) })
    return Result.isSuccess(checked) || checked.failure.problem === "CrlStale" ? crlDer : previous.crlDer
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
    const folders = [this.layout.usersDir, this.layout.root]
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
    this.#present.clear()
    this.#absent.clear()
  }

  /** A kept file for `name` that is still the file on disk, or `undefined` (then read it). */
  #keptFile(name: string): Kept | undefined {
    if (!this.#caching) return undefined
    if (this.#watchers.length === 0) {
      if (this.#now() >= this.#retryAt) this.#startWatching()
      return undefined
    }
    const present = this.#present.get(name)
    const kept = present ?? this.#absent.get(name)
    if (kept === undefined) return undefined
    const path = this.layout.userCertificatePath(name)
    if (Result.isFailure(path) || !sameStamp(kept.stamp, stampOf(path.success, "follow"))) {
      ;(present === undefined ? this.#absent : this.#present).delete(name)
      return undefined
    }
    return kept
  }

  /** Reads the certificate file (DER, or undefined when there is none); keeps it when caching and nothing changed. */
  #readAndKeep(name: string): Effect.Effect<Uint8Array | undefined, StoreError> {
    const path = this.layout.userCertificatePath(name)
    if (Result.isFailure(path)) return Effect.succeed(undefined)
    const read = readCertificate(name, path.success)
    if (!this.#caching || this.#watchers.length === 0) return read
    // Stamp first, then the read: a change during the read makes the stamp stale, never the answer.
    const generation = this.#generation
    const stamp = stampOf(path.success, "follow")
    return Effect.map(read, (der) => {
      if (stamp === null || generation !== this.#generation || !this.#settled(stamp)) return der
      this.#present.delete(name)
      this.#absent.delete(name)
      if (der === undefined) keep(this.#absent, MAX_CACHED_REFUSED, name, { der, stamp })
      else keep(this.#present, MAX_CACHED_REGISTERED, name, { der, stamp })
      return der
    })
  }

  #settled(stamp: FileStamp): boolean {
    return stamp === undefined || this.#now() - stamp.ctimeMs >= SETTLE_MS
  }
}

/** users/<name>.cert.pem as DER; `undefined` when there is no such file. */
const readCertificate = (name: string, path: string): Effect.Effect<Uint8Array | undefined, StoreError> => {
  const context = { path, subject: "user certificate", userName: name }
  return readSmallFile(context, MAX_PEM_CHARS).pipe(
    Effect.map((pem): Uint8Array | undefined | null => certificatePemToDer(pem) ?? null),
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
    Effect.flatMap((der) =>
      der === null
        ? Effect.fail(storeError("Malformed", context, "not a PEM certificate"))
        : Effect.succeed(der),
    ),
  )
}

class TrustFileError {
  constructor(
    readonly reason: "NotFound" | "Malformed" | "Unreadable",
    readonly path: string,
    readonly subject: string,
    readonly detail?: string,
  ) {}
}

/** The DER of the `label` PEM block in the file at `path` (bounded); throws TrustFileError. */
const readPemDer = (path: string, label: "CERTIFICATE" | "X509 CRL"): Uint8Array => {
  const subject = label === "CERTIFICATE" ? "CA certificate" : "certificate revocation list"
  let text: string
  try {
    if (statSync(path).size > MAX_STORE_FILE_BYTES)
      throw new TrustFileError("Malformed", path, subject, "too large")
    text = readFileSync(path, "utf8")
  } catch (error) {
    if (error instanceof TrustFileError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw new TrustFileError(code === "ENOENT" ? "NotFound" : "Unreadable", path, subject, code)
  }
  const block = decodePem(text)
  if (block?.label !== label) throw new TrustFileError("Malformed", path, subject, `not a PEM ${label}`)
  return block.der
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

const sameStamp = (kept: FileStamp | null, now: FileStamp | null): boolean =>
  kept === null || now === null
    ? false
    : kept === undefined || now === undefined
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
