/**
 * `onechat init` as a real process (bin/onechat.mjs in a temporary working directory): creates the
 * data folder and prints users and passphrases once (or says they came from ONECHAT_PASSPHRASE);
 * the printed passphrases open the keys; a second run, an invalid name, or a used folder exits 1
 * with one sentence on stderr and changes nothing.
 */
import { X509Certificate } from "node:crypto"
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { publicKeyFingerprint } from "../../src/crypto/identity.ts"
import { loadClientKey, loadServerCredentials } from "../../src/store/credentials.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { cleanUpRuns, runOnechat, temporaryFolder } from "../../testkit/processes.ts"

/** The generator's format: 16 lowercase base32 characters in groups of four. */
const GENERATED = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/

afterEach(cleanUpRuns)

const freshCwd = (): Promise<string> => temporaryFolder("onechat-init-")

/** name → passphrase, from the "Passphrases" block of the report. */
const printedPassphrases = (stdout: string): Map<string, string> => {
  const block = stdout.split("Passphrases (shown once, stored nowhere in clear):\n")[1] ?? ""
  const pairs = block.split("\n").flatMap((line) => {
    const match = /^ {2}(\S+) +(\S+)$/.exec(line)
    return match === null ? [] : [[match[1]!, match[2]!] as const]
  })
  return new Map(pairs)
}

describe("onechat init", () => {
  it("creates the data folder and prints the users and their passphrases, which open their keys", async () => {
    const cwd = await freshCwd()
    const run = await runOnechat(cwd, ["init", "--dir", "D", "--users", "alice,bob"])

    expect(run).toMatchObject({ code: 0, stderr: "" })
    const dir = join(cwd, "D")
    const lines = run.stdout.split("\n")
    expect(lines[0]).toBe(
      `Created a DEVELOPMENT setup in ${dir} — for trying onechat, not for production. Three roles, three folders:`,
    )
    expect(run.stdout).toContain(
      "  D/ca/           the OFFLINE CA (key + certificate + CRL). The server never reads it:\n",
    )
    expect(run.stdout).toContain(
      "  D/server/       what the server reads: its key and certificate (localhost, 127.0.0.1, 90 days),\n",
    )
    expect(run.stdout).toContain("It serves with ca/ deleted.\n")
    expect(run.stdout).toContain("  D/clients/NAME/ each user's own folder")
    expect(run.stdout).toContain("  users               alice, bob\n")
    expect(run.stdout).toContain(
      "Next: npx onechat server --dir D   then   npx onechat client alice --dir D\n",
    )
    const passphrases = printedPassphrases(run.stdout)
    expect([...passphrases.keys()]).toEqual(["alice", "bob"])
    for (const [name, passphrase] of passphrases) {
      expect(passphrase).toMatch(GENERATED)
      const key = await Effect.runPromise(loadClientKey({ dir, name, passphrase }))
      expect(publicKeyFingerprint(key.publicKey)).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/)
    }
    expect(passphrases.get("alice")).not.toBe(passphrases.get("bob"))
    await Effect.runPromise(loadServerCredentials(dir, {}))
    expect((await readdir(dataLayout(dir).usersDir)).sort()).toEqual(["alice.cert.pem", "bob.cert.pem"])
    expect((await readdir(join(dir, "clients", "bob"))).sort()).toEqual([
      "bob.pub.pem",
      "ca.cert.pem",
      "crl.pem",
      "key.pem",
    ])
  })

  it("puts --server-name and --server-ip in the server certificate", async () => {
    const cwd = await freshCwd()
    const args = [
      "init",
      "--dir",
      "D",
      "--users",
      "alice",
      "--server-name",
      "chat.example",
      "--server-ip",
      "10.0.0.7",
    ]
    const run = await runOnechat(cwd, args, { ONECHAT_PASSPHRASE: "twelve chars or more" })
    expect(run).toMatchObject({ code: 0, stderr: "" })
    expect(run.stdout).toContain("(localhost, 127.0.0.1, chat.example, 10.0.0.7, 90 days)")
    const certificate = new X509Certificate(await readFile(dataLayout(join(cwd, "D")).serverCertificate))
    expect(certificate.subjectAltName).toBe(
      "DNS:localhost, DNS:chat.example, IP Address:127.0.0.1, IP Address:10.0.0.7",
    )
    const bad = await runOnechat(cwd, ["init", "--dir", "E", "--server-ip", "not-an-ip"])
    expect(bad.stderr).toBe('onechat: "not-an-ip" is not a valid server name.\n')
  })

  it("uses ONECHAT_PASSPHRASE for every default user and does not print it", async () => {
    const cwd = await freshCwd()
    const passphrase = "correct horse battery staple"
    const run = await runOnechat(cwd, ["init"], { ONECHAT_PASSPHRASE: passphrase })

    expect(run).toMatchObject({ code: 0, stderr: "" })
    expect(run.stdout).not.toContain(passphrase)
    expect(run.stdout).toContain("Passphrase: from ONECHAT_PASSPHRASE")
    expect(run.stdout).toContain("  users               alice, bob, carol\n")
    expect(run.stdout).toContain("Next: npx onechat server   then   npx onechat client alice\n")
    const dir = join(cwd, ".onechat")
    for (const name of ["alice", "bob", "carol"]) {
      await Effect.runPromise(loadClientKey({ dir, name, passphrase }))
    }
  })

  it("refuses a folder that already holds a onechat data folder", async () => {
    const cwd = await freshCwd()
    expect((await runOnechat(cwd, ["init", "--dir", "D", "--users", "alice"])).code).toBe(0)
    const again = await runOnechat(cwd, ["init", "--dir", "D", "--users", "zoe"])

    expect(again).toEqual({
      code: 1,
      stdout: "",
      stderr: "onechat: D already holds a onechat data folder; choose another --dir or remove it.\n",
    })
    expect(await readdir(dataLayout(join(cwd, "D")).usersDir)).toEqual(["alice.cert.pem"])
  })

  it("refuses an invalid user name, naming the rule, and creates nothing", async () => {
    const cwd = await freshCwd()
    const run = await runOnechat(cwd, ["init", "--dir", "D", "--users", "alice,Bob!"])

    expect(run.code).toBe(1)
    expect(run.stdout).toBe("")
    expect(run.stderr).toBe(
      'onechat: "Bob!" is not a valid user name: 1 to 32 characters from a-z, 0-9, "_" and "-", starting with a letter or digit.\n',
    )
    expect(await readdir(cwd)).toEqual([])
  })

  it("refuses a non-empty folder that is not a onechat folder, leaving it as it was", async () => {
    const cwd = await freshCwd()
    await mkdir(join(cwd, "D"))
    await writeFile(join(cwd, "D", "notes.txt"), "mine\n")
    const run = await runOnechat(cwd, ["init", "--dir", "D"])

    expect(run.code).toBe(1)
    expect(run.stderr).toBe("onechat: D is not empty; choose another --dir (a new or empty folder).\n")
    expect(await readdir(join(cwd, "D"))).toEqual(["notes.txt"])
  })
})
