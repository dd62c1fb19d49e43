/**
 * Tests for src/store/dev-pki.ts (with credentials.ts and registry.ts reading back what it wrote):
 * every file of the three role folders (ca/, server/, clients/NAME/) with its mode, server
 * credentials that verify for localhost and 127.0.0.1, user keys that open with their printed
 * passphrases and match their certificates, no overwriting, ever, and no v2 folder taken over.
 * Each test works in its own temporary folder; randomness is seeded and time fixed.
 */
import { X509Certificate } from "node:crypto"
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { publicKeyFingerprint } from "../../src/crypto/identity.ts"
import { verifyServerCertificate } from "../../src/crypto/pki-check.ts"
import { loadClientKey, loadClientTrust, loadServerCredentials } from "../../src/store/credentials.ts"
import {
  createDevelopmentPki,
  type DevelopmentPkiOptions,
  ensureDevelopmentPki,
  generatePassphrase,
} from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { UserRegistry } from "../../src/store/registry.ts"
import { seededRandom } from "../../testkit/random.ts"

const NOW = new Date("2026-11-01T12:00:00Z")
const DAY = 86_400_000
const USERS = ["alice", "bob", "carol"]

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A fresh temporary folder and, inside it, the (not yet existing) data folder D. */
const freshDataDir = async (): Promise<string> => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-store-"))
  temporaryFolders.push(parent)
  return join(parent, "data")
}

const options = (dir: string, extra: Partial<DevelopmentPkiOptions> = {}): DevelopmentPkiOptions => ({
  dir,
  users: USERS,
  random: seededRandom(`dev-pki/${dir}`),
  now: NOW,
  keyFile: { scryptLogN: 10 },
  ...extra,
})

const create = (dir: string, extra: Partial<DevelopmentPkiOptions> = {}) =>
  Effect.runPromise(createDevelopmentPki(options(dir, extra)))

const modeOf = async (path: string) => (await stat(path)).mode & 0o777

/** Every file under `dir` (relative path → contents and mtime). */
const snapshot = async (dir: string): Promise<Map<string, { text: string; mtimeMs: number }>> => {
  const out = new Map<string, { text: string; mtimeMs: number }>()
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name)
    out.set(path.slice(dir.length), {
      text: await readFile(path, "utf8"),
      mtimeMs: (await stat(path)).mtimeMs,
    })
  }
  return out
}

