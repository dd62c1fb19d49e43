/**
 * Parses what the user types: `!commands` (compatible with the original client, plus !cancel,
 * !verify, !trust) and chat text. Pure. Lines starting with "!!" are chat text starting with "!".
 */
import { isValidUserName } from "../protocol/names.ts"
import type { CommandEvent } from "./session.events.ts"

export type ParsedLine = CommandEvent | { readonly error: string; readonly code: string } | undefined

const simple: Record<string, CommandEvent> = {
  "!list": { type: "LIST" },
  "!accept": { type: "ACCEPT" },
  "!refuse": { type: "REFUSE" },
  "!cancel": { type: "CANCEL" },
  "!quit": { type: "QUIT" },
  "!help": { type: "HELP" },
}

/** `undefined` for an empty line (nothing to do). */
export const parseCommand = (line: string): ParsedLine => {
  const text = line.replace(/\r?\n$/, "")
  if (text.trim() === "") return undefined
  if (text.startsWith("!!")) return { type: "SAY", text: text.slice(1) }
  if (!text.startsWith("!")) return { type: "SAY", text }
  const [word = "", ...rest] = text.trim().split(/\s+/)
  const command = word.toLowerCase()
  if (command === "!request") {
    const user = rest[0]
    if (user === undefined || rest.length > 1) return { code: "usage", error: "Usage: !request <user>" }
    if (!isValidUserName(user)) {
      return {
        code: "usage",
        error: `"${user.slice(0, 40)}" is not a user name (a-z, 0-9, _ and -, 1 to 32 characters).`,
      }
    }
    return { type: "REQUEST", user }
  }
  if (command === "!verify" || command === "!trust") {
    const code = rest.join(" ")
    if (code !== "" && !/^[0-9 ]{1,80}$/.test(code)) {
      return { code: "usage", error: `Usage: ${command} <safety number> (digits, spaces allowed)` }
    }
    const type = command === "!verify" ? "VERIFY" : "TRUST"
    return code === "" ? { type } : { type, code }
  }
  const found = simple[command]
  if (found !== undefined && rest.length === 0) return found
  if (found !== undefined) return { code: "usage", error: `${command} takes no argument.` }
  return {
    code: "unknown_command",
    error: `Unknown command ${command.slice(0, 40)}: type !help for the list.`,
  }
}
