/**
 * Chat across addresses, as between machines: the offline-CA workflow run as real processes
 * (`ca init` with --server-name/--server-ip, `keygen` in each user's own folder, `ca issue`), the
 * server on 0.0.0.0, and clients that reach it at 127.0.0.2 — one by IP, one by name (resolved by
 * a hosts override, testkit/hosts-override.mjs), one by IP with --server-name — chatting end
 * to end. A client pointed at an address the certificate does not name is refused, and told what
 * the certificate does name.
 */
import { copyFile, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  chatBothWays,
  cleanUpRuns,
  type JsonClient,
  runOnechat,
  type ServerProcess,
  startJsonClient,
  startServerProcess,
  temporaryFolder,
} from "../../testkit/processes.ts"

const SERVER_NAME = "chat.onechat.test"
const SERVER_IP = "127.0.0.2"
const HOSTS_OVERRIDE = new URL("../../testkit/hosts-override.mjs", import.meta.url).pathname
const USERS = ["alice", "bob", "carol", "dave"] as const

let root: string
let server: ServerProcess
const clients: JsonClient[] = []
const passphrases = new Map<string, string>()

const clientFolder = (user: string) => join(root, `laptop-${user}`, "onechat")

/** `onechat client USER --json --server …` from the user's own folder. */
const connect = (user: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const client = startJsonClient(user, {
    dir: clientFolder(user),
    port: server.port,
    args,
    env: { ONECHAT_PASSPHRASE: passphrases.get(user) ?? "", ...env },
  })
  clients.push(client)
  return client
}

/** Whether this machine can listen on `address` (IPv6 may be switched off in containers). */
const canListen = (address: string): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = createServer()
    probe.once("error", () => resolve(false))
    probe.listen(0, address, () => probe.close(() => resolve(true)))
  })

const ok = async (run: Promise<{ code: number | null; stdout: string; stderr: string }>) => {
  const done = await run
  expect(done.code, done.stderr).toBe(0)
  return done
}

beforeAll(async () => {
  root = await temporaryFolder("onechat-cross-")
  // The operator: an offline CA, and a server folder whose certificate names the host and its IP.
  const host = join(root, "server-host")
  await ok(
    runOnechat(root, [
      "ca",
      "init",
      "--ca-dir",
      join(host, "ca"),
      "--server-dir",
      join(host, "server"),
      "--server-name",
      SERVER_NAME,
      "--server-ip",
      SERVER_IP,
    ]),
  )
  // Each user on their own machine: a key pair; only the public key travels to the operator, and
  // only the CA certificate travels back.
  for (const user of USERS) {
    const passphraseFile = join(root, `${user}.passphrase`)
    const passphrase = `${user} passphrase on a laptop`
    passphrases.set(user, passphrase)
    await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600 })
    await ok(
      runOnechat(root, ["keygen", user, "--dir", clientFolder(user), "--passphrase-file", passphraseFile]),
    )
    await ok(
      runOnechat(host, [
        "ca",
        "issue",
        user,
        "--pubkey",
        join(clientFolder(user), `${user}.pub.pem`),
        "--ca-dir",
        join(host, "ca"),
        "--out",
        join(host, "server", "users", `${user}.cert.pem`),
      ]),
    )
    await copyFile(join(host, "ca", "ca.cert.pem"), join(clientFolder(user), "ca.cert.pem"))
  }
  server = await startServerProcess(join(host, "server"), {}, ["--host", "0.0.0.0"])
}, 60_000)

afterAll(async () => {
  for (const client of clients) client.kill()
  await server?.stop()
  await cleanUpRuns()
})

describe("across addresses", { timeout: 60_000 }, () => {
  it("listens on every address (0.0.0.0) and says so", () => {
    expect(server.port).toBeGreaterThan(0)
  })

  it("connects by IP, by name and by IP with --server-name, and chats end to end", async () => {
    const alice = connect("alice", ["--server", `${SERVER_IP}:${server.port}`])
    expect(await alice.next()).toMatchObject({ type: "ready", user: "alice" })
    const bob = connect("bob", ["--server", `${SERVER_NAME}:${server.port}`], {
      NODE_OPTIONS: `--import ${HOSTS_OVERRIDE}`,
      ONECHAT_TEST_HOSTS: `${SERVER_NAME}=${SERVER_IP}`,
    })
    expect(await bob.next()).toMatchObject({ type: "ready", user: "bob", online: ["alice"] })
    // ONECHAT_SERVER names the host; the port comes from --port (the driver passes it).
    const carol = connect("carol", ["--server-name", SERVER_NAME], { ONECHAT_SERVER: SERVER_IP })
    expect(await carol.next()).toMatchObject({ type: "ready", user: "carol", online: ["alice", "bob"] })

    expect(await chatBothWays(alice, bob, ["hello from 127.0.0.2", "hello by name"])).toMatch(
      /^\d{5}( \d{5}){11}$/,
    )

    carol.send("!list")
    expect(await carol.next("list")).toEqual({ type: "list", online: [] })

    alice.send("!quit")
    expect(await bob.next("peer_left")).toMatchObject({ peer: "alice" })
    for (const client of [alice, bob, carol]) {
      client.send("!quit")
      client.endInput()
      expect(await client.exit).toBe(0)
      expect(client.garbage).toEqual([])
    }
  })

  it("refuses an address the certificate does not name, and says which it does", async () => {
    const dave = connect("dave", ["--server", `127.0.0.3:${server.port}`])
    const error = await dave.next("error")
    expect(error.message).toContain('The server certificate does not name "127.0.0.3"')
    expect(error.message).toContain(`${SERVER_NAME}, `)
    expect(error.message).toContain(SERVER_IP)
    expect(await dave.exit).toBe(2)
  })

  it("listens on IPv6 and IPv4 with --host ::, and connects to [::1]:PORT", async (context) => {
    if (!(await canListen("::1"))) context.skip("this machine has no IPv6 loopback (::1)")
    const dual = await startServerProcess(join(root, "server-host", "server"), {}, ["--host", "::"])
    try {
      expect(dual.stdout()).toContain(`listening on [::]:${dual.port}`)
      const byIpv6 = connect("carol", ["--server", `[::1]:${dual.port}`, "--server-name", SERVER_NAME])
      expect(await byIpv6.next()).toMatchObject({ type: "ready", user: "carol" })
      const byIpv4 = connect("bob", ["--server", `${SERVER_IP}:${dual.port}`])
      expect(await byIpv4.next()).toMatchObject({ type: "ready", user: "bob", online: ["carol"] })
      for (const client of [byIpv6, byIpv4]) {
        client.send("!quit")
        expect(await client.exit).toBe(0)
      }
    } finally {
      await dual.stop()
    }
  })

  it("refuses a --server value that is not HOST[:PORT] before connecting, exit 2", async () => {
    const run = await runOnechat(root, [
      "client",
      "dave",
      "--dir",
      clientFolder("dave"),
      "--server",
      "chat:port",
    ])
    expect(run.code).toBe(2)
    expect(run.stderr.split("\n")[0]).toBe(
      'onechat client: --server "chat:port" is not HOST[:PORT]: the port must be a number from 1 to 65535.',
    )
  })
})
