/**
 * The live inspector against the real server and real clients, seen through Debian's Chromium:
 * live counts per state, the supervisor's state, recent transitions; nothing secret in the page
 * or its event stream; loopback only; closing its scope ends the streams. Leaves a screenshot
 * in test-output/inspector.png (a CI artefact).
 */
import { mkdir } from "node:fs/promises"
import { request } from "node:http"
import { Effect, Exit, Scope } from "effect"
import type { Browser, Page } from "playwright-core"
import { afterEach, describe, expect, it } from "vitest"
import { createActor } from "xstate"
import { connectionMachine } from "../../src/actors/connection.machine.ts"
import {
  type ConnectionActor,
  connectionActorOf,
  supervisorMachine,
} from "../../src/actors/supervisor.machine.ts"
import type { ClientLink } from "../../src/client/link.ts"
import { InspectorTracker, type RunningInspector, startInspector } from "../../src/net/inspector.ts"
import { establishChat, hear, login, say } from "../../testkit/chat.ts"
import { launchChromium } from "../../testkit/chromium.ts"
import { startTestServer, type TestServer } from "../../testkit/server.ts"
import { needs } from "../../testkit/system-tools.ts"

const SCREENSHOT = "test-output/inspector.png"
const WAIT_MS = 10_000

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An inspector and a test server reporting to it, both stopped after the test (server first). */
const startInspected = async (showNames: boolean) => {
  const scope = await Effect.runPromise(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const inspector = await Effect.runPromise(startInspector({ port: 0, showNames }).pipe(Scope.provide(scope)))
  const server = await startTestServer({ inspect: inspector.inspect })
  cleanups.push(() => server.stop())
  return { inspector, server, scope }
}

const connect = async (server: TestServer, name: string): Promise<ClientLink> => {
  const link = await login(server, name)
  cleanups.push(() => link.close())
  return link
}

/** Everything the event stream sends, as text, until the test ends. */
const tapStream = async (inspector: RunningInspector) => {
  const abort = new AbortController()
  const response = await fetch(`${inspector.url}events`, { signal: abort.signal })
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ""
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      text += value
    }
  })()
  cleanups.push(() => abort.abort())
  return { text: () => text, done, abort: () => abort.abort() }
}

const countIs = (page: Page, path: string, count: number) =>
  page
    .locator(`#chart-connection [data-count="${path}"]`)
    .filter({ hasText: new RegExp(`^${count}$`) })
    .waitFor({ timeout: WAIT_MS })

const transitionsShow = (page: Page, text: string) =>
  page.locator("#transitions td", { hasText: text }).first().waitFor({ timeout: WAIT_MS })

const encodings = (bytes: Uint8Array): string[] => {
  const buffer = Buffer.from(bytes)
  return [buffer.toString("hex"), buffer.toString("base64"), buffer.toString("base64url")]
}

const getWithHost = (port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/", headers: { host } }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
      .on("error", reject)
      .end()
  })

