/**
 * Structured logging for the server: one line per event, as JSON or as readable text, to a
 * writable (stderr by default). Fields are plain values; byte arrays never print their contents,
 * only their length. Callers pass names, ids, codes and counts — never keys, passphrases or text.
 */

export type LogLevel = "debug" | "info" | "warn" | "error"
export type LogFormat = "text" | "json"
export type LogFields = Readonly<Record<string, string | number | boolean | bigint | undefined | Uint8Array>>

export interface Logger {
  debug(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

const plain = (value: LogFields[string]): string | number | boolean | undefined => {
  if (value instanceof Uint8Array) return `<${value.length} bytes>`
  if (typeof value === "bigint") return value.toString()
  return value
}

const textValue = (value: string | number | boolean): string =>
  typeof value === "string" && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)

export const makeLogger = (options: {
  readonly format: LogFormat
  readonly level: LogLevel
  readonly write?: (line: string) => void
  readonly now?: () => Date
}): Logger => {
  const write = options.write ?? ((line: string) => process.stderr.write(line))
  const now = options.now ?? (() => new Date())
  const minimum = rank[options.level]
  const log =
    (level: LogLevel) =>
    (event: string, fields: LogFields = {}): void => {
      if (rank[level] < minimum) return
      const entries = Object.entries(fields).flatMap(([key, value]) => {
        const shown = plain(value)
        return shown === undefined ? [] : [[key, shown] as const]
      })
      const time = now().toISOString()
      if (options.format === "json") {
        write(`${JSON.stringify({ time, level, event, ...Object.fromEntries(entries) })}\n`)
      } else {
        const rest = entries.map(([key, value]) => `${key}=${textValue(value)}`).join(" ")
        write(`${time} ${level.toUpperCase().padEnd(5)} ${event}${rest === "" ? "" : ` ${rest}`}\n`)
      }
    }
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
