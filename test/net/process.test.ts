/**
 * The real `onechat server` process: starts with no flags in a fresh folder (creating its
 * development PKI), prints its "listening on" line, serves real clients with the keys it made,
 * and on SIGTERM tells every client and exits within its bound.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type ClientLink, connectLink } from "../../src/client/link.ts"
import type { IdentityKeyPair } from "../../src/crypto/identity.ts"
import { ErrorCode } from "../../src/protocol/index.ts"
import { loadClientKey, loadClientTrust } from "../../src/store/credentials.ts"
import { establishChat, hear, say } from "../../testkit/chat.ts"

const BIN = new URL("../../bin/onechat.mjs", import.meta.url).pathname
const PASSPHRASE = "correct horse battery staple"

let child: ChildProcess | undefined
let folder: string | undefined
afterEach(async () => {
  child?.kill("SIGKILL")
  if (folder !== undefined) await rm(folder, { recursive: true, force: true })
})

const startServer = async (env: Record<string, string>) => {
  folder = await mkdtemp(join(tmpdir(), "onechat-process-"))
  const proc = spawn(process.execPath, [BIN, "server"], {
    cwd: folder,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  child = proc
  let stdout = ""
  let stderr = ""
  proc.stderr.on("data", (chunk) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  )
  const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    proc.stdout.on("data", (chunk) => {
      stdout += chunk
      const match = /listening on (\S+):(\d+)/.exec(stdout)
      if (match) resolve({ host: match[1]!, port: Number(match[2]) })
    })
    void exited.then(() => reject(new Error(`server exited early:\n${stdout}\n${stderr}`)))
  })
  return { proc, address, exited, output: () => ({ stdout, stderr }), dir: join(folder, ".onechat") }
}

const loginAs = async (dir: string, port: number, name: string): Promise<[ClientLink, IdentityKeyPair]> => {
  const trust = await Effect.runPromise(loadClientTrust(dir))
  const key = await Effect.runPromise(loadClientKey({ dir, name, passphrase: PASSPHRASE }))
  const link = await connectLink({ host: "127.0.0.1", port, trust, identity: { name, key } })
  return [link, key]
}

describe("onechat server (a real process)", () => {
  it("starts with no flags, serves a chat, and on SIGTERM tells clients and exits in time", {
    timeout: 30_000,
  }, async () => {
    const server = await startServer({
      ONECHAT_PORT: "0",
      ONECHAT_PASSPHRASE: PASSPHRASE,
      ONECHAT_SHUTDOWN_GRACE_MS: "2000",
    })
    expect(server.address.host).toBe("127.0.0.1")
    expect(server.output().stdout).toMatch(/DEVELOPMENT PKI/)
    expect(server.output().stdout).not.toContain(PASSPHRASE)

    const [alice, aliceKey] = await loginAs(server.dir, server.address.port, "alice")
    const [bob, bobKey] = await loginAs(server.dir, server.address.port, "bob")
    const users = new Map([
      ["alice", aliceKey],
      ["bob", bobKey],
    ])
    const chat = await establishChat({ users }, alice, bob, { now: () => new Date() }) // a folder made now
    say(alice, chat.requester, "before shutdown")
    expect(await hear(bob, chat.accepter)).toBe("before shutdown")

    const signalled = Date.now()
    server.proc.kill("SIGTERM")
    const [aliceClosed, bobClosed, exit] = await Promise.all([alice.closed, bob.closed, server.exited])
    expect(aliceClosed).toMatchObject({ reason: "server-error", code: ErrorCode.ShuttingDown })
    expect(bobClosed).toMatchObject({ reason: "server-error", code: ErrorCode.ShuttingDown })
    expect(exit.at - signalled).toBeLessThan(4_000)
    expect(server.output().stderr).toMatch(/server\.stopped/)
    const logs = server.output().stderr
    expect(logs).not.toContain(PASSPHRASE)
    expect(logs).not.toContain("before shutdown")
  })
})
