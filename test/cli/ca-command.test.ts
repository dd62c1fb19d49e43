/**
 * The offline-CA workflow as real processes (bin/onechat.mjs): `onechat ca init` makes a CA and a
 * server folder, `onechat keygen` a user's own folder, `onechat ca issue` certifies the public key;
 * the server runs from its folder alone and the user logs in from theirs; `onechat ca revoke` and a
 * copied crl.pem disconnect the user. Also: a development folder serves with ca/ deleted, a stale
 * CRL stops the server with a sentence naming `onechat ca crl`, keygen refuses a short passphrase.
 */
import { X509Certificate } from "node:crypto"
import { copyFile, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import {
  cleanUpRuns,
  runOnechat,
  startJsonClient,
  startServerProcess,
  temporaryFolder,
} from "../../testkit/processes.ts"

const PASSPHRASE = "correct horse battery staple"
const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
  await cleanUpRuns()
})

/** An `init` folder D (user alice, cheapest scrypt) in a new temporary folder, made at `now`. */
const devFolder = async (prefix: string, now?: Date) => {
  const cwd = await temporaryFolder(prefix)
  const dir = join(cwd, "D")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice"],
      passphrase: PASSPHRASE,
      keyFile: { scryptLogN: 10 },
      ...(now === undefined ? {} : { now }),
    }),
  )
  return { cwd, dir }
}

