/**
 * Creates a development PKI in a data folder (layout in ./layout.ts): CA, server certificate and
 * key, an empty CRL, and demo users with encrypted keys; and manages users afterwards (add,
 * revoke, list). Development only: the CA and server passphrases sit next to their keys. Never
 * overwrites a file; never prints or returns a key, only user passphrases for the caller to show.
 */

import { readdir, rename, rm } from "node:fs/promises"
import { isIP } from "node:net"
import { Effect, Result } from "effect"
import {
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  generateIdentity,
  importPublicKeyPem,
  publicKeyFingerprint,
} from "../crypto/identity.ts"
import { createCertificateAuthority, createCrl, issueServerCertificate } from "../crypto/pki.ts"
import { type Random, systemRandom } from "../crypto/primitives.ts"
import { isValidUserName } from "../protocol/names.ts"
import { fromFsError, StoreError, storeError } from "./errors.ts"
import {
  type DataLayout,
  dataLayout,
  developmentReadme,
  makePrivateDirectory,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  pathExists,
  writeFileAtomic,
} from "./layout.ts"

export const CA_VALIDITY_DAYS = 3650
export const SERVER_CERTIFICATE_VALIDITY_DAYS = 365
export const CRL_VALIDITY_DAYS = 30
/** The demo users the server creates on first run. */
export const DEFAULT_DEVELOPMENT_USERS: ReadonlyArray<string> = ["alice", "bob", "carol"]
const DAY_MS = 86_400_000
/** Certificates and the CRL start an hour early, for clients whose clock is a little behind. */
const BACKDATE_MS = 3_600_000

export interface DevelopmentUser {
  readonly name: string
  /** Show it to the person once; it is stored nowhere in clear. */
  readonly passphrase: string
  /** True when generated here, false when given by the caller. */
  readonly generated: boolean
  readonly fingerprint: string
}

export interface DevelopmentPki {
  /** Absolute path of the data folder. */
  readonly dir: string
  /** False when `ensureDevelopmentPki` found an existing PKI (then `users` is empty). */
  readonly created: boolean
  readonly users: ReadonlyArray<DevelopmentUser>
}

export interface DevelopmentPkiOptions {
  readonly dir: string
  readonly users: ReadonlyArray<string>
  /** One passphrase for every user (e.g. the caller's ONECHAT_PASSPHRASE); generated per user when absent or empty. */
  readonly passphrase?: string
  /** DNS names or IP addresses for the server certificate, besides localhost and 127.0.0.1. */
  readonly serverNames?: ReadonlyArray<string>
  readonly random?: Random
  readonly now?: Date
  /** Validity of the server certificate, in days (default 365). The CA has 10 years, the CRL 30 days. */
  readonly validityDays?: number
}

/**
 * A passphrase of 80 random bits: 16 lowercase base32 characters (RFC 4648 alphabet) in groups
 * of four, e.g. "mfrg-gzdf-mztw-q2lk".
 */
export const generatePassphrase = (random: Random): string => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
  const bytes = random(10)
  let bits = 0n
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte)
  bytes.fill(0)
  let out = ""
  for (let i = 15; i >= 0; i--) out += alphabet[Number((bits >> BigInt(i * 5)) & 31n)]
  return out.match(/.{4}/g)?.join("-") ?? out
}

/** The caller's passphrase when non-empty, else a generated one. */
const givenOrGenerated = (given: string | undefined, random: Random) =>
  given !== undefined && given.length > 0
    ? { passphrase: given, generated: false }
    : { passphrase: generatePassphrase(random), generated: true }

/**
 * Creates a development PKI in `dir`, which must be missing or empty (else AlreadyExists). The
 * CA certificate is written last: a half-made folder is never mistaken for a finished one.
 */
