/**
 * The rule for passphrases a person chooses for a new key (from a prompt, --passphrase-file or
 * ONECHAT_PASSPHRASE when a key is created): at least 12 characters, one line. Generated
 * passphrases are long and need no check; a passphrase typed to unlock an existing key is never
 * checked. Pure. Errors never contain the passphrase, nor its length. No docs/protocol.md section.
 */
import { Data, Result } from "effect"

/** Shortest passphrase a person may choose, in characters (Unicode code points). */
export const MIN_CHOSEN_PASSPHRASE_CHARS = 12

export type PassphraseErrorReason = "TooShort" | "LineBreak"

const sentences: Record<PassphraseErrorReason, string> = {
  TooShort: `A passphrase you choose must be at least ${MIN_CHOSEN_PASSPHRASE_CHARS} characters long: use a longer one (a few random words work well), or let onechat generate one.`,
  LineBreak: "A passphrase must be a single line: it cannot contain a line break.",
}

/** A chosen passphrase that onechat refuses. Carries no part of the passphrase. */
export class PassphraseError extends Data.TaggedError("PassphraseError")<{
  readonly reason: PassphraseErrorReason
}> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/**
 * Checks a passphrase a person chose for a new or re-encrypted key. Call it wherever a passphrase
 * is *chosen* (key creation, re-encryption), never where one is typed to unlock a key.
 */
export const checkChosenPassphrase = (text: string): Result.Result<string, PassphraseError> => {
  if (/[\r\n]/.test(text)) return Result.fail(new PassphraseError({ reason: "LineBreak" }))
  if ([...text].length < MIN_CHOSEN_PASSPHRASE_CHARS) {
    return Result.fail(new PassphraseError({ reason: "TooShort" }))
  }
  return Result.succeed(text)
}
