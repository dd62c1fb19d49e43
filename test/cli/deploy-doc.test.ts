/**
 * docs/deploy.md, run: every shell block marked `<!-- on: MACHINE -->` runs with bash, in order,
 * each machine a folder used as its home (docs/deploy.md § "How this page is tested" says what is
 * mapped). Alice and bob each onboard with the documented laptop steps and chat through the
 * documented client command; the documented revocation disconnects alice; the documented
 * renewal is served after a restart. Blocks marked `not run` are only the ones that need the
 * network, root or systemd; the systemd units are verified with systemd-analyze when it is there,
 * and the service's ExecStart line serves logins.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, readFile } from "node:fs/promises"
import { createServer } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  BIN,
  chatBothWays,
  cleanUpRuns,
  finished,
  type JsonClient,
  jsonEventsOf,
  temporaryFolder,
} from "../../testkit/processes.ts"
import { needs } from "../../testkit/system-tools.ts"

const DOC = new URL("../../docs/deploy.md", import.meta.url).pathname
const DEPLOY = new URL("../../deploy/", import.meta.url).pathname
const HOSTS_OVERRIDE = new URL("../../testkit/hosts-override.mjs", import.meta.url).pathname
const SERVER_NAME = "chat.example.org"

interface Block {
  readonly machine: string
  readonly flags: ReadonlyArray<string>
  readonly code: string
  /** The `not run` reason, for blocks the test does not run. */
  readonly notRun?: string
}

