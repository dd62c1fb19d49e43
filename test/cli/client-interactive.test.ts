/**
 * The interactive client under a real pseudo-terminal (tmux): the hidden passphrase prompt, the
 * prompt itself, an incoming message while a line is half typed, and peer text full of escape
 * sequences neutralised on screen. The peer is a `--json` client fed raw bytes.
 */
import { execFileSync } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import {
  BIN,
  type JsonClient,
  type ServerProcess,
  startJsonClient,
  startServerProcess,
} from "../../testkit/processes.ts"
import { needs, requireTool } from "../../testkit/system-tools.ts"

const PASSPHRASE = "tty-passphrase-42"
const SESSION = `onechat-test-${process.pid}`
let folder: string
let dir: string
let server: ServerProcess
let alice: JsonClient | undefined

const tmux = (...args: string[]): string => execFileSync(requireTool("tmux"), args, { encoding: "utf8" })
const screen = (): string => tmux("capture-pane", "-p", "-t", SESSION)
const waitForScreen = async (predicate: (text: string) => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = screen()
    if (predicate(text)) return text
    if (Date.now() > deadline) throw new Error(`screen never showed ${what}:\n${text}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "onechat-tty-"))
  dir = join(folder, "data")
  await Effect.runPromise(createDevelopmentPki({ dir, users: ["alice", "bob"], passphrase: PASSPHRASE }))
  server = await startServerProcess(dir)
}, 30_000)

afterAll(async () => {
  try {
    tmux("kill-session", "-t", SESSION)
  } catch {
    // already gone
  }
  alice?.kill()
  await server.stop()
  await rm(folder, { recursive: true, force: true })
})

describe("interactive client under a pseudo-terminal", { timeout: 90_000, ...needs("tmux") }, () => {
  it("hides the passphrase, keeps the typed line intact and neutralises escape sequences", async () => {
    const command = `ONECHAT_PASSPHRASE= ${process.execPath} ${BIN} client bob --dir ${dir} --port ${server.port}`
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "30", command)
    await waitForScreen((text) => text.includes("Passphrase for bob:"), "the passphrase prompt")
    tmux("send-keys", "-t", SESSION, "-l", PASSPHRASE)
    tmux("send-keys", "-t", SESSION, "Enter")
    await waitForScreen((text) => text.includes("Logged in as bob"), "the login")
    expect(screen()).not.toContain(PASSPHRASE)
    await waitForScreen((text) => /bob> *$/m.test(text), "the prompt")

    alice = startJsonClient("alice", { dir, port: server.port, env: { ONECHAT_PASSPHRASE: PASSPHRASE } })
    await alice.next("ready")
    alice.send("!request bob")
    await waitForScreen((text) => text.includes("alice wants to chat"), "the request")
    tmux("send-keys", "-t", SESSION, "-l", "!accept")
    tmux("send-keys", "-t", SESSION, "Enter")
    await alice.next("chat_started")
    await waitForScreen((text) => text.includes("bob → alice>"), "the chat prompt")

    // bob is half-way through a line when alice's messages arrive
    tmux("send-keys", "-t", SESSION, "-l", "half typ")
    await waitForScreen((text) => text.includes("half typ"), "the half-typed line")
    alice.send("hello \u001b]0;pwned\u0007\u001b[2J\u001b[31mred\u001b[0m \u202eevil\u202c bell\u0007")
    const shown = await waitForScreen((text) => text.includes("alice: hello"), "alice's message")
    const lines = shown.split("\n")
    const messageLine = lines.find((line) => line.includes("alice: hello"))!
    expect(messageLine).toContain("red")
    expect(messageLine).not.toContain("\u001b")
    expect(messageLine).not.toContain("\u202e")
    expect(shown).not.toContain("pwned\n") // the title sequence did not leak as a line break
    expect(tmux("display-message", "-p", "-t", SESSION, "#{pane_title}")).not.toContain("pwned")
    // the screen was not cleared (ESC [2J neutralised): the login line is still there
    expect(shown).toContain("Logged in as bob")
    // the half-typed line is still intact on the last prompt line
    const promptLines = lines.filter((line) => line.startsWith("bob → alice>"))
    expect(promptLines.at(-1)).toBe("bob → alice> half typ")

    tmux("send-keys", "-t", SESSION, "-l", "ed")
    tmux("send-keys", "-t", SESSION, "Enter")
    expect(await alice.next("message")).toEqual({ type: "message", from: "bob", text: "half typed" })

    tmux("send-keys", "-t", SESSION, "-l", "!quit")
    tmux("send-keys", "-t", SESSION, "Enter")
    expect(await alice.next("peer_left")).toEqual({ type: "peer_left", peer: "bob", reason: "left" })
    tmux("send-keys", "-t", SESSION, "-l", "!quit")
    tmux("send-keys", "-t", SESSION, "Enter")
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      try {
        tmux("has-session", "-t", SESSION)
      } catch {
        return // the client exited and tmux closed its session
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`the client did not exit after !quit:\n${screen()}`)
  })
})
