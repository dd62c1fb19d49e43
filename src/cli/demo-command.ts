/**
 * `onechat demo`: a server and two scripted clients in one process, on 127.0.0.1, in a throwaway
 * development folder (the server reads only its server/, each client only its clients/NAME/) — alice asks bob to chat, bob accepts, they compare safety numbers, exchange a few
 * end-to-end encrypted messages, alice leaves and both quit. Shows each side's view; exits 0.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Console, Effect } from "effect"
import { defaultConnectionLimits } from "../actors/connection.machine.ts"
import { KnownPeers } from "../client/known-peers.ts"
import { connectLink } from "../client/link.ts"
import type { UiEvent } from "../client/session.events.ts"
import { ClientSession } from "../client/session.ts"
import type { IdentityKeyPair } from "../crypto/identity.ts"
import { silentLogger } from "../net/log.ts"
import { serve } from "../net/server.ts"
import { loadClientKey, loadClientTrust, loadServerCredentials } from "../store/credentials.ts"
import { createDevelopmentPki } from "../store/dev-pki.ts"
import { UserRegistry } from "../store/registry.ts"
import { formatUiEvent } from "./client-interactive.ts"
import { makeStyle } from "./terminal.ts"

const STEP_TIMEOUT_MS = 10_000

/** A scripted user: its session, and a way to wait for what it is shown. */
interface Actor {
  readonly name: string
  readonly session: ClientSession
  waitFor(type: UiEvent["type"]): Promise<UiEvent>
}

const makeActor = (
  name: string,
  start: (onUi: (event: UiEvent) => void) => ClientSession,
  print: (line: string) => void,
): Actor => {
  const seen: UiEvent[] = []
  const waiters: Array<() => void> = []
  const session = start((event) => {
    seen.push(event)
    for (const line of formatUiEvent(event, makeStyle(process.stdout.isTTY === true)))
      print(`${name.padEnd(5)} │ ${line}`)
    for (const wake of waiters.splice(0)) wake()
  })
  const waitFor = (type: UiEvent["type"]) =>
    new Promise<UiEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo: ${name} never saw "${type}"`)), STEP_TIMEOUT_MS)
      const look = () => {
        const index = seen.findIndex((event) => event.type === type)
        if (index === -1) return void waiters.push(look)
        clearTimeout(timer)
        resolve(seen.splice(0, index + 1).at(-1)!)
      }
      look()
    })
  return { name, session, waitFor }
}

const script = async (alice: Actor, bob: Actor, say: (line: string) => void) => {
  const type = (actor: Actor, text: string) => {
    say(`${actor.name} types: ${text.replaceAll("\u001b", "\\e")}`)
    actor.session.command(text)
  }
  await Promise.all([alice.waitFor("ready"), bob.waitFor("ready")])
  say("alice asks bob to chat")
  alice.session.command("!request bob")
  await bob.waitFor("request")
  say("bob accepts; both derive end-to-end keys the server never sees")
  bob.session.command("!accept")
  const [a, b] = await Promise.all([alice.waitFor("chat_started"), bob.waitFor("chat_started")])
  const same = a.type === "chat_started" && b.type === "chat_started" && a.safety === b.safety
  say(same ? "both see the same safety number: no one swapped a key" : "SAFETY NUMBERS DIFFER")
  type(alice, "Hi bob! This text is encrypted end to end.")
  await bob.waitFor("message")
  type(bob, "Hi alice. The server only relays ciphertext.")
  await alice.waitFor("message")
  type(alice, "Escape sequences are shown harmlessly: \u001b[31mnot red\u001b[0m")
  await bob.waitFor("message")
  say("alice leaves the chat, then both quit")
  alice.session.command("!quit")
  await bob.waitFor("peer_left")
  alice.session.command("!quit")
  bob.session.command("!quit")
  await Promise.all([alice.session.done, bob.session.done])
  return same
}

const demo = Effect.gen(function* () {
  const folder = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "onechat-demo-"))),
    (path) => Effect.promise(() => rm(path, { recursive: true, force: true })),
  )
  const dir = join(folder, "data")
  const passphrase = "demo only"
  yield* createDevelopmentPki({ dir, users: ["alice", "bob"], passphrase })
  const credentials = yield* loadServerCredentials(dir)
  const registry = new UserRegistry(dir)
  const server = yield* serve(
    {
      host: "127.0.0.1",
      port: 0,
      maxConnections: 16,
      maxHandshakesPerAddress: 16,
      maxOutboundBytes: 1 << 20,
      closeGraceMs: 500,
      shutdownGraceMs: 1_000,
      limits: defaultConnectionLimits,
    },
    { credentials, log: silentLogger, lookupUser: (name) => Effect.runPromise(registry.lookup(name)) },
  )
  yield* Console.log(
    `demo server listening on ${server.host}:${server.port} (development PKI in a temporary folder)\n`,
  )
  const users = new Map<
    string,
    {
      key: IdentityKeyPair
      knownPeers: KnownPeers
      trust: Effect.Success<ReturnType<typeof loadClientTrust>>
    }
  >()
  for (const name of ["alice", "bob"]) {
    // Each user's own folder, D/clients/NAME: its key and its copy of the CA certificate.
    const key = yield* loadClientKey({ dir, name, passphrase })
    const trust = yield* loadClientTrust(dir, name)
    users.set(name, { key, trust, knownPeers: yield* Effect.promise(() => KnownPeers.open(undefined)) })
  }
  const start = (name: string) => (onUi: (event: UiEvent) => void) => {
    const { key, knownPeers, trust } = users.get(name)!
    const identity = { name, key }
    const session = new ClientSession({
      identity,
      knownPeers,
      onUi,
      connect: () => connectLink({ host: server.host, port: server.port, trust, identity }),
    })
    void session.start()
    return session
  }
  const print = (line: string) => process.stdout.write(`${line}\n`)
  const alice = makeActor("alice", start("alice"), print)
  const bob = makeActor("bob", start("bob"), print)
  const ok = yield* Effect.promise(() => script(alice, bob, (line) => print(`      ┊ ${line}`)))
  yield* Console.log(
    ok ? "\ndemo finished: all steps passed" : "\ndemo finished with a safety number mismatch",
  )
  if (!ok) return yield* Effect.fail(new Error("safety numbers differed"))
}).pipe(Effect.scoped)

/** Runs `onechat demo` (no flags). */
export const runDemo = () => demo