describe("onechat ca and keygen", () => {
  it("certify a key made on the user's side; the server needs only its folder; revoke disconnects", async () => {
    const cwd = await temporaryFolder("onechat-ca-")
    const init = await runOnechat(cwd, [
      "ca",
      "init",
      "--ca-dir",
      "C",
      "--server-dir",
      "S",
      "--server-name",
      "chat.example",
    ])
    expect(init).toMatchObject({ code: 0, stderr: "" })
    expect(init.stdout).toContain("names: localhost, chat.example, 127.0.0.1")
    expect((await readdir(join(cwd, "S"))).sort()).toEqual([
      "ca.cert.pem",
      "crl.pem",
      "server.cert.pem",
      "server.key.pem",
      "server.passphrase",
      "users",
    ])
    await writeFile(join(cwd, "pass"), `${PASSPHRASE}\n`, { mode: 0o600 })
    const keygen = await runOnechat(cwd, ["keygen", "dave", "--dir", "K", "--passphrase-file", "pass"])
    expect(keygen).toMatchObject({ code: 0, stderr: "" })
    expect(keygen.stdout).toContain("passphrase   yours (not shown)")
    expect(keygen.stdout).not.toContain(PASSPHRASE)
    expect((await stat(join(cwd, "K", "key.pem"))).mode & 0o777).toBe(0o600)
    const again = await runOnechat(cwd, ["keygen", "dave", "--dir", "K", "--passphrase-file", "pass"])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("already exists")

    const issue = await runOnechat(cwd, [
      "ca",
      "issue",
      "dave",
      "--pubkey",
      "K/dave.pub.pem",
      "--ca-dir",
      "C",
      "--out",
      "S/users/dave.cert.pem",
    ])
    expect(issue).toMatchObject({ code: 0, stderr: "" })
    expect(issue.stdout).toContain("Copy S/users/dave.cert.pem to the server as users/dave.cert.pem")
    const certificate = new X509Certificate(await readFile(join(cwd, "S", "users", "dave.cert.pem")))
    expect(certificate.subjectAltName).toBe("URI:onechat:user:dave")
    await copyFile(join(cwd, "C", "ca.cert.pem"), join(cwd, "K", "ca.cert.pem"))

    const server = await startServerProcess(join(cwd, "S"))
    stops.push(() => server.stop())
    const dave = startJsonClient("dave", {
      dir: join(cwd, "K"),
      port: server.port,
      env: { ONECHAT_PASSPHRASE: PASSPHRASE },
    })
    expect((await dave.next("ready")).user).toBe("dave")

    const revoke = await runOnechat(cwd, ["ca", "revoke", "dave", "--ca-dir", "C"])
    expect(revoke).toMatchObject({ code: 0, stderr: "" })
    expect(revoke.stdout).toContain("Copy ")
    await copyFile(join(cwd, "C", "crl.pem"), join(cwd, "S", "crl.pem"))
    expect(await dave.exit).not.toBe(0)
    expect(server.stderr()).toMatch(/user\.revoked .*user=dave/)
  })

  it("serves an init folder with its ca/ deleted", async () => {
    const { dir } = await devFolder("onechat-noca-")
    await rm(join(dir, "ca"), { recursive: true })
    const server = await startServerProcess(dir)
    stops.push(() => server.stop())
    const alice = startJsonClient("alice", {
      dir,
      port: server.port,
      env: { ONECHAT_PASSPHRASE: PASSPHRASE },
    })
    expect((await alice.next("ready")).user).toBe("alice")
  })

  it("refuses to start the server with a stale CRL, naming the command that renews it", async () => {
    const { cwd, dir } = await devFolder("onechat-stale-", new Date(Date.now() - 8 * 86_400_000))
    // The CA taken offline (as in real use): nothing beside the server can renew the CRL.
    await rename(join(dir, "ca"), join(cwd, "offline-ca"))
    const run = await runOnechat(cwd, ["server", "--dir", "D", "--port", "0"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`onechat: The CRL ${join(dir, "server", "crl.pem")} is out of date`)
    expect(run.stderr).toContain('run "onechat ca crl --ca-dir CA"')
    const renewed = await runOnechat(cwd, ["ca", "crl", "--ca-dir", "offline-ca", "--server-dir", "D/server"])
    expect(renewed).toMatchObject({ code: 0, stderr: "" })
    const server = await startServerProcess(dir)
    stops.push(() => server.stop())
  })

  it("a development folder (CA beside the server) renews its stale CRL itself and serves", async () => {
    const { dir } = await devFolder("onechat-stale-dev-", new Date(Date.now() - 8 * 86_400_000))
    const stale = await readFile(join(dir, "server", "crl.pem"), "utf8")
    const server = await startServerProcess(dir)
    stops.push(() => server.stop())
    const fresh = await readFile(join(dir, "server", "crl.pem"), "utf8")
    expect(fresh).not.toBe(stale)
    expect(await readFile(join(dir, "clients", "alice", "crl.pem"), "utf8")).toBe(fresh)
    expect(server.stderr()).toContain("crl.renewed")
  })

  it("a client keeps the freshest CRL the server stapled in its own folder", async () => {
    const { cwd, dir } = await devFolder("onechat-client-crl-")
    const clientCrl = join(dir, "clients", "alice", "crl.pem")
    const before = await readFile(clientCrl, "utf8")
    await new Promise((resolve) => setTimeout(resolve, 1_100)) // a later thisUpdate (second resolution)
    const renewed = await runOnechat(cwd, ["ca", "crl", "--ca-dir", "D/ca", "--server-dir", "D/server"])
    expect(renewed).toMatchObject({ code: 0, stderr: "" })
    const stapled = await readFile(join(dir, "server", "crl.pem"), "utf8")
    expect(stapled).not.toBe(before)
    expect(await readFile(clientCrl, "utf8")).toBe(before) // only the server's copy was renewed
    const server = await startServerProcess(dir)
    stops.push(() => server.stop())
    const alice = startJsonClient("alice", {
      dir,
      port: server.port,
      env: { ONECHAT_PASSPHRASE: PASSPHRASE },
    })
    await alice.next("ready")
    alice.send("!quit")
    await alice.next("closed")
    expect(await readFile(clientCrl, "utf8")).toBe(stapled)
  })

  it("keygen refuses a chosen passphrase under 12 characters, and generates one when none is given", async () => {
    const cwd = await temporaryFolder("onechat-keygen-")
    await writeFile(join(cwd, "short"), "too short\n")
    const short = await runOnechat(cwd, ["keygen", "erin", "--dir", "K", "--passphrase-file", "short"])
    expect(short.code).toBe(1)
    expect(short.stderr).toContain("at least 12 characters")
    const generated = await runOnechat(cwd, ["keygen", "erin", "--dir", "K"])
    expect(generated).toMatchObject({ code: 0, stderr: "" })
    expect(generated.stdout).toMatch(/passphrase {3}[a-z2-7]{4}(-[a-z2-7]{4}){3} {3}\(generated/)
    expect((await readdir(join(cwd, "K"))).sort()).toEqual(["erin.pub.pem", "key.pem"])
  })
})
