/**
 * The chat client's terminal: a line prompt that incoming lines never garble, colour only on a
 * colour-capable TTY, and a hidden passphrase prompt. All of the client's terminal I/O goes through
 * here; it prints what it is given, so untrusted text must pass sanitize.ts first. Piped input is
 * read line by line with no prompt, no redraw and no cursor escape codes. No protocol logic.
 */
import * as readline from "node:readline"
import { StringDecoder } from "node:string_decoder"
import { styleText } from "node:util"
import { Data } from "effect"

/** The input side: process.stdin, or any readable stream (then lines are simply read). */
export interface TerminalInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean
  readonly isRaw?: boolean
  setRawMode?(mode: boolean): unknown
}

/** The output side: process.stdout, or any writable stream (then nothing but text is written). */
export interface TerminalOutput extends NodeJS.WritableStream {
  readonly isTTY?: boolean
  readonly columns?: number
}

export interface TerminalOptions {
  readonly input: TerminalInput
  readonly output: TerminalOutput
  /** Read for NO_COLOR and TERM; process.env by default. */
  readonly env?: NodeJS.ProcessEnv
}

/** Colour helpers; identity functions when colour is off. Own chat lines stay plain. */
export interface Style {
  readonly enabled: boolean
  /** System and informational lines: dim. */
  info(text: string): string
  /** Errors: red. */
  error(text: string): string
  /** The peer's name: bold cyan. */
  peer(text: string): string
}

export interface LineHandlers {
  /** One entered line, without its line break. */
  onLine(line: string): void
  /** End of input (Ctrl-D on an empty line, or the pipe closed). Not called after close(). */
  onEnd(): void
  /** Ctrl-C at the prompt. */
  onInterrupt(): void
}

export interface Terminal {
  /** Prints a line above the prompt without disturbing what the user is typing. Sanitize peer text first. */
  println(line: string): void
  /** Sets the prompt, redrawn at once if lines are being read on a TTY. Not shown for piped input. */
  setPrompt(prompt: string): void
  /** Starts reading lines. At most once; not while readHidden is pending. */
  start(handlers: LineHandlers): void
  /**
   * Asks for a secret on a TTY: shows `question`, echoes nothing (not even `*`, so the length stays
   * private), Backspace deletes, Ctrl-U clears, Enter ends. Rejects with HiddenInputError: reason
   * "interrupted" on Ctrl-C, "ended" on Ctrl-D or end of input, "notATerminal" when the input is not
   * a TTY, "busy" while lines are being read or another secret is asked. Restores raw mode.
   */
  readHidden(question: string): Promise<string>
  /** True when both input and output are TTYs: prompt, line editing and redraw are on. */
  readonly isInteractive: boolean
  readonly style: Style
  /** Stops reading lines (without onEnd). println keeps working as plain writes. */
  close(): void
}

export type HiddenInputReason = "interrupted" | "ended" | "notATerminal" | "busy"

const hiddenInputSentences: Record<HiddenInputReason, string> = {
  interrupted: "Cancelled.",
  ended: "The input ended before the secret was entered.",
  notATerminal: "Cannot ask for a secret: the input is not a terminal.",
  busy: "Cannot ask for a secret while the terminal is reading lines.",
}

/** Why readHidden did not return a secret. */
export class HiddenInputError extends Data.TaggedError("HiddenInputError")<{
  readonly reason: HiddenInputReason
}> {
  override get message(): string {
    return hiddenInputSentences[this.reason]
  }
}

/** Longest secret kept; further characters are ignored. */
export const MAX_SECRET_LENGTH = 1024

/** Colour only for a TTY, and only if NO_COLOR is unset or empty (no-color.org) and TERM is not dumb. */
export const colourEnabled = (output: TerminalOutput, env: NodeJS.ProcessEnv): boolean =>
  output.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"

type Format = Parameters<typeof styleText>[0]

/** Builds the palette; `enabled` was decided by colourEnabled, so styleText must not re-check. */
export const makeStyle = (enabled: boolean): Style => {
  const paint = (format: Format) => (text: string) =>
    enabled ? styleText(format, text, { validateStream: false }) : text
  return { enabled, info: paint("dim"), error: paint("red"), peer: paint(["bold", "cyan"]) }
}

interface State {
  readonly input: TerminalInput
  readonly output: TerminalOutput
  readonly isInteractive: boolean
  prompt: string
  reader: readline.Interface | undefined
  /** The question on screen while readHidden is pending. */
  hiddenQuestion: string | undefined
  /** Set by close(): the reader's "close" event is then not an end of input. */
  closing: boolean
}

/** Clears prompt and typed text (which may span rows) and leaves the cursor where the prompt began. */
const eraseInputArea = (reader: readline.Interface, output: TerminalOutput): void => {
  readline.moveCursor(output, 0, -reader.getCursorPos().rows)
  readline.cursorTo(output, 0)
  readline.clearScreenDown(output)
}

/**
 * readline's record of the rows between the prompt's first row and the cursor, which its redraw
 * moves up first. Undeclared in @types/node; Node leaves it stale after a paste that wraps.
 */
type ReaderWithRows = readline.Interface & { prevRows?: number }

/** Prints `line` above the prompt, then redraws prompt and typed text with the cursor where it was. */
const printAbovePrompt = (reader: ReaderWithRows, output: TerminalOutput, line: string): void => {
  eraseInputArea(reader, output)
  output.write(`${line}\n`)
  // The cursor is now where the prompt begins: the redraw must not move up first.
  reader.prevRows = 0
  reader.prompt(true)
}