describe("createDevelopmentPki", () => {
  it("writes every file of the layout, secrets 0600 and folders 0700", async () => {
    const dir = await freshDataDir()
    const pki = await create(dir)
    const layout = dataLayout(dir)
    expect(pki).toMatchObject({ dir: layout.root, created: true })
    expect(pki.users.map((user) => user.name)).toEqual(USERS)
    const { ca, server } = layout
    const privateFiles = [ca.key, ca.passphrase, server.key, server.passphrase]
    const publicFiles = [
      layout.readme,
      ca.certificate,
      ca.crl,
      server.certificate,
      server.caCertificate,
      server.crl,
    ]
    const folders = [layout.root, ca.root, ca.issuedDir, server.root, server.usersDir, layout.clientsDir]
    for (const name of USERS) {
      const client = Result.getOrThrow(layout.clientDir(name))
      privateFiles.push(join(client, "key.pem"))
      publicFiles.push(
        Result.getOrThrow(server.userCertificatePath(name)),
        join(client, `${name}.pub.pem`),
        join(client, "ca.cert.pem"),
        join(client, "crl.pem"),
      )
      folders.push(client)
    }
    for (const path of privateFiles) expect([path, await modeOf(path)]).toEqual([path, 0o600])
    for (const path of publicFiles) expect([path, await modeOf(path)]).toEqual([path, 0o644])
    for (const path of folders) expect([path, await modeOf(path)]).toEqual([path, 0o700])
    // One record per certificate issued (server + users), and nothing else: no leftover temporary files.
    expect((await readdir(ca.issuedDir)).length).toBe(1 + USERS.length)
    expect((await snapshot(layout.root)).size).toBe(
      privateFiles.length + publicFiles.length + 1 + USERS.length,
    )
    // The CA key is nowhere but in ca/.
    const caKey = await readFile(ca.key, "utf8")
    for (const [path, { text }] of await snapshot(layout.root))
      if (!path.startsWith("/ca/")) expect(text).not.toBe(caKey)
    expect(await readFile(server.caCertificate, "utf8")).toBe(await readFile(ca.certificate, "utf8"))
    const readme = await readFile(layout.readme, "utf8")
    expect(readme).toContain("NOT FOR PRODUCTION")
    for (const file of ["ca/", "server/", "clients/NAME/", "onechat ca crl"]) expect(readme).toContain(file)
    expect(caKey).toContain("BEGIN ENCRYPTED PRIVATE KEY")
    expect(await readFile(server.key, "utf8")).toContain("BEGIN ENCRYPTED PRIVATE KEY")
  })

  it("makes server credentials that load and verify for localhost, 127.0.0.1 and the names given", async () => {
    const dir = await freshDataDir()
    await create(dir, { serverNames: ["chat.example.org", "10.1.2.3"] })
    const credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
    const trust = await Effect.runPromise(loadClientTrust(dir, "alice"))
    expect(credentials.crlDer).toEqual(trust.localCrlDer)
    expect(credentials.certificatePem).toContain("BEGIN CERTIFICATE")
    const verify = (expectedName: string, now = new Date(NOW.getTime() + 60_000)) =>
      verifyServerCertificate({
        certificateDer: credentials.certificateDer,
        caCertificateDer: trust.caCertificateDer,
        crlDer: credentials.crlDer,
        now,
        expectedName,
      })
    for (const name of ["localhost", "127.0.0.1", "chat.example.org", "10.1.2.3"]) {
      const verified = verify(name)
      expect(Result.isSuccess(verified)).toBe(true)
      expect(Result.getOrThrow(verified).publicKey).toEqual(credentials.key.publicKey)
    }
    expect(Result.isFailure(verify("other.example.org"))).toBe(true)
    // Validity: CRL 7 days, server certificate 90 days, CA 10 years.
    expect(Result.isSuccess(verify("localhost", new Date(NOW.getTime() + 6.9 * DAY)))).toBe(true)
    const stale = verify("localhost", new Date(NOW.getTime() + 7.1 * DAY))
    expect(Result.isFailure(stale) && stale.failure.problem).toBe("CrlStale")
    const server = new X509Certificate(credentials.certificateDer)
    const ca = new X509Certificate(trust.caCertificateDer)
    expect(server.validToDate.getTime()).toBe(NOW.getTime() + 90 * DAY)
    expect(ca.validToDate.getTime() - NOW.getTime()).toBeGreaterThanOrEqual(3649 * DAY)
  })

  it("gives each user a key that opens with the printed passphrase and matches the registry", async () => {
    const dir = await freshDataDir()
    const pki = await create(dir)
    const registry = new UserRegistry(dir, { now: () => NOW.getTime() + 60_000 })
    const passphrases = new Set(pki.users.map((user) => user.passphrase))
    expect(passphrases.size).toBe(USERS.length)
    for (const user of pki.users) {
      expect(user.generated).toBe(true)
      expect(user.passphrase).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/) // 16 base32 characters = 80 bits
      const key = await Effect.runPromise(
        loadClientKey({ dir, name: user.name, passphrase: user.passphrase }),
      )
      const entry = await Effect.runPromise(registry.lookup(user.name))
      expect(entry).toMatchObject({ status: "registered", publicKey: key.publicKey })
      expect(user.fingerprint).toBe(publicKeyFingerprint(key.publicKey))
    }
  })

  it("refuses a wrong passphrase without repeating it", async () => {
    const dir = await freshDataDir()
    const pki = await create(dir)
    const [alice, bob] = pki.users
    if (alice === undefined || bob === undefined) throw new Error("two users expected")
    const error = await Effect.runPromise(
      Effect.flip(loadClientKey({ dir, name: "alice", passphrase: bob.passphrase })),
    )
    expect(error.reason).toBe("WrongPassphrase")
    expect(error.message).toBe(
      `The passphrase does not unlock the private key for user "alice" at ${join(dataLayout(dir).clientsDir, "alice", "key.pem")}.`,
    )
    for (const printed of [error.message, String(error), JSON.stringify(error)]) {
      expect(printed).not.toContain(bob.passphrase)
      expect(printed).not.toContain(alice.passphrase)
    }
  })

  it("uses a given passphrase (ONECHAT_PASSPHRASE) for every user", async () => {
    const dir = await freshDataDir()
    const passphrase = "demo passphrase for everyone"
    const pki = await create(dir, { passphrase })
    for (const user of pki.users) {
      expect(user).toMatchObject({ passphrase, generated: false })
      await Effect.runPromise(loadClientKey({ dir, name: user.name, passphrase }))
    }
  })

  it("creates into an existing empty folder but refuses a non-empty one, changing nothing", async () => {
    const dir = await freshDataDir()
    await mkdir(dir, { mode: 0o700 })
    await create(dir)
    const before = await snapshot(dir)
    const error = await Effect.runPromise(Effect.flip(createDevelopmentPki(options(dir))))
    expect(error.reason).toBe("AlreadyExists")
    expect(error.message).toContain(dataLayout(dir).root)
    expect(await snapshot(dir)).toEqual(before)
  })

  it("refuses invalid user names and server names before writing anything", async () => {
    for (const extra of [
      { users: ["alice", "../evil"] },
      { users: ["Alice"] },
      { serverNames: ["bad name"] },
    ]) {
      const dir = await freshDataDir()
      const error = await Effect.runPromise(Effect.flip(createDevelopmentPki(options(dir, extra))))
      expect(error.reason).toBe("InvalidName")
      await expect(stat(dir)).rejects.toMatchObject({ code: "ENOENT" })
    }
  })
})

