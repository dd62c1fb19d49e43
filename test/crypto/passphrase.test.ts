/**
 * Tests for src/crypto/passphrase.ts: the rule for passphrases a person chooses (at least 12
 * characters, counted as Unicode code points, one line), and errors that never repeat the
 * passphrase or its length.
 */
import { inspect } from "node:util"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  checkChosenPassphrase,
  MIN_CHOSEN_PASSPHRASE_CHARS,
  type PassphraseErrorReason,
} from "../../src/crypto/passphrase.ts"

const refused = (text: string, reason: PassphraseErrorReason) => {
  const result = checkChosenPassphrase(text)
  if (Result.isSuccess(result)) throw new Error("the passphrase was accepted")
  expect(result.failure.reason).toBe(reason)
  for (const printed of [result.failure.message, String(result.failure), inspect(result.failure)]) {
    if (text.length > 0) expect(printed).not.toContain(text)
    expect(printed).not.toMatch(/\b\d{1,2} characters? \(|got \d/) // no length of the passphrase
  }
  return result.failure
}

describe("checkChosenPassphrase", () => {
  it("accepts 12 characters and more, unchanged", () => {
    expect(MIN_CHOSEN_PASSPHRASE_CHARS).toBe(12)
    for (const text of ["abcdefghijkl", "correct horse battery staple", "  twelve ch  "]) {
      expect(checkChosenPassphrase(text)).toEqual(Result.succeed(text))
    }
  })

  it("refuses fewer than 12 characters with one sentence that says what to do", () => {
    const error = refused("abcdefghijk", "TooShort")
    expect(error.message).toBe(
      "A passphrase you choose must be at least 12 characters long: use a longer one (a few random words work well), or let onechat generate one.",
    )
    refused("", "TooShort")
    refused("hunter2", "TooShort")
  })

  it("counts characters, not UTF-16 units or bytes", () => {
    refused("🔑".repeat(11), "TooShort") // 22 UTF-16 units, 44 bytes, 11 characters
    expect(Result.isSuccess(checkChosenPassphrase("🔑".repeat(12)))).toBe(true)
    expect(Result.isSuccess(checkChosenPassphrase("é".repeat(12)))).toBe(true)
  })

  it("refuses a line break (a passphrase file holds one line)", () => {
    refused("correct horse\nbattery staple", "LineBreak")
    refused("correct horse battery staple\r", "LineBreak")
  })
})
