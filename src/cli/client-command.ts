/**
 * `onechat client NAME`: log in with NAME's key from the data folder and chat. Interactive on a
 * terminal; `--json` for scripts (commands on stdin, one JSON event per line on stdout, nothing
 * else on stdout). Exit status: 0 after !quit, 2 when login fails, 1 when the connection ends.
 */
import { readFile } from "node:fs/promises"
import { createInterface } from "node:readline"
import { Config, Effect, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { KnownPeers } from "../client/known-peers.ts"
import { connectLink } from "../client/link.ts"
import type { UiEvent } from "../client/session.events.ts"
import { ClientSession } from "../client/session.ts"
import type { IdentityKeyPair } from "../crypto/identity.ts"
import { loadClientKey, loadClientTrust } from "../store/credentials.ts"
import { dataLayout } from "../store/layout.ts"
import { runInteractive } from "./client-interactive.ts"
import { DEFAULT_PORT, dirFlag, hostFlag } from "./server-command.ts"
import { createTerminal } from "./terminal.ts"

const flags = {
  name: Argument.String("name").pipe(Argument.withDescription("Your user name")),
  dir: dirFlag,
  host: hostFlag,
  port: Flag.Int("port").pipe(
    Flag.withFallbackConfig(Config.Int("ONECHAT_PORT")),
    Flag.withDefault(DEFAULT_PORT),
    Flag.withDescription(`Server port (env ONECHAT_PORT, default ${DEFAULT_PORT})`),
  ),
  serverName: Flag.String("server-name").pipe(
    Flag.optional,
    Flag.withDescription("Name expected in the server certificate (default: the host)"),
  ),
  json: Flag.Boolean("json").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Machine mode: commands on stdin, one JSON event per line on stdout"),
  ),
  passphraseFile: Flag.String("passphrase-file").pipe(
    Flag.optional,
    Flag.withDescription(
      "Read the passphrase from this file (else ONECHAT_PASSPHRASE, else a hidden prompt)",
    ),
  ),
}

type Options = {
  readonly name: string
  readonly dir: string
  readonly host: string
  readonly port: number
  readonly serverName: Option.Option<string>
  readonly json: boolean
  readonly passphraseFile: Option.Option<string>
}

/** Where the passphrase comes from: a file, the environment, or a hidden prompt on a terminal. */
const readPassphrase = async (
  options: Options,
  ask: (question: string) => Promise<string>,
): Promise<string> => {
  if (Option.isSome(options.passphraseFile)) {
    try {
      return (await readFile(options.passphraseFile.value, "utf8")).replace(/\r?\n$/, "")
    } catch {
      throw new Error(`Cannot read the passphrase file ${options.passphraseFile.value}.`)
    }
  }
  const fromEnvironment = process.env.ONECHAT_PASSPHRASE
  if (fromEnvironment !== undefined && fromEnvironment !== "") return fromEnvironment
  return ask(`Passphrase for ${options.name}: `)
}

/** Loads everything the session needs; any failure is one sentence. */
const prepare = async (options: Options, ask: (question: string) => Promise<string>) => {
  const passphrase = await readPassphrase(options, ask)
  const key = await Effect.runPromise(
    Effect.result(loadClientKey({ dir: options.dir, name: options.name, passphrase })),
  )
  if (Result.isFailure(key)) throw new Error(key.failure.message)
  const trust = await Effect.runPromise(Effect.result(loadClientTrust(options.dir)))
  if (Result.isFailure(trust)) throw new Error(trust.failure.message)
  const pinPath = dataLayout(options.dir).knownPeersPath(options.name)
  const knownPeers = await KnownPeers.open(Result.isSuccess(pinPath) ? pinPath.success : undefined)
  return { key: key.success, trust: trust.success, knownPeers }
}

const startSession = (
  options: Options,
  prepared: {
    readonly key: IdentityKeyPair
    readonly trust: Awaited<ReturnType<typeof prepare>>["trust"]
    readonly knownPeers: KnownPeers
  },
  onUi: (event: UiEvent) => void,
) => {
  const identity = { name: options.name, key: prepared.key }
  const session = new ClientSession({
    identity,
    knownPeers: prepared.knownPeers,
    onUi,
    connect: () =>
      connectLink({
        host: options.host,
        port: options.port,
        serverName: Option.getOrElse(options.serverName, () => options.host),
        trust: prepared.trust,
        identity,
      }),
  })
  void session.start()
  return session
}

const exitCodeFor = (reason: string): number => (reason === "quit" ? 0 : reason === "login_failed" ? 2 : 1)

/** `--json`: every UI event is one JSON line on stdout; stdin lines are commands. */
const runJson = async (options: Options): Promise<number> => {
  const print = (event: UiEvent) => process.stdout.write(`${JSON.stringify(event)}\n`)
  let prepared: Awaited<ReturnType<typeof prepare>>
  try {
    prepared = await prepare(options, () => {
      throw new Error(
        "No passphrase: set ONECHAT_PASSPHRASE or use --passphrase-file (there is no terminal to ask on).",
      )
    })
  } catch (error) {
    print({
      type: "error",
      code: "login_failed",
      message: error instanceof Error ? error.message : String(error),
    })
    print({ type: "closed", reason: "login_failed" })
    return 2
  }
  const session = startSession(options, prepared, print)
  const input = createInterface({ input: process.stdin, terminal: false })
  input.on("line", (line) => session.command(line))
  input.on("close", () => session.exit())
  const { reason } = await session.done
  input.close()
  return exitCodeFor(reason)
}

export const clientCommand = Command.make("client", flags, (options) =>
  Effect.promise(async () => {
    const code = options.json
      ? await runJson(options)
      : await runInteractive(options, createTerminal({ input: process.stdin, output: process.stdout }), {
          prepare: (ask) => prepare(options, ask),
          start: (prepared, onUi) => startSession(options, prepared, onUi),
          exitCodeFor,
        })
    await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
    process.exit(code)
  }),
).pipe(Command.withDescription("Chat as NAME (interactive on a terminal; --json for scripts)"))
