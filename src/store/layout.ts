/**
 * The onechat folders, in one place: every path in them, and how their files are read (bounded)
 * and written (atomically, with fixed modes). Three roles, each a folder of its own, so that each
 * machine holds only what it needs: the offline CA, the server, and each user's client. A user name
 * is checked with `isValidUserName` (docs/protocol.md §2.3) before it is joined into a path, and the
 * result is checked to sit directly in its folder. No crypto here. `onechat init --dir D` makes:
 *
 *   D/README.txt                        what each folder is for (development PKI, not for production)
 *   D/ca/                               THE OFFLINE CA: its key is nowhere else; not needed to serve
 *     ca.cert.pem                       CA certificate (public: every server and client has a copy)
 *     ca.key.pem                        CA private key, encrypted PKCS#8
 *     ca.passphrase                     its passphrase (0600; development only)
 *     crl.pem                           the CA's current CRL (copied to the server after each change)
 *     issued/<serial>.cert.pem          every certificate the CA issued (to revoke by name)
 *   D/server/                           everything the server reads (works with D/ca deleted)
 *     server.cert.pem                   server certificate (SANs: localhost, 127.0.0.1 + names given)
 *     server.key.pem                    server private key, encrypted PKCS#8
 *     server.passphrase                 its passphrase (0600; ONECHAT_SERVER_PASSPHRASE overrides it)
 *     ca.cert.pem                       copy of the CA certificate: user certificates chain to it
 *     crl.pem                           CRL stapled at login; reloaded when it changes
 *     users/<name>.cert.pem             user identity certificates: THE registry of users
 *   D/clients/<name>/                   one user's folder, self-contained (copy it, or make it by keygen)
 *     key.pem                           the user's private key, encrypted PKCS#8
 *     <name>.pub.pem                    the public key (SPKI PEM) sent to the CA operator
 *     ca.cert.pem                       copy of the CA certificate: the client trusts this
 *     crl.pem                           the freshest CRL the client has seen (optional)
 *     known_peers.json                  peer keys pinned by the client
 *
 * A folder given to `onechat server --dir` is D/server when that exists, else the folder itself; to
 * `onechat client NAME --dir`, D/clients/NAME when that exists, else the folder itself when it holds
 * a key.pem (a folder made by `onechat keygen`), else D/clients/NAME (named in the error).
 * Folders are 0700; files holding a private key or a passphrase are 0600, the others 0644.
 */
import { randomUUID } from "node:crypto"
import { statSync } from "node:fs"
import { chmod, link, lstat, mkdir, open, rename, rm } from "node:fs/promises"
import { basename, dirname, join, resolve } from "node:path"
import { Effect, Result } from "effect"
import { isValidUserName } from "../protocol/names.ts"
import { type FileContext, fromFsError, StoreError, storeError } from "./errors.ts"

/** The server's default data folder, relative to the working directory. */
export const DEFAULT_DATA_DIR = ".onechat"

export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
export const PUBLIC_FILE_MODE = 0o644

/** A path built from a user name: the name is valid and the path stays in its folder. */
export type NamedPath = Result.Result<string, StoreError>

/** The offline CA's folder (D/ca, or any folder given to `onechat ca --ca-dir`). */
export interface CaLayout {
  readonly root: string
  readonly certificate: string
  readonly key: string
  readonly passphrase: string
  readonly crl: string
  readonly issuedDir: string
}

/** The server's folder (D/server, or a folder holding server.cert.pem). */
export interface ServerLayout {
  readonly root: string
  readonly certificate: string
  readonly key: string
  readonly passphrase: string
  readonly caCertificate: string
  readonly crl: string
  readonly usersDir: string
  /** users/<name>.cert.pem */
  readonly userCertificatePath: (name: string) => NamedPath
}

/** One user's folder (D/clients/<name>, or a folder made by `onechat keygen`). */
export interface ClientLayout {
  readonly root: string
  readonly key: string
  readonly caCertificate: string
  readonly crl: string
  readonly knownPeers: string
  /** <name>.pub.pem */
  readonly publicKeyPath: (name: string) => NamedPath
}

export const caLayout = (dir: string): CaLayout => {
  const root = resolve(dir)
  return {
    root,
    certificate: join(root, "ca.cert.pem"),
    key: join(root, "ca.key.pem"),
    passphrase: join(root, "ca.passphrase"),
    crl: join(root, "crl.pem"),
    issuedDir: join(root, "issued"),
  }
}

