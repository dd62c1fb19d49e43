/**
 * Tests for src/store/credentials.ts and src/store/errors.ts: the server's passphrase from its file
 * or from ONECHAT_SERVER_PASSPHRASE, a certificate that must certify the key, missing and damaged
 * files named precisely, and no passphrase or key material in any error printed.
 * One development PKI is made per test in its own temporary folder.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import {
  loadClientKey,
  loadClientTrust,
  loadServerCredentials,
  SERVER_PASSPHRASE_VARIABLE,
} from "../../src/store/credentials.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import type { StoreError } from "../../src/store/errors.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { seededRandom } from "../support/random.ts"

const NOW = new Date("2026-11-01T12:00:00Z")
const PASSPHRASE = "the shared demo passphrase"

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

const freshPki = async () => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-credentials-"))
  temporaryFolders.push(parent)
  const dir = join(parent, "data")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice", "bob"],
      passphrase: PASSPHRASE,
      random: seededRandom(dir),
      now: NOW,
    }),
  )
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
  it("decrypts the server key with server/server.passphrase", async () => {
    const { dir } = await freshPki()
    const credentials = await Effect.runPromise(loadServerCredentials(dir, {}))
    expect(credentials.key.publicKey).toHaveLength(32)
    expect(credentials.certificateDer.length).toBeGreaterThan(0)
    expect(credentials.crlDer.length).toBeGreaterThan(0)
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
    await rm(layout.caCertificate)
    const error = await runError(loadClientTrust(dir))
    expect(error.message).toBe(`No CA certificate in ${layout.caCertificate}.`)
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

  it("reports a wrong passphrase without printing either passphrase", async () => {
    const { dir } = await freshPki()
    await Effect.runPromise(loadClientKey({ dir, name: "bob", passphrase: PASSPHRASE }))
    const error = await runError(loadClientKey({ dir, name: "bob", passphrase: "guess-1234" }))
    expect(error.reason).toBe("WrongPassphrase")
    expectNoSecrets(error, [PASSPHRASE, "guess-1234"])
  })
})
