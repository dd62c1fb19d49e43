/**
 * The chat terminal. Piped mode and the hidden prompt's key handling run in memory on PassThrough
 * streams; prompt redraw, hidden echo and Ctrl-C/Ctrl-D run for real under a pseudo-terminal:
 * tmux drives fixtures/chat-driver.ts and its screen is captured and read back.
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PassThrough } from "node:stream"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  applyHiddenKeys,
  createTerminal,
  HiddenInputError,
  type LineHandlers,
  MAX_SECRET_LENGTH,
} from "../../src/cli/terminal.ts"
import { needs, requireTool } from "../../testkit/system-tools.ts"

const pipes = () => {
  const input = new PassThrough()
  const output = new PassThrough()
  let written = ""
  output.on("data", (chunk: Buffer) => {
    written += chunk.toString("utf8")
  })
  return { input, output, written: () => written }
}

/** A PassThrough that claims to be a TTY and records raw-mode switches. */
const fakeTtyInput = () => {
  const modes: boolean[] = []
  const stream = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode(mode: boolean) {
      stream.isRaw = mode
      modes.push(mode)
    },
  })
  return { stream, modes }
}

const fakeTtyOutput = () => Object.assign(new PassThrough(), { isTTY: true, columns: 80 })

/** Handlers that record what they receive; `ended` resolves on onEnd. */
const recorder = () => {
  const lines: string[] = []
  let interrupts = 0
  let resolveEnd: () => void = () => {}
  const ended = new Promise<void>((resolve) => {
    resolveEnd = resolve
  })
  const handlers: LineHandlers = {
    onLine: (line) => lines.push(line),
    onEnd: () => resolveEnd(),
    onInterrupt: () => interrupts++,
  }
  return { handlers, lines, ended, interrupts: () => interrupts }
}

const ESCAPE = "\x1b"

describe("terminal on piped streams", () => {
  it("hands each line to onLine and reports the end of input", async () => {
    const { input, output, written } = pipes()
    const terminal = createTerminal({ input, output, env: {} })
    const seen = recorder()
    terminal.setPrompt("you> ")
    terminal.start(seen.handlers)
    input.write("!list\nhello there\r\n")
    input.end("last line without newline")
    await seen.ended
    expect(seen.lines).toEqual(["!list", "hello there", "last line without newline"])
    expect(terminal.isInteractive).toBe(false)
    expect(written()).toBe("")
  })

  it("println writes exactly the line and a newline, before and after start", async () => {
    const { input, output, written } = pipes()
    const terminal = createTerminal({ input, output, env: {} })
    terminal.println("before")
    const seen = recorder()
    terminal.start(seen.handlers)
    terminal.println(`${terminal.style.peer("bob")}: hi`)
    terminal.println(`${terminal.style.error("error")} ${terminal.style.info("info")}`)
    input.end()
    await seen.ended
    expect(written()).toBe("before\nbob: hi\nerror info\n")
    expect(written()).not.toContain(ESCAPE)
  })

  it("close() stops reading without calling onEnd", async () => {
    const { input, output } = pipes()
    const terminal = createTerminal({ input, output, env: {} })
    let ends = 0
    const lines: string[] = []
    terminal.start({ onLine: (line) => lines.push(line), onEnd: () => ends++, onInterrupt: () => {} })
    input.write("one\n")
    await new Promise((resolve) => setImmediate(resolve))
    terminal.close()
    input.end("two\n")
    await new Promise((resolve) => setImmediate(resolve))
    expect(lines).toEqual(["one"])
    expect(ends).toBe(0)
    expect(() => terminal.start(recorder().handlers)).toThrow(/already started or closed/)
  })

  it("refuses to ask a secret when the input is not a TTY", async () => {
    const { input, output, written } = pipes()
    const terminal = createTerminal({ input, output, env: {} })
    const failure = await terminal.readHidden("Passphrase: ").catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(HiddenInputError)
    expect(failure).toMatchObject({
      reason: "notATerminal",
      message: expect.stringMatching(/not a terminal/),
    })
    expect(written()).toBe("")
  })
})

