/**
 * `onechat client NAME`: log in with NAME's key from the data folder and chat. Interactive on a
 * terminal; `--json` for scripts (commands on stdin, one JSON event per line on stdout, nothing
 * else on stdout). Exit status: 0 after !quit, 2 when login fails, 1 when the connection ends.
 */
import { readFile } from "node:fs/promises"
import { createInterface } from "node:readline"
import { Effect, Option, Result } from "effect"
import { KnownPeers } from "../client/known-peers.ts"
import { connectLink } from "../client/link.ts"
import type { UiEvent } from "../client/session.events.ts"
import { ClientSession } from "../client/session.ts"
import type { IdentityKeyPair } from "../crypto/identity.ts"
import { loadClientKeyFile, loadClientTrust } from "../store/credentials.ts"
import { saveClientCrl } from "../store/crl.ts"
import { dataLayout } from "../store/layout.ts"
import type { ClientOptions } from "./client-flags.ts"
import { runInteractive } from "./client-interactive.ts"
import { parseServerAddress } from "./server-address.ts"
import { createTerminal } from "./terminal.ts"

/** Passphrase files hold one line; longer files are refused. */
const MAX_PASSPHRASE_FILE_BYTES = 1024

/**
 * Where the passphrase that unlocks the key comes from: a file (its first line), the environment,
 * or a hidden prompt on a terminal. No length rule here: it unlocks an existing key, and the rule
 * for chosen passphrases (src/crypto/passphrase.ts) applies where a key is created.
 */
const readPassphrase = async (
  options: ClientOptions,
  ask: (question: string) => Promise<string>,
): Promise<string> => {
  if (Option.isSome(options.passphraseFile)) {
    const path = options.passphraseFile.value
    let text: string
    try {
      text = await readFile(path, "utf8")
    } catch {
      throw new Error(`Cannot read the passphrase file ${path}.`)
    }
    if (Buffer.byteLength(text) > MAX_PASSPHRASE_FILE_BYTES) {
      throw new Error(`The passphrase file ${path} is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes.`)
    }
    return text.split(/\r?\n/, 1)[0] ?? ""
  }
  const fromEnvironment = process.env.ONECHAT_PASSPHRASE
  if (fromEnvironment !== undefined && fromEnvironment !== "") return fromEnvironment
  return ask(`Passphrase for ${options.name}: `)
}

/** Loads everything the session needs; any failure is one sentence. */
const prepare = async (options: ClientOptions, ask: (question: string) => Promise<string>) => {
  const passphrase = await readPassphrase(options, ask)
  const key = await Effect.runPromise(
    Effect.result(loadClientKeyFile({ dir: options.dir, name: options.name, passphrase })),
  )
  if (Result.isFailure(key)) throw new Error(key.failure.message)
  if (key.success.warning !== undefined) process.stderr.write(`${key.success.warning}\n`)
  const trust = await Effect.runPromise(Effect.result(loadClientTrust(options.dir, options.name)))
  if (Result.isFailure(trust)) throw new Error(trust.failure.message)
  const pinPath = dataLayout(options.dir).knownPeersPath(options.name)
  const knownPeers = await KnownPeers.open(Result.isSuccess(pinPath) ? pinPath.success : undefined)
  return { key: key.success.key, trust: trust.success, knownPeers }
}

/**
 * Keeps, in the user's folder, the freshest CA-signed CRL seen (the one the server stapled, already
 * checked fresh at login): a later server that staples an older one cannot hide a revocation.
 */
const keepFreshestCrl = async (options: ClientOptions, crls: ReadonlyArray<Uint8Array>): Promise<void> => {
  const folder = dataLayout(options.dir).client(options.name)
  if (Result.isFailure(folder)) return
  for (const crl of crls) {
    await Effect.runPromise(Effect.result(saveClientCrl(folder.success.root, crl)))
  }
}

const startSession = (
  options: ClientOptions,
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
    connect: async () => {
      const link = await connectLink({
        host: options.host,
        port: options.port,
        serverName: Option.getOrElse(options.serverName, () => options.host),
        trust: prepared.trust,
        identity,
      })
      await keepFreshestCrl(options, link.peerTrust.crls)
      return link
    },
  })
  void session.start()
  return session
}

const exitCodeFor = (reason: string): number => (reason === "quit" ? 0 : reason === "login_failed" ? 2 : 1)

/** `--json`: every UI event is one JSON line on stdout; stdin lines are commands. */
const runJson = async (options: ClientOptions): Promise<number> => {
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

/**
 * Where to connect: `--server HOST[:PORT]` (or ONECHAT_SERVER) when given, its port defaulting to
 * `--port`; else `--host` and `--port`. The certificate is then checked against that host.
 */
const resolveServer = (options: ClientOptions): Result.Result<ClientOptions, string> => {
  if (Option.isNone(options.server)) return Result.succeed(options)
  return Result.map(parseServerAddress(options.server.value, options.port), ({ host, port }) => ({
    ...options,
    host,
    port,
  }))
}

/** Runs `onechat client` (flags: src/cli/client-flags.ts); leaves the process with its exit status. */
export const runClient = (given: ClientOptions) =>
  Effect.promise(async () => {
    const resolved = resolveServer(given)
    if (Result.isFailure(resolved)) {
      process.stderr.write(
        `onechat client: ${resolved.failure}\nRun "onechat client --help" for the flags.\n`,
      )
      process.exit(2)
    }
    const options = resolved.success
    const code = options.json
      ? await runJson(options)
      : await runInteractive(options, createTerminal({ input: process.stdin, output: process.stdout }), {
          prepare: (ask) => prepare(options, ask),
          start: (prepared, onUi) => startSession(options, prepared, onUi),
          exitCodeFor,
        })
    await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
    process.exit(code)
  })
