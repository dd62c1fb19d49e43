/**
 * `onechat demo` as a real process: a server and two scripted clients in one command; it must
 * show the conversation (request, accept, equal safety numbers, messages, leave, quit) and exit 0.
 */
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { BIN } from "../../testkit/processes.ts"

describe("onechat demo", () => {
  it("runs green and shows both sides of the conversation", { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, "demo"], { timeout: 50_000 })
    expect(stdout).toMatch(/demo server listening on 127\.0\.0\.1:\d+/)
    expect(stdout).toContain("bob   │ alice wants to chat with you")
    expect(stdout).toContain("both see the same safety number")
    expect(stdout).toContain("bob   │ alice: Hi bob! This text is encrypted end to end.")
    expect(stdout).toContain("alice │ bob: Hi alice. The server only relays ciphertext.")
    expect(stdout).toContain("bob   │ alice: Escape sequences are shown harmlessly: �not red�")
    expect(stdout).toContain("bob   │ alice left the chat.")
    expect(stdout).toContain("demo finished: all steps passed")
    expect(stdout).not.toContain("\u001b[31m")
  })
})
