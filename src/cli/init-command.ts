/**
 * `onechat init`: the one-command development setup. Lays out the three roles as folders of a new
 * data folder D — D/ca (the offline CA), D/server (what the server reads), D/clients/NAME (each
 * user's own folder, keys made there) — prints what each folder is for, and shows each generated
 * passphrase once. Refuses a folder that already holds anything. Thin: the work is in src/store/dev-pki.ts.
 */
import { join } from "node:path"
import { Console, Data, Effect, Option } from "effect"
import { isValidUserName } from "../protocol/names.ts"
import { createDevelopmentPki, DEFAULT_DEVELOPMENT_USERS, type DevelopmentPki } from "../store/dev-pki.ts"
import { StoreError } from "../store/errors.ts"
import { DEFAULT_DATA_DIR, dataLayout, pathExists } from "../store/layout.ts"
import type { InitOptions } from "./init-flags.ts"

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

/** Every user's passphrase when ONECHAT_PASSPHRASE is set and non-empty; else each is generated. */
export const passphraseFromEnvironment = (
  environment: Readonly<Record<string, string | undefined>> = process.env,
): { readonly passphrase?: string } => {
  const value = environment[PASSPHRASE_VARIABLE]
  return value === undefined || value.length === 0 ? {} : { passphrase: value }
}

/** The report printed after a successful init. `dir` is the folder as the user wrote it. */
export const describeDevelopmentPki = (
  dir: string,
  pki: DevelopmentPki,
  serverNames: ReadonlyArray<string> = [],
): string => {
  const names = pki.users.map((user) => user.name)
  const width = Math.max(0, ...names.map((name) => name.length))
  const generated = pki.users.every((user) => user.generated)
  const dirArgument = dir === DEFAULT_DATA_DIR ? "" : ` --dir ${shellWord(dir)}`
  return [
    `Created a DEVELOPMENT setup in ${pki.dir} — for trying onechat, not for production. Three roles, three folders:`,
    `  ${join(dir, "ca")}/           the OFFLINE CA (key + certificate + CRL). The server never reads it:`,
    "                      keep it elsewhere in real use; `onechat ca … --ca-dir` and `onechat user add|revoke` use it.",
    `  ${join(dir, "server")}/       what the server reads: its key and certificate (${["localhost", "127.0.0.1", ...serverNames].join(", ")}, 90 days),`,
    "                      the CA certificate, crl.pem (7 days) and users/NAME.cert.pem. It serves with ca/ deleted.",
    `  ${join(dir, "clients")}/NAME/ each user's own folder: key.pem, NAME.pub.pem, ca.cert.pem, crl.pem. Copy one to its user.`,
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
    const markers = [layout.ca.root, layout.server.root, layout.clientsDir, join(layout.root, "users")]
    for (const marker of markers) {
      if (yield* pathExists(marker, "data folder")) {
        return yield* new InitError({ reason: "DataFolderExists", dir })
      }
    }
  })

/** Runs `onechat init` (flags: src/cli/init-flags.ts). */
export const runInit = (options: InitOptions) =>
  Effect.gen(function* () {
    const users = Option.match(options.users, {
      onNone: () => DEFAULT_DEVELOPMENT_USERS,
      onSome: parseUserList,
    })
    if (users.length === 0) return yield* new InitError({ reason: "NoUsers", dir: options.dir })
    const invalid = users.find((name) => !isValidUserName(name))
    if (invalid !== undefined) return yield* new StoreError({ reason: "InvalidName", userName: invalid })
    yield* refuseDataFolder(options.dir)
    const pki = yield* createDevelopmentPki({
      dir: options.dir,
      users,
      serverNames: options.serverNames,
      serverIps: options.serverIps,
      ...passphraseFromEnvironment(),
    }).pipe(
      Effect.catchIf(
        (error) => error.reason === "AlreadyExists" && error.path === dataLayout(options.dir).root,
        () => Effect.fail(new InitError({ reason: "FolderNotEmpty", dir: options.dir })),
      ),
    )
    yield* Console.log(
      describeDevelopmentPki(options.dir, pki, [...options.serverNames, ...options.serverIps]),
    )
  })
