/**
 * Tests for src/store/credentials.ts and src/store/errors.ts: the server's passphrase from its file
 * or from ONECHAT_SERVER_PASSPHRASE, a certificate that must certify the key, missing and damaged
 * files named precisely, private key files that others may access refused, old key files passed on
 * with a warning, and no passphrase or key material in any error printed.
 * One development PKI is made for the file (its keys then re-encrypted at the cheapest scrypt cost,
 * so that each load takes milliseconds) and copied into a temporary folder per test.
 */
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { Effect, Result } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  ed25519PrivateKeyObject,
  exportEncryptedPrivateKeyPem,
  importEncryptedPrivateKeyPem,
} from "../../src/crypto/identity.ts"
import {
  loadClientKey,
  loadClientKeyFile,
  loadClientTrust,
  loadServerCredentials,
  SERVER_PASSPHRASE_VARIABLE,
} from "../../src/store/credentials.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import type { StoreError } from "../../src/store/errors.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { seededRandom } from "../../testkit/random.ts"

const NOW = new Date("2026-11-01T12:00:00Z")
const PASSPHRASE = "the shared demo passphrase"

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** Rewrites a key file at scrypt 2^10 with the same passphrase (its mode stays as it is). */
const cheapen = async (path: string, passphrase: string) => {
  const key = importEncryptedPrivateKeyPem(await readFile(path, "utf8"), passphrase)
  if (Result.isFailure(key)) throw new Error(key.failure.message)
  await writeFile(path, exportEncryptedPrivateKeyPem(key.success, passphrase, { scryptLogN: 10 }))
}

let templates: string
beforeAll(async () => {
  templates = await mkdtemp(join(tmpdir(), "onechat-credentials-templates-"))
  const dir = join(templates, "default-cost")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice", "bob"],
      passphrase: PASSPHRASE,
      random: seededRandom(dir),
      now: NOW,
    }),
  )
  const cheap = join(templates, "cheap")
  await cp(dir, cheap, { recursive: true })
  const layout = dataLayout(cheap)
  await cheapen(layout.serverKey, (await readFile(layout.serverPassphrase, "utf8")).trim())
  for (const name of ["alice", "bob"]) {
    await cheapen(Result.getOrThrow(layout.clientKeyPath(name)), PASSPHRASE)
  }
}, 60_000)
afterAll(() => rm(templates, { recursive: true, force: true }))

/** A copy of the development PKI (cheap keys unless `defaultCost`) in its own folder. */
const freshPki = async (template: "cheap" | "default-cost" = "cheap") => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-credentials-"))
  temporaryFolders.push(parent)
  const dir = join(parent, "data")
  await cp(join(templates, template), dir, { recursive: true })
  const layout = dataLayout(dir)
  const serverPassphrase = (await readFile(layout.serverPassphrase, "utf8")).trim()
  return { dir, layout, serverPassphrase }
}

const runError = <A>(effect: Effect.Effect<A, StoreError>) => Effect.runPromise(Effect.flip(effect))

/** Every way an error may get printed must leave out the secrets. */
const expectNoSecrets = (error: StoreError, secrets: ReadonlyArray<string>) => {
  for (const printed of [error.message, String(error), JSON.stringify(error), inspect(error)]) {
    for (const secret of secrets) expect(printed).not.toContain(secret)
    expect(printed).not.toMatch(/BEGIN|PRIVATE KEY/)
  }
}

