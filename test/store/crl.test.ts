/**
 * Tests for src/store/crl.ts: a CRL near its nextUpdate (or missing, unparsable, signed by another
 * CA, not yet valid) is re-issued with the folder's CA key, keeps its revoked serials and still
 * verifies; a fresh one is left byte for byte; without a CA key nothing is written. Each test
 * works in its own temporary development PKI with a fixed clock.
 */
import "reflect-metadata"
import { X509Certificate } from "node:crypto"
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as x509 from "@peculiar/x509"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodePem, importEncryptedPrivateKeyPem } from "../../src/crypto/identity.ts"
import { createCertificateAuthority, createCrl, verifyServerCertificate } from "../../src/crypto/pki.ts"
import { renewCrlIfDue } from "../../src/store/crl.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { seededRandom } from "../support/random.ts"

const CREATED = new Date("2026-06-01T12:00:00Z")
const DAY = 86_400_000
const HOUR = 3_600_000

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A development PKI made at CREATED, in a fresh temporary folder. */
const freshPki = async (): Promise<string> => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-crl-"))
  temporaryFolders.push(parent)
  const dir = join(parent, "data")
  await Effect.runPromise(
    createDevelopmentPki({
      dir,
      users: ["alice"],
      passphrase: "alice passphrase",
      random: seededRandom(`crl/${parent}`),
      now: CREATED,
    }),
  )
  return dir
}

const pemDer = async (path: string): Promise<Uint8Array> => {
  const block = decodePem(await readFile(path, "utf8"))
  if (block === undefined) throw new Error(`no PEM in ${path}`)
  return block.der
}

/** The folder's CA, read the way an operator with the CA key would. */
const folderCa = async (dir: string) => {
  const layout = dataLayout(dir)
  const passphrase = (await readFile(layout.caPassphrase, "utf8")).trim()
  const key = importEncryptedPrivateKeyPem(await readFile(layout.caKey, "utf8"), passphrase)
  if (Result.isFailure(key)) throw key.failure
  return { key: key.success, certificateDer: await pemDer(layout.caCertificate) }
}

/** Replaces D/server/crl.pem with one signed by the folder's CA. */
const writeCrl = async (
  dir: string,
  options: { revokedSerials?: string[]; thisUpdate: Date; nextUpdate: Date },
): Promise<void> => {
  const { crlPem } = await createCrl({
    ca: await folderCa(dir),
    revokedSerials: options.revokedSerials ?? [],
    thisUpdate: options.thisUpdate,
    nextUpdate: options.nextUpdate,
  })
  await writeFile(dataLayout(dir).crl, crlPem)
}

const readCrl = async (dir: string) => new x509.X509Crl(await pemDer(dataLayout(dir).crl))

const serverSerial = async (dir: string) =>
  new X509Certificate(await pemDer(dataLayout(dir).serverCertificate)).serialNumber.toLowerCase()

/** The server certificate checked as a client would, against the folder's CA and current CRL. */
const verifyAt = async (dir: string, now: Date) => {
  const layout = dataLayout(dir)
  return verifyServerCertificate({
    certificateDer: await pemDer(layout.serverCertificate),
    caCertificateDer: await pemDer(layout.caCertificate),
    crlDer: await pemDer(layout.crl),
    now,
    expectedName: "localhost",
  })
}

const renew = (dir: string, now: Date, withinDays?: number) =>
  Effect.runPromise(renewCrlIfDue({ dir, now, ...(withinDays === undefined ? {} : { withinDays }) }))

