/**
 * The one-machine development setup (`onechat init`, `onechat user add|revoke|list --dir D`): the
 * three role folders of ./layout.ts made at once — D/ca (offline CA), D/server, D/clients/NAME —
 * and users added or revoked through D/ca. Development only: every key is made on this machine.
 * Never overwrites a key; returns user passphrases for the caller to show once, keys never.
 * docs/protocol.md §3.2 (server certificate, CRL), §8.3 (user identity certificates).
 */

import { readdir } from "node:fs/promises"
import { Effect } from "effect"
import type { KeyFileWriteOptions } from "../crypto/identity.ts"
import { type Random, systemRandom } from "../crypto/primitives.ts"
import { isValidUserName } from "../protocol/names.ts"
import { createCa, wipeCa } from "./ca.ts"
import { createClientKey, generatePassphrase, givenOrGenerated } from "./client-folder.ts"
import { certifyUser } from "./dev-users.ts"
import { fromFsError, StoreError, storeError } from "./errors.ts"
import {
  dataLayout,
  developmentReadme,
  isOldDataFolder,
  makePrivateDirectory,
  PUBLIC_FILE_MODE,
  pathExists,
  serverFolderOf,
  writeFileAtomic,
} from "./layout.ts"
import { createServerFolder, parseServerNames } from "./server-folder.ts"

export { CA_VALIDITY_DAYS, CRL_VALIDITY_DAYS, SERVER_CERTIFICATE_VALIDITY_DAYS } from "./ca.ts"
export { generatePassphrase } from "./client-folder.ts"
export { type AddedUser, addUser, listUsers, publishCrl, revokeUser } from "./dev-users.ts"
/** The demo users the server creates on first run. */
export const DEFAULT_DEVELOPMENT_USERS: ReadonlyArray<string> = ["alice", "bob", "carol"]

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
  /** IP addresses for the server certificate. */
  readonly serverIps?: ReadonlyArray<string>
  readonly random?: Random
  readonly now?: Date
  /** Validity of the server certificate, in days (default 90). The CA has 10 years, the CRL 7 days. */
  readonly validityDays?: number
  /** Key file parameters (tests lower scrypt's cost; the CLI never does). */
  readonly keyFile?: KeyFileWriteOptions
}

/**
 * Creates the development folders in `dir`, which must be missing or empty (else AlreadyExists):
 * D/ca, then D/server (certificate written last), then each user's D/clients/NAME with its key,
 * public key, CA certificate and CRL, and its certificate in D/server/users.
 */
export const createDevelopmentPki = Effect.fn("Store.createDevelopmentPki")(function* (
  options: DevelopmentPkiOptions,
): Effect.fn.Return<DevelopmentPki, StoreError> {
  const layout = dataLayout(options.dir)
  const random = options.random ?? systemRandom
  const now = options.now ?? new Date()
  const names = yield* validUserNames(options.users)
  const serverNames = yield* parseServerNames(options.serverNames ?? [], options.serverIps ?? [], true)
  yield* refuseNonEmptyFolder(layout.root)
  yield* makePrivateDirectory(layout.root, "data folder")
  const keyFile = options.keyFile === undefined ? {} : { keyFile: options.keyFile }
  const ca = yield* createCa({
    caDir: layout.ca.root,
    commonName: "onechat development CA",
    passphrase: generatePassphrase(random),
    storePassphrase: true,
    now,
    random,
    ...keyFile,
  })
  const users: DevelopmentUser[] = []
  yield* Effect.gen(function* () {
    yield* createServerFolder({
      serverDir: layout.server.root,
      caDir: layout.ca.root,
      ca,
      names: serverNames,
      passphrase: generatePassphrase(random),
      now,
      random,
      ...(options.validityDays === undefined ? {} : { days: options.validityDays }),
      ...keyFile,
    })
    yield* makePrivateDirectory(layout.clientsDir, "clients folder")
    for (const name of names) {
      const { passphrase, generated } = givenOrGenerated(options.passphrase, random)
      const clientDir = yield* Effect.fromResult(layout.clientDir(name))
      const key = yield* createClientKey({ clientDir, name, passphrase, random, ...keyFile })
      yield* certifyUser(layout, ca, name, key.publicKey, now, random)
      users.push({ name, passphrase, generated, fingerprint: key.fingerprint })
    }
  }).pipe(Effect.ensuring(Effect.sync(() => wipeCa(ca))))
  yield* writeFileAtomic({ path: layout.readme, subject: "README" }, developmentReadme(now), {
    mode: PUBLIC_FILE_MODE,
    exclusive: true,
  })
  return { dir: layout.root, created: true, users }
})

/**
 * `createDevelopmentPki` unless D already holds a server folder (D/server, or D is one: it holds
 * server.cert.pem); then nothing is touched. A folder made before protocol v3 is refused (it is not migrated).
 */
export const ensureDevelopmentPki = Effect.fn("Store.ensureDevelopmentPki")(function* (
  options: DevelopmentPkiOptions,
): Effect.fn.Return<DevelopmentPki, StoreError> {
  const layout = dataLayout(options.dir)
  yield* refuseOldFolder(options.dir)
  for (const marker of [serverFolderOf(options.dir).certificate, layout.server.root]) {
    if (yield* pathExists(marker, "server folder")) return { dir: layout.root, created: false, users: [] }
  }
  return yield* createDevelopmentPki(options)
})

/** Fails with a sentence saying to run init again when `dir` was made before protocol v3. */
export const refuseOldFolder = (dir: string): Effect.Effect<void, StoreError> =>
  isOldDataFolder(dir)
    ? Effect.fail(
        storeError(
          "Malformed",
          { path: dataLayout(dir).root, subject: "data folder" },
          'made by an older onechat (protocol v2, user keys without certificates); it is not migrated: run "onechat init" again in a new folder',
        ),
      )
    : Effect.void

const validUserNames = (names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, StoreError> => {
  const invalid = names.find((name) => !isValidUserName(name))
  return invalid === undefined
    ? Effect.succeed([...new Set(names)])
    : Effect.fail(new StoreError({ reason: "InvalidName", userName: invalid }))
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