export const createDevelopmentPki = Effect.fn("Store.createDevelopmentPki")(function* (
  options: DevelopmentPkiOptions,
): Effect.fn.Return<DevelopmentPki, StoreError> {
  const layout = dataLayout(options.dir)
  const random = options.random ?? systemRandom
  const now = options.now ?? new Date()
  const names = yield* validUserNames(options.users)
  const server = yield* serverNames(options.serverNames ?? [])
  yield* refuseNonEmptyFolder(layout.root)
  const { root, caDir, serverDir, usersDir, revokedDir, clientsDir } = layout
  for (const folder of [root, caDir, serverDir, usersDir, revokedDir, clientsDir]) {
    yield* makePrivateDirectory(folder, "data folder")
  }
  const pki = yield* Effect.promise(() => issueDevelopmentPki({ ...server, random, now, options }))
  const write = (path: string, subject: string, data: string, mode: number) =>
    writeFileAtomic({ path, subject }, data, { mode, exclusive: true })
  yield* write(layout.caPassphrase, "CA key passphrase", `${pki.caPassphrase}\n`, PRIVATE_FILE_MODE)
  yield* write(layout.caKey, "CA private key", pki.caKeyPem, PRIVATE_FILE_MODE)
  yield* write(
    layout.serverPassphrase,
    "server key passphrase",
    `${pki.serverPassphrase}\n`,
    PRIVATE_FILE_MODE,
  )
  yield* write(layout.serverKey, "server private key", pki.serverKeyPem, PRIVATE_FILE_MODE)
  yield* write(layout.serverCertificate, "server certificate", pki.serverCertificatePem, PUBLIC_FILE_MODE)
  yield* write(layout.crl, "certificate revocation list", pki.crlPem, PUBLIC_FILE_MODE)
  const users: DevelopmentUser[] = []
  for (const name of names) {
    const { passphrase, generated } = givenOrGenerated(options.passphrase, random)
    const fingerprint = yield* writeNewUser(layout, name, passphrase, random)
    users.push({ name, passphrase, generated, fingerprint })
  }
  yield* write(layout.readme, "README", developmentReadme(now), PUBLIC_FILE_MODE)
  yield* write(layout.caCertificate, "CA certificate", pki.caCertificatePem, PUBLIC_FILE_MODE)
  return { dir: layout.root, created: true, users }
})

/** `createDevelopmentPki` unless D/ca/ca.cert.pem already exists; then nothing is touched. */
export const ensureDevelopmentPki = Effect.fn("Store.ensureDevelopmentPki")(function* (
  options: DevelopmentPkiOptions,
): Effect.fn.Return<DevelopmentPki, StoreError> {
  const layout = dataLayout(options.dir)
  if (yield* pathExists(layout.caCertificate, "CA certificate")) {
    return { dir: layout.root, created: false, users: [] }
  }
  return yield* createDevelopmentPki(options)
})

export interface AddedUser {
  readonly name: string
  readonly fingerprint: string
  /** Present when a key pair was made here: show it to the person once. */
  readonly passphrase?: string
  readonly generated: boolean
}

/**
 * Registers user `name`. With `publicKeyPem` (an Ed25519 SPKI PEM) only that key is registered;
 * otherwise a key pair is made, its private half written to D/clients/<name>/key.pem under
 * `passphrase` (generated when absent or empty). AlreadyExists when the name is registered;
 * a revoked name may be registered again (its revoked/<name>.pub is then removed).
 */