describe("renewCrlIfDue", () => {
  it("re-issues a CRL due in 3 days: now + 30 days, still verifying, revoked serials kept", async () => {
    const dir = await freshPki()
    const now = new Date(CREATED.getTime() + 100 * DAY)
    await writeCrl(dir, {
      revokedSerials: ["1234abcd", "7f00000000000000000000000000000001"],
      thisUpdate: new Date(now.getTime() - 27 * DAY),
      nextUpdate: new Date(now.getTime() + 3 * DAY),
    })

    const result = await renew(dir, now)

    expect(result).toEqual({ renewed: true, nextUpdate: new Date(now.getTime() + 30 * DAY) })
    const crl = await readCrl(dir)
    expect(crl.thisUpdate).toEqual(new Date(now.getTime() - HOUR))
    expect(crl.nextUpdate).toEqual(new Date(now.getTime() + 30 * DAY))
    expect(crl.entries.map((entry) => entry.serialNumber.toLowerCase()).sort()).toEqual([
      "1234abcd",
      "7f00000000000000000000000000000001",
    ])
    expect(Result.isSuccess(await verifyAt(dir, now))).toBe(true)
    // The old CRL would be stale by now; the new one is not.
    expect(Result.isSuccess(await verifyAt(dir, new Date(now.getTime() + 29 * DAY)))).toBe(true)
    expect((await stat(dataLayout(dir).crl)).mode & 0o777).toBe(0o644)
  })

  it("keeps a revocation of the server's own certificate: it stays refused", async () => {
    const dir = await freshPki()
    const now = new Date(CREATED.getTime() + 29 * DAY)
    await writeCrl(dir, {
      revokedSerials: [await serverSerial(dir)],
      thisUpdate: CREATED,
      nextUpdate: new Date(CREATED.getTime() + 30 * DAY),
    })
    expect((await renew(dir, now)).renewed).toBe(true)
    const verified = await verifyAt(dir, now)
    expect(Result.isFailure(verified) && verified.failure.reason).toBe("Revoked")
  })

  it("leaves a fresh CRL alone: renewed false, the file unchanged", async () => {
    const dir = await freshPki()
    const path = dataLayout(dir).crl
    const before = { text: await readFile(path, "utf8"), mtimeMs: (await stat(path)).mtimeMs }

    const result = await renew(dir, new Date(CREATED.getTime() + DAY))

    expect(result).toEqual({ renewed: false, nextUpdate: new Date(CREATED.getTime() + 30 * DAY) })
    expect(await readFile(path, "utf8")).toBe(before.text)
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs)
  })

  it("honours withinDays: 23 days ahead is fresh by default, due with a 25-day window", async () => {
    const dir = await freshPki()
    const now = new Date(CREATED.getTime() + 7 * DAY)
    expect((await renew(dir, now)).renewed).toBe(false)
    expect((await renew(dir, now, 25)).renewed).toBe(true)
  })

  it("re-issues a missing, an unparsable, a foreign and a not-yet-valid CRL", async () => {
    const dir = await freshPki()
    const now = new Date(CREATED.getTime() + DAY)
    const layout = dataLayout(dir)

    await rm(layout.crl)
    expect((await renew(dir, now)).renewed).toBe(true)
    expect(Result.isSuccess(await verifyAt(dir, now))).toBe(true)

    await writeFile(layout.crl, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    expect((await renew(dir, now)).renewed).toBe(true)
    expect(Result.isSuccess(await verifyAt(dir, now))).toBe(true)

    const foreign = await createCertificateAuthority({
      commonName: "someone else's CA",
      now: CREATED,
      validityDays: 3650,
      random: seededRandom("foreign"),
    })
    const { crlPem } = await createCrl({
      ca: foreign,
      revokedSerials: [],
      thisUpdate: CREATED,
      nextUpdate: new Date(now.getTime() + 300 * DAY),
    })
    await writeFile(layout.crl, crlPem)
    expect((await renew(dir, now)).renewed).toBe(true)
    expect(Result.isSuccess(await verifyAt(dir, now))).toBe(true)

    await writeCrl(dir, {
      thisUpdate: new Date(now.getTime() + DAY),
      nextUpdate: new Date(now.getTime() + 60 * DAY),
    })
    expect((await renew(dir, now)).renewed).toBe(true)
    expect(Result.isSuccess(await verifyAt(dir, now))).toBe(true)
  })

  it("without a CA key in the folder, writes nothing: a stale CRL is reported, a missing one fails", async () => {
    const dir = await freshPki()
    const layout = dataLayout(dir)
    const now = new Date(CREATED.getTime() + 40 * DAY)
    await rm(layout.caKey)
    const before = await readFile(layout.crl, "utf8")

    const result = await renew(dir, now)

    expect(result).toEqual({ renewed: false, nextUpdate: new Date(CREATED.getTime() + 30 * DAY) })
    expect(await readFile(layout.crl, "utf8")).toBe(before)
    await rm(layout.crl)
    const missing = await Effect.runPromise(Effect.flip(renewCrlIfDue({ dir, now })))
    expect(missing).toMatchObject({ reason: "NotFound", path: layout.crl })
    expect(missing.message).toBe(`No certificate revocation list in ${layout.crl}.`)
  })

  it("fails with WrongPassphrase when ca/ca.passphrase does not open the CA key", async () => {
    const dir = await freshPki()
    await writeFile(dataLayout(dir).caPassphrase, "not the passphrase\n")
    const error = await Effect.runPromise(
      Effect.flip(renewCrlIfDue({ dir, now: new Date(CREATED.getTime() + 28 * DAY) })),
    )
    expect(error).toMatchObject({ reason: "WrongPassphrase", subject: "CA private key" })
  })
})
