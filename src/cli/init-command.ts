/**
 * `onechat init`: creates a development PKI (CA, server certificate, CRL, users with encrypted
 * keys) in a new data folder and prints what it made, with each generated passphrase shown once.
 * Refuses a folder that already holds anything. Thin: the work is in src/store/dev-pki.ts.
 */
import { join } from "node:path"
import { Console, Data, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { isValidUserName } from "../protocol/names.ts"
import { createDevelopmentPki, DEFAULT_DEVELOPMENT_USERS, type DevelopmentPki } from "../store/dev-pki.ts"
import { StoreError } from "../store/errors.ts"
import { DEFAULT_DATA_DIR, dataLayout, pathExists } from "../store/layout.ts"
import { dirFlag } from "./server-command.ts"

/** The variable whose value, when set and non-empty, becomes every new user's passphrase. */
export const PASSPHRASE_VARIABLE = "ONECHAT_PASSPHRASE"

export type InitErrorReason =
  /** D holds a onechat data folder already. */
  | "DataFolderExists"
  /** D holds something else. */
  | "FolderNotEmpty"
  /** `--users` named nobody. */
  | "NoUsers"

const initSentences: Record<InitErrorReason, (dir: string) => string> = {
  DataFolderExists: (dir) => `${dir} already holds a onechat data folder; choose another --dir or remove it.`,
  FolderNotEmpty: (dir) => `${dir} is not empty; choose another --dir (a new or empty folder).`,
  NoUsers: () => "--users names no user; give at least one name, e.g. --users alice,bob.",
}

/** Why `init` made nothing. `dir` is the folder as the user wrote it. */
export class InitError extends Data.TaggedError("InitError")<{
  readonly reason: InitErrorReason
  readonly dir: string
}> {
  override get message(): string {
    return initSentences[this.reason](this.dir)
  }
}

/** The --users value as names: comma-separated, blanks ignored, duplicates kept once. */
export const parseUserList = (text: string): ReadonlyArray<string> => [
  ...new Set(
    text
      .split(",")
      .map((name) => name.trim())
      .filter((name) => name.length > 0),
  ),
]

/** `text` quoted for a POSIX shell when it holds anything but safe characters. */
export const shellWord = (text: string): string =>
  /^[\w./:@%+=-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`

const usersFlag = Flag.String("users").pipe(
  Flag.optional,
  Flag.withDescription(
    `Comma-separated user names to create (default ${DEFAULT_DEVELOPMENT_USERS.join(",")}); a-z, 0-9, _ and -, 1 to 32 characters, starting with a letter or digit`,
  ),
)

/** Every user's passphrase when ONECHAT_PASSPHRASE is set and non-empty; else each is generated. */
export const passphraseFromEnvironment = (
  environment: Readonly<Record<string, string | undefined>> = process.env,
): { readonly passphrase?: string } => {
  const value = environment[PASSPHRASE_VARIABLE]
  return value === undefined || value.length === 0 ? {} : { passphrase: value }
}

/** The report printed after a successful init. `dir` is the folder as the user wrote it. */
export const describeDevelopmentPki = (dir: string, pki: DevelopmentPki): string => {
  const names = pki.users.map((user) => user.name)
  const width = Math.max(0, ...names.map((name) => name.length))
  const generated = pki.users.every((user) => user.generated)
  const dirArgument = dir === DEFAULT_DATA_DIR ? "" : ` --dir ${shellWord(dir)}`
  return [
    `Created a DEVELOPMENT PKI in ${pki.dir} — for trying onechat, not for production.`,
    `  CA certificate      ${join(dir, "ca", "ca.cert.pem")}`,
    `  server certificate  ${join(dir, "server", "server.cert.pem")} (localhost, 127.0.0.1)`,
    `  users               ${names.join(", ")}`,
    ...(generated
      ? [
          "Passphrases (shown once, stored nowhere in clear):",
          ...pki.users.map((user) => `  ${user.name.padEnd(width)}  ${user.passphrase}`),
        ]
      : [`Passphrase: from ${PASSPHRASE_VARIABLE} (the same for every user; not shown).`]),
    `Next: npx onechat server${dirArgument}   then   npx onechat client ${names[0] ?? "NAME"}${dirArgument}`,
  ].join("\n")
}

/** DataFolderExists when `dir` holds a onechat data folder (even a half-made one). */
const refuseDataFolder = (dir: string): Effect.Effect<void, InitError | StoreError> =>
  Effect.gen(function* () {
    const layout = dataLayout(dir)
    const markers = [layout.caCertificate, layout.caDir, layout.usersDir, layout.serverDir]
    for (const marker of markers) {
      if (yield* pathExists(marker, "data folder")) {
        return yield* new InitError({ reason: "DataFolderExists", dir })
      }
    }
  })

export const initCommand = Command.make("init", { dir: dirFlag, users: usersFlag }, (options) =>
  Effect.gen(function* () {
    const users = Option.match(options.users, {
      onNone: () => DEFAULT_DEVELOPMENT_USERS,
      onSome: parseUserList,
    })
    if (users.length === 0) return yield* new InitError({ reason: "NoUsers", dir: options.dir })
    const invalid = users.find((name) => !isValidUserName(name))
    if (invalid !== undefined) return yield* new StoreError({ reason: "InvalidName", userName: invalid })
    yield* refuseDataFolder(options.dir)
    const pki = yield* createDevelopmentPki({ dir: options.dir, users, ...passphraseFromEnvironment() }).pipe(
      Effect.catchIf(
        (error) => error.reason === "AlreadyExists" && error.path === dataLayout(options.dir).root,
        () => Effect.fail(new InitError({ reason: "FolderNotEmpty", dir: options.dir })),
      ),
    )
    yield* Console.log(describeDevelopmentPki(options.dir, pki))
  }),
).pipe(
  Command.withDescription(
    "Create a development PKI (CA, server certificate, CRL, users) in a new data folder; prints each user's passphrase once",
  ),
)
