/**
 * `onechat keygen`'s argument and flags: the user's name, their client folder, where the new
 * passphrase comes from. Light (no key code): the handler is src/cli/keygen-command.ts.
 */
import { Config } from "effect"
import { Argument, type Command, Flag } from "effect/cli"

export const keygenFlags = {
  name: Argument.String("name").pipe(
    Argument.withDescription("Your user name (as the CA operator will register it)"),
  ),
  dir: Flag.String("dir").pipe(
    Flag.withFallbackConfig(Config.String("ONECHAT_DIR")),
    Flag.withDescription("Your client folder: created if missing (env ONECHAT_DIR)"),
  ),
  passphraseFile: Flag.String("passphrase-file").pipe(
    Flag.optional,
    Flag.withDescription(
      "Take the new passphrase from this file's first line, 12 characters at least (else ONECHAT_PASSPHRASE for scripts, else a hidden prompt on a terminal, else one is generated and printed)",
    ),
  ),
}

export type KeygenOptions = Command.Command.Config.Infer<typeof keygenFlags>
