/**
 * Fault: the real server process killed (SIGKILL) with live chats — a `--json` client process
 * chatting with a link, and two links chatting — then restarted on the same data folder. Every
 * client sees its connection end; those who come back (alice and carol, with their keys from the
 * folder) log in again; the restarted server's LIST shows only them (no ghost of anyone from
 * before the crash). Test-only; real processes.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { type ClientLink, connectLink, type LinkOptions } from "../../src/client/link.ts"
import type { IdentityKeyPair } from "../../src/crypto/identity.ts"
import { loadClientKey, loadClientTrust } from "../../src/store/credentials.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import { chatSteps, establishChat, expectMessage, hear, say } from "../chat.ts"
import { type JsonClient, type ServerProcess, startJsonClient, startServerProcess } from "../processes.ts"
import type { ScenarioReport } from "./attack-harness.ts"
import { within } from "./runner.ts"

const PASSPHRASE = "adversarial restart passphrase"
const ENV = { ONECHAT_PASSPHRASE: PASSPHRASE }

const fail = (what: string): never => {
  throw new Error(what)
}

const expectEqual = (got: unknown, want: unknown, what: string): void => {
  if (JSON.stringify(got) !== JSON.stringify(want))
    fail(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`)
}

interface World {
  readonly dir: string
  readonly keys: Map<string, IdentityKeyPair>
  readonly trust: LinkOptions["trust"]
  readonly processes: Array<ServerProcess | JsonClient>
  readonly links: ClientLink[]
}

const linkFor = async (world: World, port: number, name: string): Promise<ClientLink> => {
  const link = await connectLink({
    host: "127.0.0.1",
    port,
    trust: world.trust,
    identity: { name, key: world.keys.get(name)! },
  })
  world.links.push(link)
  return link
}

const jsonClient = (world: World, port: number, name: string): JsonClient => {
  const client = startJsonClient(name, { dir: world.dir, port, env: ENV })
  world.processes.push(client)
  return client
}

/** The agreement's steps, with certificates checked at the real time: this folder's PKI is made now. */
const stepsOf = (world: World) => chatSteps({ users: world.keys }, () => new Date())

/** bob (a link) asks alice (a `--json` client process) to chat, and says something. */
const chatWithProcess = async (world: World, bob: ClientLink, alice: JsonClient): Promise<void> => {
  await alice.next("ready")
  const steps = stepsOf(world)
  const request = steps.request(bob, "alice")
  await alice.next("request")
  alice.send("!accept")
  const { chat } = steps.complete(bob, request, await expectMessage(bob, "Accept", 10_000))
  await alice.next("chat_started")
  say(bob, chat, "before the crash")
  expectEqual((await alice.next("message")).text, "before the crash", "alice heard")
}

/** alice (a process) chatting with bob (a link), carol and dave (links) chatting. */
const liveChats = async (world: World, port: number) => {
  const alice = jsonClient(world, port, "alice")
  const [bob, carol, dave] = await Promise.all(
    ["bob", "carol", "dave"].map((name) => linkFor(world, port, name)),
  )
  const { requester, accepter } = await establishChat({ users: world.keys }, carol!, dave!, {
    now: () => new Date(),
    timeoutMs: 10_000,
  })
  say(carol!, requester, "before the crash")
  expectEqual(await hear(dave!, accepter), "before the crash", "dave heard")
  await chatWithProcess(world, bob!, alice)
  return { alice, bob: bob!, carol: carol!, dave: dave! }
}

/** Kills the server with SIGKILL mid-chat, restarts it on the same folder, checks who is online. */
export const serverKillRestart = async (): Promise<ScenarioReport> => {
  const folder = await mkdtemp(join(tmpdir(), "onechat-restart-"))
  const dir = join(folder, "data")
  const names = ["alice", "bob", "carol", "dave"]
  await Effect.runPromise(createDevelopmentPki({ dir, users: names, passphrase: PASSPHRASE }))
  const trust = await Effect.runPromise(loadClientTrust(dir))
  const keys = new Map<string, IdentityKeyPair>()
  for (const name of names)
    keys.set(name, await Effect.runPromise(loadClientKey({ dir, name, passphrase: PASSPHRASE })))
  const world: World = { dir, keys, trust, processes: [], links: [] }
  const notes: string[] = []
  try {
    const first = await startServerProcess(dir)
    world.processes.push(first)
    const { alice, bob, carol, dave } = await liveChats(world, first.port)
    first.process.kill("SIGKILL")
    const ends = await within(
      Promise.all([alice.next("closed"), bob.closed, carol.closed, dave.closed]),
      "every client saw the connection end",
      10_000,
    )
    notes.push(`after SIGKILL: ${ends.map((end) => String(end.reason)).join(", ")}`)
    if (ends.some((end) => end.reason === "local")) fail("a client thought it closed the link itself")
    const second = await startServerProcess(dir)
    world.processes.push(second)
    const carolAgain = await linkFor(world, second.port, "carol")
    expectEqual(carolAgain.welcome.names, [], "carol's LIST right after the restart")
    const aliceAgain = await linkFor(world, second.port, "alice")
    expectEqual(aliceAgain.welcome.names, ["carol"], "alice's LIST after the restart")
    carolAgain.send({ type: "List" })
    const list = await carolAgain.next((m) => m.type === "List")
    expectEqual(list.type === "List" ? list.names : [], ["alice"], "carol's LIST once alice is back")
    notes.push("restarted on the same folder: alice and carol back, LIST shows only them")
    return {
      name: "server-kill-restart",
      cases: 1,
      rejected: 0,
      survived: 1,
      notes,
      broken: [],
      limitsHeld: true,
      healthyAfter: true,
    }
  } finally {
    for (const link of world.links) link.close()
    for (const child of world.processes) {
      if ("kill" in child) child.kill()
      else await child.stop()
    }
    await rm(folder, { recursive: true, force: true })
  }
}
