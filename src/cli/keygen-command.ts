/**
 * `onechat keygen NAME --dir CLIENT_DIR`, run on the user's own machine: makes the user's key pair
 * in their folder — the private key encrypted with their passphrase, and NAME.pub.pem to send to
 * the CA operator — and says what to do next. Nothing secret leaves the folder; the passphrase is
 * printed only when generated here. Thin: the work is in src/store/client-folder.ts.
 */
import { readFile } from "node:fs/promises"
import { Console, Effect, Option, Result } from "effect"
import { checkChosenPassphrase } from "../crypto/passphrase.ts"
import { systemRandom } from "../crypto/primitives.ts"
import { createClientKey, generatePassphrase } from "../store/client-folder.ts"
import { clientLayout } from "../store/layout.ts"
import { shellWord } from "./init-command.ts"
import type { KeygenOptions } from "./keygen-flags.ts"
import { createTerminal } from "./terminal.ts"

/** Passphrase files hold one line; longer files are refused. */
const MAX_PASSPHRASE_FILE_BYTES = 1024

/** The chosen passphrase, or `undefined` when one should be generated. Throws a sentence on failure. */
const choosePassphrase = async (
  passphraseFile: Option.Option<string>,
  name: string,
): Promise<string | undefined> => {
  let chosen: string | undefined
  if (Option.isSome(passphraseFile)) {
    const path = passphraseFile.value
    const text = await readFile(path, "utf8").catch(() => {
      throw new Error(`Cannot read the passphrase file ${path}.`)
    })
    if (Buffer.byteLength(text) > MAX_PASSPHRASE_FILE_BYTES) {
      throw new Error(`The passphrase file ${path} is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes.`)
    }
    chosen = text.split(/\r?\n/, 1)[0] ?? ""
  } else if ((process.env.ONECHAT_PASSPHRASE ?? "") !== "") {
    chosen = process.env.ONECHAT_PASSPHRASE
  } else if (process.stdin.isTTY === true && process.stdout.isTTY === true) {
    const terminal = createTerminal({ input: process.stdin, output: process.stdout })
    try {
      const first = await terminal.readHidden(`New passphrase for ${name} (Enter to generate one): `)
      if (first === "") return undefined
      if (Result.isFailure(checkChosenPassphrase(first))) chosen = first
      else if ((await terminal.readHidden("Same passphrase again: ")) !== first) {
        throw new Error("The two passphrases differ; nothing was written.")
      } else chosen = first
    } finally {
      terminal.close()
    }
  }
  if (chosen === undefined) return undefined
  const checked = checkChosenPassphrase(chosen)
  if (Result.isFailure(checked)) throw new Error(checked.failure.message)
  return checked.success
}

/** Runs `onechat keygen` (flags: src/cli/keygen-flags.ts). */
export const runKeygen = ({ name, dir, passphraseFile }: KeygenOptions) =>
  Effect.gen(function* () {
    const chosen = yield* Effect.tryPromise({
      try: () => choosePassphrase(passphraseFile, name),
      catch: (error) => (error instanceof Error ? error : new Error(String(error))),
    })
    const passphrase = chosen ?? generatePassphrase(systemRandom)
    const files = yield* createClientKey({ clientDir: dir, name, passphrase, random: systemRandom })
    const folder = clientLayout(dir).root
    yield* Console.log(
      [
        `Made ${name}'s key pair in ${folder}.`,
        `  private key  ${files.keyPath}   (encrypted; never leaves this folder)`,
        `  public key   ${files.publicKeyPath}`,
        `  fingerprint  ${files.fingerprint}`,
        ...(chosen === undefined
          ? [`  passphrase   ${passphrase}   (generated: write it down; it is stored nowhere)`]
          : ["  passphrase   yours (not shown)"]),
        "Next:",
        `  1. Send ${files.publicKeyPath} to the CA operator (it is public), and read them the fingerprint above.`,
        `  2. They run: onechat ca issue ${name} --pubkey ${name}.pub.pem --ca-dir CA --out ${name}.cert.pem`,
        `     and copy ${name}.cert.pem to the server's users/ folder; they send you the CA certificate.`,
        `  3. Put the CA certificate in ${shellWord(folder)} as ca.cert.pem (check its fingerprint with them).`,
        `  4. Chat: onechat client ${name} --dir ${shellWord(dir)} --server SERVER[:PORT]`,
      ].join("\n"),
    )
  })