describe("colour", () => {
  it("is on for a TTY output only, and off with NO_COLOR or TERM=dumb", () => {
    const input = new PassThrough()
    const colourful = createTerminal({ input, output: fakeTtyOutput(), env: { TERM: "xterm" } }).style
    expect(colourful.enabled).toBe(true)
    expect(colourful.error("x")).toBe("\x1b[31mx\x1b[39m")
    expect(colourful.info("x")).toBe("\x1b[2mx\x1b[22m")
    expect(colourful.peer("bob")).toBe("\x1b[1m\x1b[36mbob\x1b[39m\x1b[22m")
    for (const env of [{ NO_COLOR: "1" }, { TERM: "dumb" }]) {
      const plain = createTerminal({ input, output: fakeTtyOutput(), env }).style
      expect([plain.enabled, plain.error("x"), plain.info("x"), plain.peer("x")]).toEqual([
        false,
        "x",
        "x",
        "x",
      ])
    }
    expect(createTerminal({ input, output: new PassThrough(), env: {} }).style.error("x")).toBe("x")
  })
})

describe("hidden input keys", () => {
  it.each([
    ["Enter ends", "s3cret\r", { kind: "entered", secret: "s3cret" }],
    ["newline ends too; later keys are dropped", "ab\ncd", { kind: "entered", secret: "ab" }],
    ["Backspace and DEL delete", "ab\x7fc\bd\r", { kind: "entered", secret: "ad" }],
    ["Backspace removes a whole emoji", "a👋\x7f\r", { kind: "entered", secret: "a" }],
    ["Ctrl-U clears", "wrong\x15right\r", { kind: "entered", secret: "right" }],
    ["arrow and function keys are ignored", "a\x1b[Db\x1bOPc\x1b[15~\r", { kind: "entered", secret: "abc" }],
    ["other controls are ignored", "a\x00\x07\tb\r", { kind: "entered", secret: "ab" }],
    ["Ctrl-C interrupts", "abc\x03", { kind: "cancelled", reason: "interrupted" }],
    ["Ctrl-D on nothing ends", "\x04", { kind: "cancelled", reason: "ended" }],
    ["Ctrl-D after text is ignored", "a\x04b\r", { kind: "entered", secret: "ab" }],
    ["no Enter yet", "日本", { kind: "typing", secret: "日本" }],
  ])("%s", (_name, keys, step) => {
    expect(applyHiddenKeys("", keys)).toEqual(step)
  })

  it("continues from what was typed before and is bounded", () => {
    expect(applyHiddenKeys("ab", "c\r")).toEqual({ kind: "entered", secret: "abc" })
    const step = applyHiddenKeys("", "x".repeat(MAX_SECRET_LENGTH + 10))
    expect(step).toEqual({ kind: "typing", secret: "x".repeat(MAX_SECRET_LENGTH) })
  })
})

describe("readHidden on a (fake) TTY input", () => {
  it("reads the secret across chunks in raw mode and restores the mode", async () => {
    const { stream, modes } = fakeTtyInput()
    const { output, written } = pipes()
    const terminal = createTerminal({ input: stream, output, env: {} })
    const secret = terminal.readHidden("Passphrase: ")
    stream.write("s3\x7f")
    // The euro sign's three bytes arrive split over two chunks.
    const bytes = Buffer.from("3cr€t\r", "utf8")
    stream.write(bytes.subarray(0, 5))
    stream.write(bytes.subarray(5))
    expect(await secret).toBe("s3cr€t")
    expect(modes).toEqual([true, false])
    expect(stream.isPaused()).toBe(true)
    expect(written()).toBe("Passphrase: \n")
  })

  it("rejects Ctrl-C and end of input with distinct reasons, restoring raw mode", async () => {
    for (const [send, reason] of [
      [(s: PassThrough) => s.write("abc\x03"), "interrupted"],
      [(s: PassThrough) => s.end(), "ended"],
    ] as const) {
      const { stream, modes } = fakeTtyInput()
      const terminal = createTerminal({ input: stream, output: new PassThrough(), env: {} })
      const secret = terminal.readHidden("Passphrase: ").catch((error: unknown) => error)
      send(stream)
      expect(await secret).toMatchObject({ _tag: "HiddenInputError", reason })
      expect(modes).toEqual([true, false])
    }
  })

  it("refuses a second question at the same time", async () => {
    const { stream } = fakeTtyInput()
    const terminal = createTerminal({ input: stream, output: new PassThrough(), env: {} })
    const first = terminal.readHidden("one: ")
    await expect(terminal.readHidden("two: ")).rejects.toMatchObject({ reason: "busy" })
    stream.write("x\r")
    expect(await first).toBe("x")
  })

  it("println during the question on a TTY reprints the question below the line", async () => {
    const { stream } = fakeTtyInput()
    const output = fakeTtyOutput()
    let written = ""
    output.on("data", (chunk: Buffer) => {
      written += chunk.toString("utf8")
    })
    const terminal = createTerminal({ input: stream, output, env: { NO_COLOR: "1" } })
    const secret = terminal.readHidden("Passphrase: ")
    terminal.println("server: hello")
    stream.write("x\r")
    await secret
    expect(written).toBe("Passphrase: \x1b[1G\x1b[2Kserver: hello\nPassphrase: \n")
  })
})

