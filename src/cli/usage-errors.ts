/**
 * What onechat says about a command line it cannot parse: the error first, one line each, as
 * `onechat client: unknown flag --bogus`, then where to look (`Run "onechat client --help" for
 * the flags.`) — never the whole help. src/cli/main.ts prints these on stderr and exits with status
 * 2. Pure: takes effect/cli's parse errors; what the user typed is shown made safe for a terminal.
 */
import type { CliError } from "effect/cli"
import { sanitizeForTerminal } from "./sanitize.ts"

const quoted = (text: string): string => `"${sanitizeForTerminal(text)}"`

const didYouMean = (suggestions: ReadonlyArray<string>): string =>
  suggestions.length === 0 ? "" : ` (did you mean ${suggestions.map(quoted).join(" or ")}?)`

/** `--name` for a flag name given with or without its dashes. */
const flagName = (name: string): string => sanitizeForTerminal(name.startsWith("-") ? name : `--${name}`)

/** The sentence for one parse error, lower-case, without the command path. */
export const describeUsageError = (error: CliError.NonShowHelpErrors): string => {
  switch (error._tag) {
    case "UnknownSubcommand":
      return `unknown command ${quoted(error.subcommand)}${didYouMean(error.suggestions)}`
    case "UnrecognizedOption":
      return `unknown flag ${flagName(error.option)}${didYouMean(error.suggestions)}`
    case "MissingOption":
      return `missing the flag ${flagName(error.option)}`
    case "MissingArgument":
      return `missing the argument <${sanitizeForTerminal(error.argument)}>`
    case "UnexpectedArgument":
      return `unexpected ${error.arguments.length === 1 ? "argument" : "arguments"} ${error.arguments.map(quoted).join(", ")}`
    case "InvalidValue": {
      const expected = error.expected.replace(/^Expected:?\s*/, "")
      const what = error.kind === "argument" ? `<${error.option}>` : flagName(error.option)
      return error.value.length === 0 && error.kind === "flag"
        ? `${what} needs a value (${sanitizeForTerminal(expected)})`
        : `${what} cannot be ${quoted(error.value)} (expected ${sanitizeForTerminal(expected)})`
    }
    case "DuplicateOption":
    case "ValidationError":
    case "UserError":
      return sanitizeForTerminal(error.message)
  }
}

const isAboutAFlag = (error: CliError.NonShowHelpErrors): boolean =>
  error._tag === "UnrecognizedOption" ||
  error._tag === "MissingOption" ||
  (error._tag === "InvalidValue" && error.kind === "flag")

/** The lines for stderr: one per error, each prefixed with the command path, then the pointer. */
export const usageErrorLines = (
  commandPath: ReadonlyArray<string>,
  errors: ReadonlyArray<CliError.NonShowHelpErrors>,
): ReadonlyArray<string> => {
  const path = commandPath.join(" ")
  const about = errors.some((error) => error._tag === "UnknownSubcommand")
    ? "commands"
    : errors.every(isAboutAFlag)
      ? "flags"
      : "usage"
  return [
    ...errors.map((error) => `${path}: ${describeUsageError(error)}`),
    `Run "${path} --help" for the ${about}.`,
  ]
}