describe("live inspector", () => {
  it("shows live counts and transitions in Chromium, and nothing secret", {
    timeout: 60_000,
    ...needs("chromium"),
  }, async () => {
    const { inspector, server } = await startInspected(false)
    const browser: Browser = await launchChromium()
    cleanups.push(() => browser.close())
    const stream = await tapStream(inspector)
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
    await page.goto(inspector.url)
    await page.locator("#live", { hasText: "live" }).waitFor({ timeout: WAIT_MS })
    await page.locator("#supervisor-state", { hasText: "running" }).waitFor({ timeout: WAIT_MS })

    const [alice, bob] = await Promise.all(["alice", "bob", "carol"].map((name) => connect(server, name)))
    await countIs(page, "online.session.idle", 3)
    await countIs(page, "online.liveness.awake", 3)
    await countIs(page, "online", 3)
    await transitionsShow(page, "LOGIN_VERIFIED")

    const chat = await establishChat(server, alice!, bob!)
    say(alice!, chat.requester, "a secret only bob may read")
    expect(await hear(bob!, chat.accepter)).toBe("a secret only bob may read")
    await countIs(page, "online.session.chatting.active", 2)
    await countIs(page, "online.session.chatting", 2)
    await countIs(page, "online.session.idle", 1)
    await countIs(page, "", 3)
    await expect(page.locator("#total").textContent()).resolves.toBe("3")
    for (const event of ["RTT", "REQUEST_INCOMING", "ACCEPT", "REQUEST_ACCEPTED", "CHAT_ESTABLISHED"])
      await transitionsShow(page, event)
    await transitionsShow(page, "online.session.chatting.active")

    await mkdir("test-output", { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })

    const shown = [await page.content(), await (await fetch(inspector.url)).text(), stream.text()].join("\n")
    expect(stream.text()).toContain("LOGIN_VERIFIED")
    for (const name of ["alice", "bob", "carol"]) expect(shown).not.toContain(name)
    expect(shown).not.toContain("a secret only bob may read")
    for (const key of [...server.users.values()].map((user) => user.publicKey))
      for (const encoded of encodings(key)) expect(shown).not.toContain(encoded)
    // No key, nonce or envelope in any encoding: no long hex or base64 runs in the stream at all.
    expect(stream.text()).not.toMatch(/[0-9a-f]{24,}/i)
    expect(stream.text()).not.toMatch(/[A-Za-z0-9+/_-]{32,}/)
  })

  it("shows user names only when asked to", { timeout: 30_000 }, async () => {
    const { inspector, server } = await startInspected(true)
    const stream = await tapStream(inspector)
    await connect(server, "alice")
    const deadline = Date.now() + WAIT_MS
    while (!stream.text().includes('"name":"alice"') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50))
    expect(stream.text()).toContain('"name":"alice"')
  })

  it("listens on 127.0.0.1 only and answers only to its own host names", async () => {
    const { inspector } = await startInspected(false)
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(await getWithHost(inspector.port, `127.0.0.1:${inspector.port}`)).toBe(200)
    expect(await getWithHost(inspector.port, `localhost:${inspector.port}`)).toBe(200)
    expect(await getWithHost(inspector.port, `attacker.example:${inspector.port}`)).toBe(403)
    const page = await fetch(inspector.url)
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'")
    expect(await page.text()).not.toMatch(/(src|href)=["']?(https?:)?\/\//)
  })

  it("closing its scope ends every stream and the listener", async () => {
    const { inspector, scope } = await startInspected(false)
    const streams = await Promise.all([tapStream(inspector), tapStream(inspector)])
    expect(inspector.streamCount()).toBe(2)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Promise.all(streams.map((stream) => stream.done))
    await expect(fetch(inspector.url)).rejects.toThrow()
  })
})

describe("InspectorTracker", () => {
  /** A supervisor whose connections throw when they report a login (to watch a failure). */
  const faulty = supervisorMachine.provide({
    actors: {
      connection: connectionMachine.provide({
        actions: {
          reportOnline: () => {
            throw new Error("injected fault")
          },
        },
      }),
    },
  })
  const start = (machine: typeof supervisorMachine) => {
    const tracker = new InspectorTracker({ showNames: false })
    const supervisor = createActor(machine, { inspect: tracker.inspect }).start()
    const open = (connectionId: string) => {
      supervisor.send({ type: "CONNECTION_OPENED", connectionId })
      return connectionActorOf(supervisor, connectionId) as ConnectionActor
    }
    const user = { name: "alice", identityKey: new Uint8Array(32).fill(1), certificate: new Uint8Array(1) }
    return { tracker, supervisor, open, user }
  }
  const moves = (tracker: InspectorTracker) =>
    tracker.current().transitions.map((t) => `${t.id} ${t.event}: ${t.from.join()} > ${t.to.join()}`)

  it("follows a connection from spawn to its final state, then forgets it", () => {
    const { tracker, supervisor, open, user } = start(supervisorMachine)
    const connection = open("c1")
    connection.send({ type: "LOGIN_VERIFIED", user })
    expect(tracker.current()).toMatchObject({
      total: 1,
      counts: { online: 1, "online.session": 1, "online.session.idle": 1, "online.liveness.awake": 1 },
      supervisor: { states: ["running"], status: "active" },
    })
    connection.send({ type: "CLIENT_ACTIVE" }) // no change of state: no transition recorded
    connection.send({ type: "TRANSPORT_CLOSED" })
    expect(tracker.current()).toMatchObject({ total: 0, counts: {} })
    expect(moves(tracker)).toEqual([
      "c1 xstate.init:  > authenticating",
      "c1 LOGIN_VERIFIED: authenticating > online.session.idle,online.liveness.awake",
      "c1 TRANSPORT_CLOSED: online.session.idle,online.liveness.awake > closing",
    ])
    expect(JSON.stringify(tracker.current())).not.toContain("alice")
    supervisor.stop()
  })

  it("drops a connection that failed, and one stopped with its supervisor", () => {
    const { tracker, supervisor, open, user } = start(faulty)
    open("c1").send({ type: "LOGIN_VERIFIED", user })
    open("c2")
    expect(tracker.current().total).toBe(1)
    expect(moves(tracker)).toContain("c1 xstate.error.actor.c1: authenticating > failed")
    supervisor.send({ type: "HALT" }) // as src/net/server.ts does before stopping it
    supervisor.stop()
    expect(tracker.current()).toMatchObject({ total: 0, counts: {}, supervisor: { status: "stopped" } })
    expect(moves(tracker).at(-1)).toBe("c2 xstate.stop: authenticating > stopped")
  })

  it("coalesces: one update carries every change since the last, then nothing until the next", () => {
    const { tracker, supervisor, open } = start(supervisorMachine)
    tracker.takeUpdate()
    expect(tracker.takeUpdate()).toBeUndefined()
    open("c1")
    open("c2")
    const update = tracker.takeUpdate()
    expect(update).toMatchObject({ total: 2, counts: { authenticating: 2 } })
    expect(update?.transitions).toHaveLength(2)
    expect(tracker.takeUpdate()).toBeUndefined()
    supervisor.stop()
  })
})
