/**
 * `onechat user add | list | revoke --dir D`: the users of a one-machine development folder, through
 * its CA folder D/ca (add and revoke need it; without it they say to use `onechat ca` where the CA
 * lives). A running server needs no restart: it reads D/server/users at every login and reloads
 * D/server/crl.pem (src/net/revocation-watch.ts), disconnecting a revoked user at once. Thin: the
 * work is in src/store/dev-users.ts. Prints passphrases once, keys never.
 */
import { Console, Data, Effect, Option, Result } from "effect"
import { MAX_PEM_CHARS, publicKeyFingerprint } from "../crypto/identity.ts"
import { type AddedUser, addUser, listUsers, refuseOldFolder, revokeUser } from "../store/dev-pki.ts"
import type { StoreError } from "../store/errors.ts"
import { dataLayout, pathExists, readSmallFile } from "../store/layout.ts"
import { UserRegistry } from "../store/registry.ts"
import { passphraseFromEnvironment, shellWord } from "./init-command.ts"
import type { UserAddOptions, UserListOptions, UserRevokeOptions } from "./user-flags.ts"

export type UserCommandErrorReason =
  /** D has no server/users/ folder. */
  | "NoDataFolder"
  /** D has no ca/ folder: the CA lives elsewhere. */
  | "NoCaFolder"
  | "AlreadyRegistered"
  /** D/clients/<name>/key.pem is left from an earlier registration. */
  | "KeyFileExists"
  | "NotRegistered"
  | "AlreadyRevoked"
  /** The --pubkey file does not exist. */
  | "NoPublicKeyFile"
  /** The --pubkey file holds no Ed25519 SPKI PEM. */
  | "NotAPublicKey"

interface UserCommandErrorFields {
  readonly reason: UserCommandErrorReason
  /** The data folder, absolute. */
  readonly dir: string
  readonly userName?: string
  /** The file concerned (KeyFileExists, NoPublicKeyFile, NotAPublicKey). */
  readonly path?: string
}

const userSentences: Record<UserCommandErrorReason, (error: UserCommandErrorFields) => string> = {
  NoDataFolder: ({ dir }) =>
    `${dir} is not a onechat data folder (it has no server/users folder); create one with "onechat init --dir ${shellWord(dir)}" or choose another --dir.`,
  NoCaFolder: ({ dir, userName }) =>
    `${dir} has no CA folder (ca/), so users cannot be added or revoked here: on the machine that holds the CA, run "onechat ca issue ${userName ?? "NAME"} --pubkey FILE --ca-dir CA --out ${userName ?? "NAME"}.cert.pem" (or "onechat ca revoke ${userName ?? "NAME"} --ca-dir CA") and copy the result into ${dir}/server.`,
  AlreadyRegistered: ({ dir, userName }) =>
    `User ${userName} is already registered in ${dir}; revoke it first to register a new key.`,
  KeyFileExists: ({ path, userName }) =>
    `A private key for ${userName} is left at ${path} from an earlier registration; remove it, or register a key made elsewhere with --pubkey.`,
  NotRegistered: ({ dir, userName }) => `No user ${userName} is registered in ${dir}; nothing was revoked.`,
  AlreadyRevoked: ({ dir, userName }) => `User ${userName} is already revoked in ${dir}.`,
  NoPublicKeyFile: ({ path }) =>
    `There is no file ${path}; give --pubkey the path of an Ed25519 public key in SPKI PEM form.`,
  NotAPublicKey: ({ path }) =>
    `${path} does not hold an Ed25519 public key in SPKI PEM form ("-----BEGIN PUBLIC KEY-----").`,
}

/** A user command that changed nothing. Names the folder and user, never key material. */
export class UserCommandError extends Data.TaggedError("UserCommandError")<UserCommandErrorFields> {
  override get message(): string {
    return userSentences[this.reason](this)
  }
}

/** NoDataFolder unless D/server/users exists (and, with `needCa`, NoCaFolder unless D/ca does). */
const requireDataFolder = (
  dir: string,
  needCa?: { readonly userName: string },
): Effect.Effect<void, UserCommandError | StoreError> =>
  Effect.gen(function* () {
    const layout = dataLayout(dir)
    yield* refuseOldFolder(dir)
    if (!(yield* pathExists(layout.usersDir, "users folder"))) {
      return yield* new UserCommandError({ reason: "NoDataFolder", dir: layout.root })
    }
    if (needCa !== undefined && !(yield* pathExists(layout.ca.certificate, "CA certificate"))) {
      return yield* new UserCommandError({
        reason: "NoCaFolder",
        dir: layout.root,
        userName: needCa.userName,
      })
    }
  })

const readPublicKeyFile = (path: string, dir: string): Effect.Effect<string, StoreError | UserCommandError> =>
  readSmallFile({ path, subject: "public key file" }, MAX_PEM_CHARS).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.fail(new UserCommandError({ reason: "NoPublicKeyFile", dir, path })),
    ),
  )

