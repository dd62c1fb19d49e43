/**
 * The onechat data folder D, in one place: every path in it, and how its files are read (bounded)
 * and written (atomically, with fixed modes). A user name is checked with `isValidUserName`
 * (docs/protocol.md §2.3) before it is joined into a path, and the result is checked to sit
 * directly in its folder. No crypto here.
 *
 *   D/
 *     README.txt                       development PKI made by onechat, not for production; what each file is
 *     ca/ca.cert.pem                   CA certificate (clients trust this)
 *     ca/ca.key.pem                    CA private key, encrypted PKCS#8
 *     ca/ca.passphrase                 its passphrase (0600, development only)
 *     server/server.cert.pem           server certificate: SAN DNS:localhost, IP:127.0.0.1 (+ names given)
 *     server/server.key.pem            server private key, encrypted PKCS#8
 *     server/server.passphrase         its passphrase (0600; ONECHAT_SERVER_PASSPHRASE overrides it)
 *     server/crl.pem                   CRL signed by the CA (empty at first; nextUpdate 30 days)
 *     users/<name>.pub                 registered user public keys (SPKI PEM): THE registry, read at each login
 *     revoked/<name>.pub               revoked users (moved here from users/)
 *     clients/<name>/key.pem           that user's private key, encrypted PKCS#8 with the user's passphrase
 *     clients/<name>/known_peers.json  the client's pinned peer keys (written by the client)
 *
 * Folders are 0700; files holding a private key or a passphrase are 0600, the others 0644.
 */
import { randomUUID } from "node:crypto"
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

export interface DataLayout {
  /** Absolute path of D. */
  readonly root: string
  readonly readme: string
  readonly caDir: string
  readonly caCertificate: string
  readonly caKey: string
  readonly caPassphrase: string
  readonly serverDir: string
  readonly serverCertificate: string
  readonly serverKey: string
  readonly serverPassphrase: string
  readonly crl: string
  readonly usersDir: string
  readonly revokedDir: string
  readonly clientsDir: string
  /** D/users/<name>.pub */
  readonly userKeyPath: (name: string) => NamedPath
  /** D/revoked/<name>.pub */
  readonly revokedKeyPath: (name: string) => NamedPath
  /** D/clients/<name> */
  readonly clientDir: (name: string) => NamedPath
  /** D/clients/<name>/key.pem */
  readonly clientKeyPath: (name: string) => NamedPath
  /** D/clients/<name>/known_peers.json */
  readonly knownPeersPath: (name: string) => NamedPath
}

/** The paths of the data folder `dir` (resolved against the working directory). */
export const dataLayout = (dir: string): DataLayout => {
  const root = resolve(dir)
  const caDir = join(root, "ca")
  const serverDir = join(root, "server")
  const usersDir = join(root, "users")
  const revokedDir = join(root, "revoked")
  const clientsDir = join(root, "clients")
  const clientDir = (name: string) => namedEntry(clientsDir, name, name)
  const inClientDir = (file: string) => (name: string) => Result.map(clientDir(name), (d) => join(d, file))
  return {
    root,
    readme: join(root, "README.txt"),
    caDir,
    caCertificate: join(caDir, "ca.cert.pem"),
    caKey: join(caDir, "ca.key.pem"),
    caPassphrase: join(caDir, "ca.passphrase"),
    serverDir,
    serverCertificate: join(serverDir, "server.cert.pem"),
    serverKey: join(serverDir, "server.key.pem"),
    serverPassphrase: join(serverDir, "server.passphrase"),
    crl: join(serverDir, "crl.pem"),
    usersDir,
    revokedDir,
    clientsDir,
    userKeyPath: (name) => namedEntry(usersDir, name, `${name}.pub`),
    revokedKeyPath: (name) => namedEntry(revokedDir, name, `${name}.pub`),
    clientDir,
    clientKeyPath: inClientDir("key.pem"),
    knownPeersPath: inClientDir("known_peers.json"),
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

NOT FOR PRODUCTION. The passphrases of the CA key and of the server key are stored in this folder,
next to the keys they protect. Anyone who can read this folder can impersonate the server and
register users. Make a real PKI, with the CA key kept offline, for anything but development.

  ca/ca.cert.pem                    CA certificate: clients trust the server because of this file
  ca/ca.key.pem                     CA private key (encrypted PKCS#8)
  ca/ca.passphrase                  passphrase of ca/ca.key.pem
  server/server.cert.pem            server certificate (names: localhost, 127.0.0.1, and any given)
  server/server.key.pem             server private key (encrypted PKCS#8)
  server/server.passphrase          passphrase of server/server.key.pem (ONECHAT_SERVER_PASSPHRASE overrides it)
  server/crl.pem                    certificate revocation list signed by the CA (valid 30 days)
  users/<name>.pub                  registered users' public keys: the server reads these at each login
  revoked/<name>.pub                revoked users' public keys (moved here from users/)
  clients/<name>/key.pem            <name>'s private key, encrypted with <name>'s passphrase
  clients/<name>/known_peers.json   peer keys pinned by <name>'s client

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