const printLine = (state: State, line: string): void => {
  const { output, reader, hiddenQuestion } = state
  if (!state.isInteractive) {
    output.write(`${line}\n`)
  } else if (reader !== undefined) {
    printAbovePrompt(reader, output, line)
  } else if (hiddenQuestion !== undefined) {
    readline.cursorTo(output, 0)
    readline.clearLine(output, 0)
    output.write(`${line}\n${hiddenQuestion}`)
  } else {
    output.write(`${line}\n`)
  }
}

const startReading = (state: State, handlers: LineHandlers): void => {
  if (state.reader !== undefined || state.closing)
    throw new Error("Terminal.start: already started or closed")
  if (state.hiddenQuestion !== undefined) throw new Error("Terminal.start: a secret is being asked")
  const { input, output, isInteractive } = state
  const reader = isInteractive
    ? readline.createInterface({ input, output, terminal: true, prompt: state.prompt })
    : readline.createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY })
  state.reader = reader
  reader.on("line", (line) => {
    handlers.onLine(line)
    if (isInteractive && state.reader === reader) reader.prompt()
  })
  reader.on("SIGINT", () => handlers.onInterrupt())
  reader.on("close", () => {
    state.reader = undefined
    // The prompt and any unsent text go, so whatever is printed next starts on a clean line.
    if (isInteractive) eraseInputArea(reader, output)
    if (!state.closing) handlers.onEnd()
  })
  if (isInteractive) reader.prompt()
}

type HiddenStep =
  | { readonly kind: "typing"; readonly secret: string }
  | { readonly kind: "entered"; readonly secret: string }
  | { readonly kind: "cancelled"; readonly reason: "interrupted" | "ended" }

/** Index after the escape sequence (arrow or function key) at `from`, which holds ESC. */
const skipKeySequence = (keys: string, from: number): number => {
  let index = from + 1
  const introducer = keys[index]
  if (introducer !== "[" && introducer !== "O") return index
  index++
  while (index < keys.length && !/[@-~]/.test(keys[index]!)) index++
  return Math.min(index + 1, keys.length)
}

/**
 * Applies raw key input to the secret typed so far. Pure. Enter ends, Ctrl-C interrupts, Ctrl-D on
 * an empty secret ends, Backspace/DEL deletes one character, Ctrl-U clears, other controls and key
 * sequences are ignored. Keys after Enter in the same chunk are dropped.
 */
export const applyHiddenKeys = (secret: string, keys: string): HiddenStep => {
  let typed = secret
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!
    if (key === "\r" || key === "\n") return { kind: "entered", secret: typed }
    if (key === "\x03") return { kind: "cancelled", reason: "interrupted" }
    if (key === "\x04" && typed === "") return { kind: "cancelled", reason: "ended" }
    if (key === "\x7f" || key === "\b") typed = Array.from(typed).slice(0, -1).join("")
    else if (key === "\x15") typed = ""
    else if (key === "\x1b") index = skipKeySequence(keys, index) - 1
    else if (key >= " " && typed.length < MAX_SECRET_LENGTH) typed += key
  }
  return { kind: "typing", secret: typed }
}

/** Reads raw keys until Enter, Ctrl-C, Ctrl-D or end of input; raw mode is the caller's business. */
const collectSecret = (input: TerminalInput): Promise<string> =>
  new Promise((resolve, reject) => {
    const decoder = new StringDecoder("utf8")
    let secret = ""
    const finish = (step: HiddenStep): void => {
      input.removeListener("data", onData)
      input.removeListener("end", onEnd)
      if (step.kind === "cancelled") reject(new HiddenInputError({ reason: step.reason }))
      else resolve(step.secret)
    }
    const onData = (chunk: Buffer | string): void => {
      const step = applyHiddenKeys(secret, typeof chunk === "string" ? chunk : decoder.write(chunk))
      if (step.kind === "typing") secret = step.secret
      else finish(step)
    }
    const onEnd = (): void => finish({ kind: "cancelled", reason: "ended" })
    input.on("data", onData)
    input.on("end", onEnd)
  })

const readHidden = async (state: State, question: string): Promise<string> => {
  const { input, output } = state
  if (input.isTTY !== true || input.setRawMode === undefined) {
    throw new HiddenInputError({ reason: "notATerminal" })
  }
  if (state.reader !== undefined || state.hiddenQuestion !== undefined) {
    throw new HiddenInputError({ reason: "busy" })
  }
  const wasRaw = input.isRaw === true
  // Raw mode before the question: keys typed once it shows must not be echoed by the tty driver.
  input.setRawMode(true)
  state.hiddenQuestion = question
  output.write(question)
  try {
    return await collectSecret(input)
  } finally {
    input.setRawMode(wasRaw)
    // Stop reading until start(): keys would be lost, and a flowing stdin keeps the process alive.
    input.pause()
    state.hiddenQuestion = undefined
    // Enter is not echoed in raw mode: end the question's line.
    output.write("\n")
  }
}

/** Creates the terminal over `input` and `output`. Nothing is read before start() or readHidden(). */
export const createTerminal = (options: TerminalOptions): Terminal => {
  const { input, output } = options
  const isInteractive = input.isTTY === true && output.isTTY === true
  const style = makeStyle(colourEnabled(output, options.env ?? process.env))
  const state: State = {
    input,
    output,
    isInteractive,
    prompt: "> ",
    reader: undefined,
    hiddenQuestion: undefined,
    closing: false,
  }
  return {
    isInteractive,
    style,
    println: (line) => printLine(state, line),
    setPrompt: (prompt) => {
      if (prompt === state.prompt) return
      state.prompt = prompt
      state.reader?.setPrompt(prompt)
      if (isInteractive) state.reader?.prompt(true)
    },
    start: (handlers) => startReading(state, handlers),
    readHidden: (question) => readHidden(state, question),
    close: () => {
      state.closing = true
      state.reader?.close()
    },
  }
}