/** The ```sh blocks of the page, each with the marker comment just above it. */
const blocksOf = (markdown: string): Block[] => {
  const blocks: Block[] = []
  const pattern = /(?:<!-- (on|not run): ([^>]*?) -->\n)?```sh\n([\s\S]*?)```/g
  for (const match of markdown.matchAll(pattern)) {
    const [, kind, detail = "", code = ""] = match
    if (kind === "on") {
      const [machine = "", ...flags] = detail.split(",").map((part) => part.trim())
      blocks.push({ machine, flags, code })
    } else {
      blocks.push({ machine: "", flags: [], code, notRun: kind === undefined ? "(no marker)" : detail })
    }
  }
  return blocks
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

let root: string
let port: number
const homes = new Map<string, string>()
const background: ChildProcess[] = []
const clients: JsonClient[] = []

/** What the page's commands expect of a machine, in bash: npx onechat and scp. */
const prelude = () => `
set -euo pipefail
npx() {
  if [ "$1" != onechat ]; then echo "npx $1: only onechat runs in this test" >&2; return 127; fi
  shift
  node ${JSON.stringify(BIN)} "$@"
}
scp() {
  local from="$1" to="$2"
  case "$from" in *@${SERVER_NAME}:*) from="$(remote "\${from#*:}")";; esac
  case "$to" in *@${SERVER_NAME}:*) to="$(remote "\${to#*:}")";; esac
  cp "$from" "$to"
}
remote() {
  case "$1" in
    "") echo ${JSON.stringify(`${homeOf("server-host")}/`)};;
    /*) echo "$1";;
    *) echo ${JSON.stringify(`${homeOf("server-host")}/`)}"$1";;
  esac
}
`

const homeOf = (machine: string): string => {
  const home = homes.get(machine)
  if (home === undefined) throw new Error(`docs/deploy.md names an unknown machine "${machine}"`)
  return home
}

/** The block's text as it runs here: the server's absolute folder inside the server host's. */
const localise = (code: string) =>
  code.replaceAll("/var/lib/onechat", join(homeOf("server-host"), "var/lib/onechat"))

const environment = (machine: string, extra: Record<string, string> = {}) => {
  const { ONECHAT_PASSPHRASE: _p, ONECHAT_DIR: _d, ONECHAT_SERVER: _s, ...inherited } = process.env
  return {
    ...inherited,
    HOME: homeOf(machine),
    ONECHAT_PORT: String(port),
    NODE_OPTIONS: `--import ${HOSTS_OVERRIDE}`,
    ONECHAT_TEST_HOSTS: `${SERVER_NAME}=127.0.0.2`,
    ...extra,
  }
}

const spawnBlock = (machine: string, code: string, extra: Record<string, string> = {}) =>
  spawn("bash", ["-c", `${prelude()}\n${localise(code)}`], {
    cwd: homeOf(machine),
    env: environment(machine, extra),
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  })

/** Runs a block to its end; its stdout, or a failure with its stderr. */
const runBlock = async (machine: string, code: string, extra: Record<string, string> = {}) => {
  const child = spawnBlock(machine, code, extra)
  child.stdin.end()
  const run = await finished(child)
  if (run.code !== 0) throw new Error(`block on ${machine} exited ${run.code}:\n${code}\n${run.stderr}`)
  return run.stdout
}

/** Starts the server block and waits for its "listening" line. */
const startServerBlock = async (code: string) => {
  const child = spawnBlock("server-host", code)
  background.push(child)
  let output = ""
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not listening within 30 s: ${output}`)), 30_000)
    const look = (chunk: Buffer) => {
      output += chunk
      if (output.includes(`listening on 0.0.0.0:${port}`)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on("data", look)
    child.stderr.on("data", look)
    child.once("exit", () => reject(new Error(`server exited: ${output}`)))
  })
  return child
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.pid === undefined) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  try {
    process.kill(-child.pid, "SIGTERM")
  } catch {
    return // the group is already gone
  }
  await exited
}

const fingerprintOf = (output: string) => /[0-9A-F]{2}(?::[0-9A-F]{2}){31}/.exec(output)?.[0]

let blocks: Block[]

beforeAll(async () => {
  blocks = blocksOf(await readFile(DOC, "utf8"))
  root = await temporaryFolder("onechat-deploy-")
  port = await freePort()
  for (const machine of ["server-host", "alice-laptop", "bob-laptop"]) {
    homes.set(machine, join(root, machine))
    await mkdir(join(root, machine), { recursive: true })
  }
  await mkdir(join(homeOf("server-host"), "var/lib"), { recursive: true })
})

afterAll(async () => {
  for (const client of clients) client.kill()
  await Promise.all(background.map(stop))
  await cleanUpRuns()
})

describe("docs/deploy.md", { timeout: 240_000 }, () => {
  it(
    "runs every command it shows, and the steps work across the two machines",
    needs("openssl"),
    async () => {
      const run = blocks.filter((block) => block.notRun === undefined)
      expect(run.length).toBeGreaterThan(6)
      // Onboarding a user: from the first laptop block to the client block; bob repeats it.
      const firstLaptop = run.findIndex((block) => block.machine === "alice-laptop")
      const clientAt = run.findIndex((block) => block.flags.includes("client"))
      expect(firstLaptop).toBeGreaterThan(0)
      expect(clientAt).toBeGreaterThan(firstLaptop)
      const forUser = (block: Block, user: string): Block => ({
        ...block,
        machine: block.machine.replace("alice", user),
        code: block.code.replaceAll("alice", user),
      })
      const outputs: string[] = []
      let server: ChildProcess | undefined
      const serverCode = run.find((block) => block.flags.includes("background"))?.code ?? ""
      const chat = new Map<string, JsonClient>()

      const perform = async (block: Block, user = "alice") => {
        if (block.flags.includes("background")) {
          server = await startServerBlock(block.code)
        } else if (block.flags.includes("client")) {
          const child = spawnBlock(block.machine, `${block.code.trim()} --json`, {
            ONECHAT_PASSPHRASE: `${user} passphrase from the deploy test`,
          })
          background.push(child)
          const client = jsonEventsOf(user, child)
          clients.push(client)
          expect(await client.next(undefined, 30_000)).toMatchObject({ type: "ready", user })
          chat.set(user, client)
        } else {
          const secrets =
            block.machine === "server-host"
              ? {}
              : { ONECHAT_PASSPHRASE: `${user} passphrase from the deploy test` }
          outputs.push(await runBlock(block.machine, block.code, secrets))
        }
      }

      for (const block of run.slice(0, clientAt + 1)) await perform(block)
      for (const block of run.slice(firstLaptop, clientAt + 1)) await perform(forUser(block, "bob"), "bob")

      // The CA fingerprint the operator printed is the one each laptop computed.
      const fingerprints = outputs.map(fingerprintOf).filter((found) => found !== undefined)
      expect(fingerprints.length).toBe(3)
      expect(new Set(fingerprints).size).toBe(1)

      const alice = chat.get("alice")!
      const bob = chat.get("bob")!
      expect(await chatBothWays(alice, bob, ["hello across machines", "hello back"])).toMatch(
        /^\d{5}( \d{5}){11}$/,
      )

      // The rest of the page in order: CRL re-issue, revoking alice, renewing the server certificate.
      for (const block of run.slice(clientAt + 1)) {
        await perform(block)
        if (block.code.includes("ca revoke alice")) {
          expect(await alice.exit).toBe(1)
          expect(await bob.next("peer_left", 15_000)).toMatchObject({ peer: "alice" })
          const again = spawnBlock(run[clientAt]!.machine, `${run[clientAt]!.code.trim()} --json`, {
            ONECHAT_PASSPHRASE: "alice passphrase from the deploy test",
          })
          background.push(again)
          const refused = jsonEventsOf("alice", again)
          expect(await refused.next("closed", 30_000)).toEqual({ type: "closed", reason: "login_failed" })
        }
      }
      // After renew-server: restart (as `systemctl restart` would) and log in with the new certificate.
      const renewed = await readFile(join(homeOf("server-host"), "var/lib/onechat/server.cert.pem"), "utf8")
      await stop(server!)
      await startServerBlock(serverCode)
      const bobAgain = spawnBlock("bob-laptop", `${forUser(run[clientAt]!, "bob").code.trim()} --json`, {
        ONECHAT_PASSPHRASE: "bob passphrase from the deploy test",
      })
      background.push(bobAgain)
      const events = jsonEventsOf("bob", bobAgain)
      expect(await events.next("ready", 30_000)).toMatchObject({ type: "ready", user: "bob" })
      expect(renewed).toContain("BEGIN CERTIFICATE")
    },
  )

  it("leaves unrun only blocks that need the network, root or systemd", () => {
    const notRun = blocks.filter((block) => block.notRun !== undefined)
    for (const block of notRun) {
      expect(block.notRun).toMatch(/network|root|systemd/)
      for (const line of block.code.split("\n").filter((text) => text.trim() !== "")) {
        expect(line).toMatch(/^(sudo |cd |journalctl )/)
      }
    }
  })

  it("ships systemd units that systemd-analyze accepts", (context) => {
    if (!existsSync("/usr/bin/systemd-analyze")) {
      context.skip("systemd-analyze is not installed (Debian package systemd)")
    }
    const units = ["onechat.service", "onechat-crl.service", "onechat-crl.timer"].map((unit) =>
      join(DEPLOY, unit),
    )
    // verify exits 0 on unknown keys and bad values: it only prints them, so nothing printed is the pass.
    const verified = spawnSync("systemd-analyze", ["verify", ...units], { encoding: "utf8" })
    expect(verified.status).toBe(0)
    expect(`${verified.stdout}${verified.stderr}`).toBe("")
  })

  it("serves with the unit's own ExecStart line", async () => {
    const unit = await readFile(join(DEPLOY, "onechat.service"), "utf8")
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? ""
    expect(execStart).toContain("server --dir /var/lib/onechat --host 0.0.0.0")
    const folder = join(homeOf("server-host"), "var/lib/onechat")
    const command = execStart
      .replace("/usr/bin/node", process.execPath)
      .replace("/opt/onechat/bin/onechat.mjs", BIN)
      .replaceAll("/var/lib/onechat", folder)
      .replace("--port 7707", `--port ${port}`)
    for (const child of background.splice(0)) await stop(child)
    const child = await startServerBlock(command)
    expect(child.exitCode).toBeNull()
  })
})