/** What `user add` prints: where, the fingerprint, and the passphrase once when generated. */
const describeAddedUser = (root: string, added: AddedUser, keyPath: Result.Result<string, unknown>): string =>
  [
    `Registered user ${added.name} in ${root}: the CA in ${root}/ca certified the key.`,
    `  certificate  ${added.certificatePath} (serial ${added.serialNumber})`,
    `  fingerprint  ${added.fingerprint}`,
    ...(added.passphrase === undefined
      ? ["  private key  kept by its owner (only the public key was registered)"]
      : [
          `  private key  ${Result.getOrElse(keyPath, () => "")}`,
          added.generated
            ? `  passphrase   ${added.passphrase}   (shown once, stored nowhere in clear)`
            : "  passphrase   from ONECHAT_PASSPHRASE (not shown)",
        ]),
    "A running server accepts the login at once; no restart needed.",
  ].join("\n")

/** Runs `onechat user add` (flags: src/cli/user-flags.ts). */
export const runUserAdd = ({ name, dir, pubkey }: UserAddOptions) =>
  Effect.gen(function* () {
    const layout = dataLayout(dir)
    yield* requireDataFolder(dir, { userName: name })
    const keyFile = Option.getOrUndefined(pubkey)
    const publicKeyPem = keyFile === undefined ? undefined : yield* readPublicKeyFile(keyFile, layout.root)
    const fail = (reason: UserCommandErrorReason, path?: string) =>
      Effect.fail(
        new UserCommandError({
          reason,
          dir: layout.root,
          userName: name,
          ...(path === undefined ? {} : { path }),
        }),
      )
    const added = yield* addUser({
      dir,
      name,
      ...(publicKeyPem === undefined ? passphraseFromEnvironment() : { publicKeyPem }),
    }).pipe(
      Effect.catch((error): Effect.Effect<never, StoreError | UserCommandError> => {
        if (error.reason === "AlreadyExists" && error.subject === "user certificate") {
          return fail("AlreadyRegistered")
        }
        if (error.reason === "AlreadyExists" && error.subject === "private key") {
          return fail("KeyFileExists", error.path)
        }
        if (error.reason === "Malformed" && error.subject === "public key given") {
          return fail("NotAPublicKey", keyFile)
        }
        return Effect.fail(error)
      }),
    )
    yield* Console.log(describeAddedUser(layout.root, added, layout.clientKeyPath(name)))
  })

/** One line per user, names padded: `alice  registered  <fingerprint>` or `mallory  revoked`. */
export const runUserList = ({ dir }: UserListOptions) =>
  Effect.gen(function* () {
    yield* requireDataFolder(dir)
    const { registered, revoked } = yield* listUsers(dir)
    const registry = new UserRegistry(dir)
    const rows: Array<readonly [string, string]> = []
    for (const name of registered) {
      const entry = yield* Effect.result(registry.lookup(name))
      rows.push([
        name,
        Result.isSuccess(entry) && entry.success.status === "registered"
          ? `registered  ${publicKeyFingerprint(entry.success.publicKey)}`
          : `refused     ${Result.isSuccess(entry) && entry.success.status === "revoked" ? entry.success.detail : "(its certificate cannot be read)"}`,
      ])
    }
    for (const name of revoked) rows.push([name, "revoked"])
    if (rows.length === 0) {
      yield* Console.log(`No users in ${dataLayout(dir).usersDir}.`)
      return
    }
    rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const width = rows.reduce((widest, [name]) => Math.max(widest, name.length), 0)
    yield* Console.log(rows.map(([name, status]) => `${name.padEnd(width)}  ${status}`).join("\n"))
  })

/** Runs `onechat user revoke` (flags: src/cli/user-flags.ts). */
export const runUserRevoke = ({ name, dir }: UserRevokeOptions) =>
  Effect.gen(function* () {
    const layout = dataLayout(dir)
    yield* requireDataFolder(dir, { userName: name })
    const fail = (reason: UserCommandErrorReason) =>
      Effect.fail(new UserCommandError({ reason, dir: layout.root, userName: name }))
    const revoked = yield* revokeUser({ dir, name }).pipe(
      Effect.catchIf(
        (error) => error.reason === "NotFound" && error.subject === "user certificate",
        () => fail("NotRegistered"),
      ),
    )
    if (!revoked.newlyRevoked) return yield* fail("AlreadyRevoked")
    yield* Console.log(
      [
        `Revoked user ${name} (serial ${revoked.serials.join(", ")}): the CA re-issued its CRL, copied to ${layout.crl}.`,
        `Every later login as ${name} is refused; a server running on this folder also disconnects ${name} now.`,
      ].join("\n"),
    )
  })