// --- under a real pseudo-terminal --------------------------------------------------------------

const execFileAsync = promisify(execFile)
const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const FIXTURE = fileURLToPath(new URL("./fixtures/chat-driver.ts", import.meta.url))
const PANE_WIDTH = 100
const WAIT_MS = 10_000

const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

/** One tmux server of its own (a socket in a fresh folder, no user config) running the fixture. */
class Pane {
  private constructor(private readonly folder: string) {}

  /** Starts the fixture in a 100×20 pane. */
  static async open(): Promise<Pane> {
    const pane = new Pane(await mkdtemp(join(tmpdir(), "onechat-tmux-")))
    const command = [process.execPath, "--import", "tsx", FIXTURE].map(shellQuote).join(" ")
    const size = ["-x", String(PANE_WIDTH), "-y", "20"]
    // remain-on-exit keeps a crashed fixture's last words readable in the failure message.
    const keepDeadPane = ["set-option", "-t", "main", "remain-on-exit", "on"]
    try {
      await pane.tmux("new-session", "-d", "-s", "main", ...size, "-c", ROOT, command, ";", ...keepDeadPane)
    } catch (error) {
      await pane.kill()
      throw error
    }
    return pane
  }

  tmux(...args: string[]): Promise<{ stdout: string }> {
    return execFileAsync(requireTool("tmux"), ["-S", join(this.folder, "socket"), "-f", "/dev/null", ...args])
  }

  /** Literal text, as if typed. */
  type(text: string): Promise<unknown> {
    return this.tmux("send-keys", "-t", "main", "-l", text)
  }

  /** Named keys: Enter, BSpace, C-c, C-d, ... */
  press(...keys: string[]): Promise<unknown> {
    return this.tmux("send-keys", "-t", "main", ...keys)
  }

  /** The visible rows, trailing blanks removed. */
  async screen(): Promise<string[]> {
    const { stdout } = await this.tmux("capture-pane", "-p", "-t", "main")
    const rows = stdout.split("\n").map((row) => row.trimEnd())
    while (rows.length > 0 && rows.at(-1) === "") rows.pop()
    return rows
  }

  /** Polls the screen until `ready` holds; fails with the last screen after WAIT_MS. */
  async waitFor(what: string, ready: (rows: string[]) => boolean): Promise<string[]> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const rows = await this.screen()
      if (ready(rows)) return rows
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${rows.join("\n")}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Ends the server (and with it the fixture) and removes the socket's folder. */
  async kill(): Promise<void> {
    await this.tmux("kill-server").catch(() => undefined)
    await rm(this.folder, { recursive: true, force: true })
  }
}

const sha256Prefix = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 12)
const lastRow = (rows: string[]): string => rows.at(-1) ?? ""
const peerNumbers = (rows: string[]): number[] =>
  rows.flatMap((row) => {
    const match = /^peer: message (\d+)$/.exec(row)
    return match === null ? [] : [Number(match[1])]
  })
const highestPeer = (rows: string[]): number => Math.max(0, ...peerNumbers(rows))