export const serverLayout = (dir: string): ServerLayout => {
  const root = resolve(dir)
  const usersDir = join(root, "users")
  return {
    root,
    certificate: join(root, "server.cert.pem"),
    key: join(root, "server.key.pem"),
    passphrase: join(root, "server.passphrase"),
    caCertificate: join(root, "ca.cert.pem"),
    crl: join(root, "crl.pem"),
    usersDir,
    userCertificatePath: (name) => namedEntry(usersDir, name, `${name}.cert.pem`),
  }
}

export const clientLayout = (dir: string): ClientLayout => {
  const root = resolve(dir)
  return {
    root,
    key: join(root, "key.pem"),
    caCertificate: join(root, "ca.cert.pem"),
    crl: join(root, "crl.pem"),
    knownPeers: join(root, "known_peers.json"),
    publicKeyPath: (name) => namedEntry(root, name, `${name}.pub.pem`),
  }
}

export interface DataLayout {
  /** Absolute path of D. */
  readonly root: string
  readonly readme: string
  readonly ca: CaLayout
  readonly server: ServerLayout
  readonly clientsDir: string
  /** D/ca/ca.cert.pem */
  readonly caCertificate: string
  readonly caKey: string
  readonly caPassphrase: string
  readonly serverCertificate: string
  readonly serverKey: string
  readonly serverPassphrase: string
  /** The server's CRL, D/server/crl.pem */
  readonly crl: string
  /** D/server/users */
  readonly usersDir: string
  /** D/clients/<name> */
  readonly clientDir: (name: string) => NamedPath
  /** The folder of user `name` as the client finds it: D/clients/<name>, or D when only D holds a key.pem. */
  readonly client: (name: string) => Result.Result<ClientLayout, StoreError>
  /** `client(name).key` */
  readonly clientKeyPath: (name: string) => NamedPath
  /** `client(name).knownPeers` */
  readonly knownPeersPath: (name: string) => NamedPath
}

/** The paths of the data folder `dir` (resolved against the working directory). */
export const dataLayout = (dir: string): DataLayout => {
  const root = resolve(dir)
  const ca = caLayout(join(root, "ca"))
  const server = serverLayout(join(root, "server"))
  const clientsDir = join(root, "clients")
  const clientDir = (name: string) => namedEntry(clientsDir, name, name)
  // D itself is a user's folder when it holds a key and D/clients/<name> does not exist.
  const client = (name: string) =>
    Result.map(clientDir(name), (folder) =>
      clientLayout(!isDirectory(folder) && exists(join(root, "key.pem")) ? root : folder),
    )
  return {
    root,
    readme: join(root, "README.txt"),
    ca,
    server,
    clientsDir,
    caCertificate: ca.certificate,
    caKey: ca.key,
    caPassphrase: ca.passphrase,
    serverCertificate: server.certificate,
    serverKey: server.key,
    serverPassphrase: server.passphrase,
    crl: server.crl,
    usersDir: server.usersDir,
    clientDir,
    client,
    clientKeyPath: (name) => Result.map(client(name), (folder) => folder.key),
    knownPeersPath: (name) => Result.map(client(name), (folder) => folder.knownPeers),
  }
}

/** The server's folder for `--dir D`: D/server when it is a folder, else D itself. */
export const serverFolderOf = (dir: string): ServerLayout => {
  const nested = join(resolve(dir), "server")
  return serverLayout(isDirectory(nested) ? nested : dir)
}

/**
 * A folder made by onechat before protocol v3 (D/users/*.pub beside D/server/, the CA key in D/ca):
 * true when D/users and D/server exist but D/server/users does not. Such folders are not migrated.
 */
export const isOldDataFolder = (dir: string): boolean => {
  const root = resolve(dir)
  return (
    isDirectory(join(root, "users")) &&
    isDirectory(join(root, "server")) &&
    !isDirectory(join(root, "server", "users"))
  )
}

const exists = (path: string): boolean => {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined
  } catch {
    return false
  }
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true
  } catch {
    return false
  }
}