describe("loadServerCredentials", () => {
  it("decrypts the server key with server/server.passphrase (the store's own scrypt 2^17 files)", async () => {
    const { dir } = await freshPki("default-cost")
    const credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
    expect(credentials.key.publicKey).toHaveLength(32)
    expect(credentials.certificateDer.length).toBeGreaterThan(0)
    expect(credentials.crlDer.length).toBeGreaterThan(0)
    expect(credentials.keyFileWarning).toBeUndefined()
  })

  it("refuses a server key file that others may read, naming it and the fix", async () => {
    const { dir, layout, serverPassphrase } = await freshPki()
    await chmod(layout.serverKey, 0o644)
    const error = await runError(loadServerCredentials(dir, {}))
    expect(error.reason).toBe("InsecurePermissions")
    expect(error.path).toBe(layout.serverKey)
    expect(error.message).toContain(`has mode 0644`)
    expect(error.message).toContain(`chmod 600 ${layout.serverKey}`)
    expectNoSecrets(error, [serverPassphrase])
  })

  it("passes on a warning for an old PBKDF2 server key file, which still loads", async () => {
    const { dir, layout, serverPassphrase } = await freshPki()
    const { key } = await Effect.runPromise(loadServerCredentials(dir, {}))
    const old = ed25519PrivateKeyObject(key.seed).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase: serverPassphrase,
    })
    await writeFile(layout.serverKey, old) // onechat v2's format: PBKDF2 × 2048
    const credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
    expect(credentials.key.publicKey).toEqual(key.publicKey)
    expect(credentials.keyFileWarning).toMatch(
      new RegExp(
        `^The server private key at ${layout.serverKey} is protected only by PBKDF2-HMAC-SHA256 with 2048 iterations`,
      ),
    )
  })

  it("lets ONECHAT_SERVER_PASSPHRASE override the passphrase file", async () => {
    const { dir, layout, serverPassphrase } = await freshPki()
    await rm(layout.serverPassphrase)
    const missing = await runError(loadServerCredentials(dir, {}))
    expect(missing.reason).toBe("NotFound")
    expect(missing.message).toBe(`No server key passphrase in ${layout.serverPassphrase}.`)
    const env = { [SERVER_PASSPHRASE_VARIABLE]: serverPassphrase }
    await Effect.runPromise(loadServerCredentials(dir, env))
    const wrong = await runError(loadServerCredentials(dir, { [SERVER_PASSPHRASE_VARIABLE]: "not it" }))
    expect(wrong.reason).toBe("WrongPassphrase")
    expect(wrong.message).toBe(
      `The passphrase does not unlock the server private key at ${layout.serverKey}.`,
    )
    expectNoSecrets(wrong, ["not it", serverPassphrase])
  })

  it("refuses a certificate that does not certify the server key", async () => {
    const { dir, layout } = await freshPki()
    await writeFile(layout.serverCertificate, await readFile(layout.caCertificate, "utf8"))
    const error = await runError(loadServerCredentials(dir, {}))
    expect(error.reason).toBe("Malformed")
    expect(error.message).toContain("does not certify the server private key")
  })

  it("refuses damaged files: certificate, CRL, empty passphrase file", async () => {
    const damage = [
      ["serverCertificate", "not a certificate"],
      ["crl", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
      ["serverPassphrase", "\n"],
    ] as const
    for (const [file, text] of damage) {
      const { dir, layout } = await freshPki()
      await writeFile(layout[file], text)
      const error = await runError(loadServerCredentials(dir, {}))
      expect([file, error.reason]).toEqual([file, "Malformed"])
      expect(error.path).toBe(layout[file])
    }
  })

  it("reports an unencrypted or foreign key file as Malformed, never as a wrong passphrase", async () => {
    const { dir, layout, serverPassphrase } = await freshPki()
    await writeFile(layout.serverKey, await readFile(layout.caCertificate, "utf8"))
    const error = await runError(loadServerCredentials(dir, {}))
    expect(error.reason).toBe("Malformed")
    expectNoSecrets(error, [serverPassphrase])
  })
})

describe("loadClientTrust", () => {
  it("reads the CA certificate and the CRL as DER", async () => {
    const { dir } = await freshPki()
    const trust = await Effect.runPromise(loadClientTrust(dir))
    const server = await Effect.runPromise(loadServerCredentials(dir, {}))
    expect(trust.localCrlDer).toEqual(server.crlDer)
    expect(trust.caCertificateDer[0]).toBe(0x30)
  })

  it("names the missing CA certificate", async () => {
    const { dir, layout } = await freshPki()
    // With no user name, the client trusts the server folder's copy of the CA certificate.
    await rm(layout.server.caCertificate)
    const error = await runError(loadClientTrust(dir))
    expect(error.message).toBe(`No CA certificate in ${layout.server.caCertificate}.`)
  })
})

describe("loadClientKey", () => {
  it("names the user and the file when the key is missing", async () => {
    const { dir, layout } = await freshPki()
    const error = await runError(loadClientKey({ dir, name: "zoe", passphrase: PASSPHRASE }))
    expect(error).toMatchObject({ reason: "NotFound", userName: "zoe" })
    expect(error.name).toBe("StoreError") // the user name must not replace Error.name
    expect(error.message).toBe(
      `No private key for user "zoe" in ${join(layout.root, "clients", "zoe", "key.pem")}.`,
    )
    expectNoSecrets(error, [PASSPHRASE])
  })

  it("refuses an invalid name before touching the filesystem", async () => {
    const { dir } = await freshPki()
    for (const name of ["../alice", "Alice", "", "alice/../bob"]) {
      const error = await runError(loadClientKey({ dir, name, passphrase: PASSPHRASE }))
      expect(error.reason).toBe("InvalidName")
      expect(error.path).toBeUndefined()
    }
  })

  it("refuses a key file that group members may read, and loads it once it is 0600", async () => {
    const { dir, layout } = await freshPki()
    const path = Result.getOrThrow(layout.clientKeyPath("bob"))
    await chmod(path, 0o640)
    const error = await runError(loadClientKey({ dir, name: "bob", passphrase: PASSPHRASE }))
    expect(error).toMatchObject({ reason: "InsecurePermissions", userName: "bob", path })
    expect(error.message).toBe(
      `The private key for user "bob" at ${path} has mode 0640: other users may read or change it, so onechat refuses it (as ssh does). Run \`chmod 600 ${path}\` and try again.`,
    )
    await chmod(path, 0o600)
    const file = await Effect.runPromise(loadClientKeyFile({ dir, name: "bob", passphrase: PASSPHRASE }))
    expect(file.protection).toMatchObject({ kdf: "scrypt", logN: 10 })
    expect(file.warning).toContain("scrypt with N = 2^10") // cheap test files are reported as weak too
  })

  it("reports a wrong passphrase without printing either passphrase", async () => {
    const { dir } = await freshPki()
    await Effect.runPromise(loadClientKey({ dir, name: "bob", passphrase: PASSPHRASE }))
    const error = await runError(loadClientKey({ dir, name: "bob", passphrase: "guess-1234" }))
    expect(error.reason).toBe("WrongPassphrase")
    expectNoSecrets(error, [PASSPHRASE, "guess-1234"])
  })
})