describe("terminal under a pseudo-terminal (tmux)", needs("tmux"), () => {
  let pane: Pane | undefined
  beforeAll(() => {
    const tsx = new URL("../../node_modules/.bin/tsx", import.meta.url)
    expect(existsSync(tsx), "tsx must be installed (npm ci)").toBe(true)
  })
  afterEach(async () => {
    await pane?.kill()
    pane = undefined
  })

  const openChat = async (): Promise<Pane> => {
    pane = await Pane.open()
    await pane.waitFor("the passphrase question", (rows) => rows.includes("Passphrase:"))
    return pane
  }

  const enterChat = async (): Promise<Pane> => {
    const chat = await openChat()
    await chat.type("x")
    await chat.press("Enter")
    await chat.waitFor("the first peer line", (rows) => highestPeer(rows) >= 1)
    return chat
  }

  it("hides the typed passphrase, honours Backspace, and leaves raw mode", async () => {
    const chat = await openChat()
    await chat.type("s3cretX")
    await chat.press("BSpace", "Enter")
    const rows = await chat.waitFor("the fixture's report", (r) => r.some((row) => row.startsWith("got ")))
    expect(rows).toContain(`got 6 chars, sha256 ${sha256Prefix("s3cret")}, raw=false`)
    expect(rows.join("\n")).not.toContain("s3cret")
    expect(rows[0]).toBe("Passphrase:")
  })

  it("Ctrl-C at the passphrase cancels with raw mode restored", async () => {
    const chat = await openChat()
    await chat.type("abc")
    await chat.press("C-c")
    const rows = await chat.waitFor("the cancellation", (r) => r.some((row) => row.startsWith("Cancelled.")))
    expect(rows).toContain("Cancelled. (interrupted), raw=false")
    expect(rows.join("\n")).not.toContain("abc")
  })

  it("prints incoming lines above the prompt and keeps the typed text intact", async () => {
    const chat = await enterChat()
    await chat.type("hel")
    const typed = await chat.waitFor("the typed text", (rows) => lastRow(rows) === "> hel")
    const from = highestPeer(typed)
    const rows = await chat.waitFor(
      "two more peer lines while typing",
      (r) => highestPeer(r) >= from + 2 && lastRow(r) === "> hel",
    )
    const numbers = peerNumbers(rows)
    expect(numbers).toEqual(numbers.map((_, index) => numbers[0]! + index))
    const messageRows = rows.filter((row) => row.includes("message"))
    expect(messageRows).toEqual(numbers.map((n) => `peer: message ${n}`))
    expect(rows.filter((row) => row.includes("hel"))).toEqual(["> hel"])
    expect(rows, "no blank or stray rows").not.toContain("")

    await chat.type("lo")
    await chat.press("Enter")
    const after = await chat.waitFor("the echoed line", (r) => r.includes("you: hello") && lastRow(r) === ">")
    expect(after.indexOf("> hello")).toBe(after.indexOf("you: hello") - 1)
    expect(after.filter((row) => row.includes("hel"))).toEqual(["> hello", "you: hello"])
  })

  it("redraws pasted text spanning two rows, also with the cursor on its first row", async () => {
    const chat = await enterChat()
    const long = "w".repeat(130)
    // tmux delivers this as one chunk, like a paste.
    await chat.type(long)
    const split = [`> ${long.slice(0, PANE_WIDTH - 2)}`, long.slice(PANE_WIDTH - 2)]
    const tail = (rows: string[]) => rows.slice(-2).join("\n") === split.join("\n")
    const from = highestPeer(await chat.waitFor("the long typed text", tail))
    // Node leaves its row count stale after a paste; the first redraw corrects it, the second relies on it.
    const pasted = await chat.waitFor(
      "peer lines after the paste",
      (r) => highestPeer(r) >= from + 2 && tail(r),
    )
    await chat.press("C-a")
    const rows = await chat.waitFor("peer lines with the cursor on the first row", (r) => {
      return highestPeer(r) >= highestPeer(pasted) + 2 && tail(r)
    })
    for (const screen of [pasted, rows]) {
      expect(screen.filter((row) => row.includes("www"))).toEqual(split)
      expect(screen, "no blank or stray rows").not.toContain("")
      const numbers = peerNumbers(screen)
      expect(numbers).toEqual(numbers.map((_, index) => numbers[0]! + index))
    }
    await chat.press("Enter")
    await chat.waitFor("the echoed long line", (r) => r.includes(`you: ${long}`.slice(0, PANE_WIDTH)))
  })

  it.each([
    ["C-d", "[end]"],
    ["C-c", "[interrupt]"],
  ])("%s at the prompt ends the chat with %s", async (key, report) => {
    const chat = await enterChat()
    await chat.press(key)
    const rows = await chat.waitFor(report, (r) => r.includes(report))
    // The prompt was erased on the way out.
    expect(rows.filter((row) => row.startsWith(">"))).toEqual([])
  })
})