/** `folder/entry` for a user `name`; InvalidName unless the name is valid and the entry stays in `folder`. */
const namedEntry = (folder: string, name: string, entry: string): NamedPath => {
  if (!isValidUserName(name)) return Result.fail(new StoreError({ reason: "InvalidName", userName: name }))
  const path = resolve(folder, entry)
  // Defence in depth: a valid name has no separator or dot-dot, so this never fails today.
  if (dirname(path) !== folder || basename(path) !== entry) {
    return Result.fail(new StoreError({ reason: "InvalidName", userName: name }))
  }
  return Result.succeed(path)
}

/** The text of D/README.txt. */
export const developmentReadme = (now: Date): string =>
  `onechat development PKI, made by onechat on ${now.toISOString()}.

NOT FOR PRODUCTION as it stands: the CA key and the keys of every user were made on this one
machine. The three folders are the three roles; on real machines each lives elsewhere.

  ca/        the OFFLINE CA. Keep it off the server (a USB stick, an admin laptop). Its key and
             passphrase are here only because this is a development setup. The server never reads
             it: delete it and the server still serves. \`onechat ca … --ca-dir ca\` and
             \`onechat user add|revoke --dir .\` use it.
  server/    everything the server reads: its key and certificate, the CA certificate, the CRL it
             staples (crl.pem, valid 7 days: renew it with \`onechat ca crl\`), and users/, the user
             identity certificates issued by the CA. \`onechat server --dir .\` serves it.
  clients/NAME/
             NAME's own folder: private key (key.pem), public key (NAME.pub.pem), the CA
             certificate and pinned peers. Copy it to NAME's machine; \`onechat client NAME\`
             reads it. On a real deployment NAME makes it with \`onechat keygen\`.

User passphrases are printed once, when the user is created, and are not stored here.
`

/** Largest file read from D; PEM keys and certificates are far smaller. */
export const MAX_STORE_FILE_BYTES = 128 * 1024

/**
 * The UTF-8 text of a small file, reading at most `maxBytes` + 1 bytes: NotFound, Unreadable, or
 * Malformed when larger. The read buffer is zeroed afterwards (it may hold a passphrase).
 */
export const readSmallFile = (
  context: FileContext,
  maxBytes: number = MAX_STORE_FILE_BYTES,
): Effect.Effect<string, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const buffer = Buffer.alloc(maxBytes + 1)
      const handle = await open(context.path, "r")
      try {
        let total = 0
        while (total < buffer.length) {
          const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total)
          if (bytesRead === 0) break
          total += bytesRead
        }
        return total > maxBytes ? undefined : buffer.toString("utf8", 0, total)
      } finally {
        buffer.fill(0)
        await handle.close()
      }
    },
    catch: (cause) => fromFsError(cause, context),
  }).pipe(
    Effect.flatMap((text) =>
      text === undefined
        ? Effect.fail(storeError("Malformed", context, `larger than ${maxBytes} bytes`))
        : Effect.succeed(text),
    ),
  )

/**
 * Writes `data` to `context.path` atomically: a temporary file in the same folder, flushed and
 * given `mode`, then renamed over the target, or, when `exclusive`, hard-linked to it, so that an
 * existing file is never replaced (AlreadyExists) and no reader ever sees a partial file.
 */
export const writeFileAtomic = (
  context: FileContext,
  data: string,
  options: { readonly mode: number; readonly exclusive: boolean },
): Effect.Effect<void, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const temporary = join(dirname(context.path), `.${basename(context.path)}.${randomUUID()}.tmp`)
      try {
        const handle = await open(temporary, "wx", options.mode)
        try {
          await handle.writeFile(data, "utf8")
          await handle.sync()
        } finally {
          await handle.close()
        }
        await chmod(temporary, options.mode) // the umask may have cleared bits of a public file
        await (options.exclusive ? link(temporary, context.path) : rename(temporary, context.path))
      } finally {
        await rm(temporary, { force: true })
      }
    },
    catch: (cause) => fromFsError(cause, { ...context, writing: true }),
  })

/** Creates `path` (and missing parents) as 0700 folders; an existing folder is left as it is. */
export const makePrivateDirectory = (path: string, subject: string): Effect.Effect<void, StoreError> =>
  Effect.tryPromise({
    try: () => mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE }),
    catch: (cause) => fromFsError(cause, { path, subject, writing: true }),
  })

/** Whether something exists at `path` (a missing parent folder counts as "no"). */
export const pathExists = (path: string, subject: string): Effect.Effect<boolean, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      await lstat(path)
      return true
    },
    catch: (cause) => fromFsError(cause, { path, subject }),
  }).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(false),
    ),
  )