export const addUser = Effect.fn("Store.addUser")(function* (options: {
  readonly dir: string
  readonly name: string
  readonly passphrase?: string
  readonly publicKeyPem?: string
  readonly random?: Random
}): Effect.fn.Return<AddedUser, StoreError> {
  const { name } = options
  const layout = dataLayout(options.dir)
  const registered = yield* Effect.fromResult(layout.userKeyPath(name))
  if (!(yield* pathExists(layout.usersDir, "users folder"))) {
    return yield* storeError("NotFound", { path: layout.usersDir, subject: "users folder" })
  }
  if (yield* pathExists(registered, "registered public key")) {
    return yield* storeError("AlreadyExists", {
      path: registered,
      subject: "registered public key",
      userName: name,
    })
  }
  let added: AddedUser
  if (options.publicKeyPem !== undefined) {
    const publicKey = importPublicKeyPem(options.publicKeyPem)
    if (Result.isFailure(publicKey)) {
      const detail =
        publicKey.failure.reason === "NotEd25519" ? "not an Ed25519 key" : "not an SPKI PEM public key"
      return yield* new StoreError({
        reason: "Malformed",
        subject: "public key given",
        userName: name,
        detail,
      })
    }
    yield* register(layout, name, publicKey.success)
    added = { name, fingerprint: publicKeyFingerprint(publicKey.success), generated: false }
  } else {
    const random = options.random ?? systemRandom
    const { passphrase, generated } = givenOrGenerated(options.passphrase, random)
    const fingerprint = yield* writeNewUser(layout, name, passphrase, random)
    added = { name, fingerprint, passphrase, generated }
  }
  yield* removeFile(yield* Effect.fromResult(layout.revokedKeyPath(name)), "revoked public key", name)
  return added
})

/** Moves D/users/<name>.pub to D/revoked/<name>.pub; NotFound when the user is not registered. */
export const revokeUser = Effect.fn("Store.revokeUser")(function* (options: {
  readonly dir: string
  readonly name: string
}): Effect.fn.Return<void, StoreError> {
  const { name } = options
  const layout = dataLayout(options.dir)
  const from = yield* Effect.fromResult(layout.userKeyPath(name))
  const to = yield* Effect.fromResult(layout.revokedKeyPath(name))
  yield* makePrivateDirectory(layout.revokedDir, "revoked folder")
  yield* Effect.tryPromise({
    try: () => rename(from, to),
    catch: (cause) =>
      fromFsError(cause, { path: from, subject: "registered public key", userName: name, writing: true }),
  })
})

/** Registered and revoked user names, each sorted; files whose names are not valid users are ignored. */
export const listUsers = Effect.fn("Store.listUsers")(function* (
  dir: string,
): Effect.fn.Return<{ readonly registered: string[]; readonly revoked: string[] }, StoreError> {
  const layout = dataLayout(dir)
  const registered = yield* userNamesIn(layout.usersDir, "users folder")
  const revoked = yield* userNamesIn(layout.revokedDir, "revoked folder").pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed([]),
    ),
  )
  return { registered, revoked }
})

const userNamesIn = (folder: string, subject: string): Effect.Effect<string[], StoreError> =>
  Effect.tryPromise({
    try: () => readdir(folder, { withFileTypes: true }),
    catch: (cause) => fromFsError(cause, { path: folder, subject }),
  }).pipe(
    Effect.map((entries) =>
      entries
        .filter((entry) => entry.isFile() && entry.name.endsWith(".pub"))
        .map((entry) => entry.name.slice(0, -".pub".length))
        .filter(isValidUserName)
        .sort(),
    ),
  )

/** Makes a key pair for `name`, writes its encrypted private key, registers its public key. */
const writeNewUser = Effect.fnUntraced(function* (
  layout: DataLayout,
  name: string,
  passphrase: string,
  random: Random,
): Effect.fn.Return<string, StoreError> {
  const clientDir = yield* Effect.fromResult(layout.clientDir(name))
  const keyPath = yield* Effect.fromResult(layout.clientKeyPath(name))
  yield* makePrivateDirectory(clientDir, "client folder")
  const key = generateIdentity(random)
  const pem = exportEncryptedPrivateKeyPem(key, passphrase)
  key.seed.wipe()
  key.secretKey.wipe()
  const context = { path: keyPath, subject: "private key", userName: name }
  yield* writeFileAtomic(context, pem, { mode: PRIVATE_FILE_MODE, exclusive: true })
  // A failed registration must not leave a key behind that looks registered.
  yield* register(layout, name, key.publicKey).pipe(
    Effect.tapError(() => removeFile(keyPath, "private key", name)),
  )
  return publicKeyFingerprint(key.publicKey)
})