describe("ensureDevelopmentPki", () => {
  it("creates once, then returns created: false and touches nothing", async () => {
    const dir = await freshDataDir()
    const first = await Effect.runPromise(ensureDevelopmentPki(options(dir)))
    expect(first.created).toBe(true)
    const before = await snapshot(dir)
    await new Promise((resolve) => setTimeout(resolve, 20)) // so that a rewrite would change mtimes
    const second = await Effect.runPromise(ensureDevelopmentPki(options(dir)))
    expect(second).toEqual({ dir: dataLayout(dir).root, created: false, users: [] })
    expect(await snapshot(dir)).toEqual(before)
  })

  it("refuses a half-made folder instead of completing it, and a v2 folder with a sentence to run init again", async () => {
    const dir = await freshDataDir()
    await mkdir(join(dir, "clients"), { recursive: true })
    const error = await Effect.runPromise(Effect.flip(ensureDevelopmentPki(options(dir))))
    expect(error.reason).toBe("AlreadyExists")
    const old = await freshDataDir()
    // The v2 layout: users/<name>.pub beside server/ (whose users/ did not exist then).
    await mkdir(join(old, "users"), { recursive: true })
    await mkdir(join(old, "server"), { recursive: true })
    await writeFile(join(old, "users", "alice.pub"), "leftover")
    await writeFile(join(old, "server", "server.cert.pem"), "leftover")
    const refused = await Effect.runPromise(Effect.flip(ensureDevelopmentPki(options(old))))
    expect(refused.message).toContain("made by an older onechat (protocol v2")
    expect(refused.message).toContain('run "onechat init" again in a new folder')
  })
})

describe("generatePassphrase", () => {
  it("encodes 80 random bits as 16 base32 characters", () => {
    expect(generatePassphrase(() => new Uint8Array(10))).toBe("aaaa-aaaa-aaaa-aaaa")
    expect(generatePassphrase(() => new Uint8Array(10).fill(0xff))).toBe("7777-7777-7777-7777")
    const random = seededRandom("passphrases")
    const seen = new Set(Array.from({ length: 200 }, () => generatePassphrase(random)))
    expect(seen.size).toBe(200)
  })
})
