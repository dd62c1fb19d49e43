/**
 * What counts as detected: judges one attempt's result — the rule fired once, nothing altered was
 * delivered, no chat text showed on the wire, received texts are a prefix of the sent ones, a delay
 * was transparent, and anything else ended the connection or the login (§2.1, §5.2). Pure.
 */
import { ErrorCode } from "../../src/protocol/index.ts"
import type { Attempt } from "./catalogue.ts"
import type { Manipulation } from "./rules.ts"
import type { MitmResult } from "./run-case.ts"
import type { MitmOutcome } from "./session.ts"

/** What the server answers a frame or record it rejects (§2.1, §5.2) before closing. */
const FRAMING_OR_RECORD_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.RecordRejected,
  ErrorCode.Malformed,
  ErrorCode.FrameTooLarge,
])

/** Manipulations that only withhold bytes can stall a login until its deadline: detected by timeout. */
const withholds = (action: Manipulation): boolean =>
  action.kind === "drop" || action.kind === "swap" || (action.kind === "flip" && action.offset < 4)

const detected = (outcome: MitmOutcome, action: Manipulation): boolean => {
  switch (outcome.kind) {
    case "login-failed":
      return outcome.error.reason !== "Timeout" || withholds(action)
    case "closed":
      return (
        outcome.closed.reason === "protocol" ||
        outcome.closed.reason === "eof" ||
        (outcome.closed.reason === "server-error" && FRAMING_OR_RECORD_ERRORS.has(outcome.closed.code))
      )
    case "e2e-failed":
      return true
    case "completed":
    case "stalled":
      return false
  }
}

export const describeOutcome = (outcome: MitmOutcome): string => {
  switch (outcome.kind) {
    case "login-failed":
      return `login failed (${outcome.error.reason}): ${outcome.error.message}`
    case "closed":
      return `${outcome.who} closed: ${JSON.stringify(outcome.closed)}`
    case "e2e-failed":
      return `${outcome.who} e2e failed: ${outcome.message}`
    case "completed":
      return "completed"
    case "stalled":
      return `stalled: ${outcome.detail}`
  }
}

/**
 * What is wrong with one attempt's result, if anything: the manipulation did not apply, altered
 * data or plaintext showed, received texts are not a prefix of the sent ones, a delay was not
 * transparent, or any other manipulation went undetected.
 */
export const verdict = (attempt: Attempt, result: MitmResult): string | undefined => {
  const label = `${attempt.target.phase} / ${attempt.target.what} / ${attempt.name}`
  const { sent, received, outcome } = result
  if (result.fired !== 1) return `${label}: the manipulation was applied ${result.fired} times`
  if (result.altered.length > 0) return `${label}: altered data delivered: ${result.altered.join("; ")}`
  if (result.leaked.length > 0) return `${label}: chat text visible on the wire`
  const prefix = (got: ReadonlyArray<string>, of: ReadonlyArray<string>) =>
    got.every((text, i) => text === of[i])
  if (!prefix(received.byBob, sent.toBob) || !prefix(received.byAlice, sent.toAlice)) {
    return `${label}: received texts are not a prefix of the sent texts`
  }
  if (attempt.action.kind === "delay") {
    const all = received.byBob.length === sent.toBob.length && received.byAlice.length === sent.toAlice.length
    return outcome.kind === "completed" && all
      ? undefined
      : `${label}: a delay was not transparent: ${describeOutcome(outcome)}`
  }
  return detected(outcome, attempt.action) ? undefined : `${label}: not detected: ${describeOutcome(outcome)}`
}