const register = (layout: DataLayout, name: string, publicKey: Uint8Array): Effect.Effect<void, StoreError> =>
  Effect.fromResult(layout.userKeyPath(name)).pipe(
    Effect.flatMap((path) =>
      writeFileAtomic(
        { path, subject: "registered public key", userName: name },
        exportPublicKeyPem(publicKey),
        {
          mode: PUBLIC_FILE_MODE,
          exclusive: true,
        },
      ),
    ),
  )

const removeFile = (path: string, subject: string, name: string): Effect.Effect<void, StoreError> =>
  Effect.tryPromise({
    try: () => rm(path, { force: true }),
    catch: (cause) => fromFsError(cause, { path, subject, userName: name, writing: true }),
  })

const validUserNames = (names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, StoreError> => {
  const invalid = names.find((name) => !isValidUserName(name))
  return invalid === undefined
    ? Effect.succeed([...new Set(names)])
    : Effect.fail(new StoreError({ reason: "InvalidName", userName: invalid }))
}

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/

/** localhost and 127.0.0.1 plus `extra`, split into DNS names and IP addresses, deduplicated. */
const serverNames = (
  extra: ReadonlyArray<string>,
): Effect.Effect<{ readonly dnsNames: string[]; readonly ipAddresses: string[] }, StoreError> => {
  const dnsNames = new Set(["localhost"])
  const ipAddresses = new Set(["127.0.0.1"])
  for (const name of extra) {
    if (isIP(name) !== 0) ipAddresses.add(name)
    else if (DNS_NAME.test(name.toLowerCase())) dnsNames.add(name.toLowerCase())
    else return Effect.fail(new StoreError({ reason: "InvalidName", userName: name, subject: "server name" }))
  }
  return Effect.succeed({ dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] })
}

const refuseNonEmptyFolder = (root: string): Effect.Effect<void, StoreError> =>
  Effect.tryPromise({
    try: () => readdir(root),
    catch: (cause) => fromFsError(cause, { path: root, subject: "data folder" }),
  }).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed([]),
    ),
    Effect.flatMap((entries) =>
      entries.length === 0
        ? Effect.void
        : Effect.fail(
            storeError(
              "AlreadyExists",
              { path: root, subject: "data folder" },
              "not empty; nothing was changed",
            ),
          ),
    ),
  )

/** The CA, the server's key and certificate, the empty CRL, and the two generated passphrases. */
const issueDevelopmentPki = async (input: {
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<string>
  readonly random: Random
  readonly now: Date
  readonly options: DevelopmentPkiOptions
}) => {
  const { random, now } = input
  const start = new Date(now.getTime() - BACKDATE_MS)
  const validityDays = input.options.validityDays ?? SERVER_CERTIFICATE_VALIDITY_DAYS
  const ca = await createCertificateAuthority({
    commonName: "onechat development CA",
    now: start,
    validityDays: CA_VALIDITY_DAYS,
    random,
  })
  const serverKey = generateIdentity(random)
  const certificate = await issueServerCertificate({
    ca,
    subjectPublicKey: serverKey.publicKey,
    commonName: input.dnsNames[0] ?? "localhost",
    dnsNames: input.dnsNames,
    ipAddresses: input.ipAddresses,
    notBefore: start,
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    random,
  })
  const crl = await createCrl({
    ca,
    revokedSerials: [],
    thisUpdate: start,
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_DAYS * DAY_MS),
  })
  const caPassphrase = generatePassphrase(random)
  const serverPassphrase = generatePassphrase(random)
  const caKeyPem = exportEncryptedPrivateKeyPem(ca.key, caPassphrase)
  const serverKeyPem = exportEncryptedPrivateKeyPem(serverKey, serverPassphrase)
  for (const key of [ca.key, serverKey]) {
    key.seed.wipe()
    key.secretKey.wipe()
  }
  return {
    caCertificatePem: ca.certificatePem,
    caKeyPem,
    caPassphrase,
    serverKeyPem,
    serverPassphrase,
    serverCertificatePem: certificate.certificatePem,
    crlPem: crl.crlPem,
  }
}
