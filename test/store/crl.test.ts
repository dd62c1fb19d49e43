/**
 * CRL files (src/store/crl.ts) and the CA's re-issue (src/store/ca.ts reissueCrl): the server's CRL
 * is fresh, due or stale against its own CA copy (a foreign or not-yet-valid one is refused); the CA
 * re-issues a 7-day CRL keeping every revoked serial; a client keeps only a newer CRL its CA signed.
 * Each test works in its own temporary development folder with a fixed clock.
 */
import { X509Certificate } from "node:crypto"
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { createCertificateAuthority, createCrl } from "../../src/crypto/pki.ts"
import { verifyServerCertificate } from "../../src/crypto/pki-check.ts"
import { loadCa, reissueCrl, wipeCa } from "../../src/store/ca.ts"
import { checkServerCrl, readCrlFile, saveClientCrl } from "../../src/store/crl.ts"
import { createDevelopmentPki } from "../../src/store/dev-pki.ts"
import { dataLayout } from "../../src/store/layout.ts"
import { seededRandom } from "../../testkit/random.ts"

const CREATED = new Date("2026-06-01T12:00:00Z")
const DAY = 86_400_000
const run = Effect.runPromise

const temporaryFolders: string[] = []
afterEach(async () => {
  await Promise.all(temporaryFolders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A development folder made at CREATED, in a fresh temporary folder. */
const freshPki = async (): Promise<string> => {
  const parent = await mkdtemp(join(tmpdir(), "onechat-crl-"))
  temporaryFolders.push(parent)
  const dir = join(parent, "data")
  await run(
    createDevelopmentPki({
      dir,
      users: ["alice"],
      passphrase: "alice passphrase",
      now: CREATED,
      random: seededRandom("crl.test"),
      keyFile: { scryptLogN: 10 },
    }),
  )
  return dir
}

const reissue = async (dir: string, now: Date, addSerials: string[] = []) => {
  const layout = dataLayout(dir)
  const ca = await run(loadCa(layout.ca.root))
  try {
    return await run(reissueCrl({ caDir: layout.ca.root, ca, now, addSerials }))
  } finally {
    wipeCa(ca)
  }
}

const serverSerial = async (dir: string) =>
  new X509Certificate(await readFile(dataLayout(dir).serverCertificate)).serialNumber.toLowerCase()

describe("checkServerCrl", () => {
  it("calls a new CRL fresh, due within 2 days of its nextUpdate, and stale after it", async () => {
    const dir = await freshPki()
    const server = dataLayout(dir).server
    const at = (days: number) => run(checkServerCrl(server, new Date(CREATED.getTime() + days * DAY)))
    expect((await at(0)).state).toBe("fresh")
    expect((await at(4.9)).state).toBe("fresh")
    expect((await at(5.5)).state).toBe("due")
    const stale = await at(7.5)
    expect(stale).toEqual({ state: "stale", nextUpdate: new Date(CREATED.getTime() + 7 * DAY) })
  })

  it("refuses a CRL signed by another CA, an unparsable one, and one not yet valid", async () => {
    const dir = await freshPki()
    const server = dataLayout(dir).server
    const other = await createCertificateAuthority({
      commonName: "onechat development CA",
      now: CREATED,
      validityDays: 10,
      random: seededRandom("other"),
    })
    const foreign = await createCrl({
      ca: other,
      revokedSerials: [],
      thisUpdate: CREATED,
      nextUpdate: new Date(CREATED.getTime() + DAY),
    })
    await writeFile(server.crl, foreign.crlPem)
    const refused = await run(Effect.flip(checkServerCrl(server, CREATED)))
    expect(refused.message).toContain("not signed by the CA certificate in the same folder")
    await writeFile(server.crl, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    expect((await run(Effect.flip(checkServerCrl(server, CREATED)))).reason).toBe("Malformed")
    const future = await reissue(dir, new Date(CREATED.getTime() + 2 * DAY))
    await writeFile(server.crl, future.crlPem)
    expect((await run(Effect.flip(checkServerCrl(server, CREATED)))).message).toContain("not valid before")
  })
})

describe("reissueCrl", () => {
  it("issues a 7-day CRL that keeps the serials already revoked and still verifies the server", async () => {
    const dir = await freshPki()
    const layout = dataLayout(dir)
    const first = await reissue(dir, new Date(CREATED.getTime() + DAY), ["abc123"])
    const later = new Date(CREATED.getTime() + 5 * DAY)
    const second = await reissue(dir, later)
    expect(second.serials).toEqual(["abc123"])
    expect(second.nextUpdate).toEqual(new Date(later.getTime() + 7 * DAY))
    expect(first.crlPem).not.toBe(second.crlPem)
    const onDisk = await run(readCrlFile({ path: layout.ca.crl, subject: "CRL" }))
    expect(onDisk.revokedSerials).toEqual(["abc123"])
    expect((await stat(layout.ca.crl)).mode & 0o777).toBe(0o644)
    const verified = verifyServerCertificate({
      certificateDer: new Uint8Array(new X509Certificate(await readFile(layout.serverCertificate)).raw),
      caCertificateDer: new Uint8Array(new X509Certificate(await readFile(layout.caCertificate)).raw),
      crlDer: second.crlDer,
      now: later,
      expectedName: "localhost",
    })
    expect(Result.isSuccess(verified)).toBe(true)
  })

  it("keeps a revocation of the server's own certificate: it stays refused", async () => {
    const dir = await freshPki()
    const serial = await serverSerial(dir)
    await reissue(dir, new Date(CREATED.getTime() + DAY), [serial])
    const renewed = await reissue(dir, new Date(CREATED.getTime() + 6 * DAY))
    const layout = dataLayout(dir)
    const verified = verifyServerCertificate({
      certificateDer: new Uint8Array(new X509Certificate(await readFile(layout.serverCertificate)).raw),
      caCertificateDer: new Uint8Array(new X509Certificate(await readFile(layout.caCertificate)).raw),
      crlDer: renewed.crlDer,
      now: new Date(CREATED.getTime() + 6 * DAY),
      expectedName: "localhost",
    })
    expect(Result.isFailure(verified) && verified.failure.reason).toBe("Revoked")
  })

  it("fails with WrongPassphrase when ca/ca.passphrase does not open the CA key", async () => {
    const dir = await freshPki()
    await writeFile(dataLayout(dir).ca.passphrase, "not the passphrase\n")
    expect((await run(Effect.flip(loadCa(dataLayout(dir).ca.root)))).reason).toBe("WrongPassphrase")
  })
})

describe("saveClientCrl", () => {
  it("keeps the newest CA-signed CRL only: newer replaces, older, equal and foreign change nothing", async () => {
    const dir = await freshPki()
    const clientDir = Result.getOrThrow(dataLayout(dir).clientDir("alice"))
    const path = join(clientDir, "crl.pem")
    const original = await readFile(path, "utf8")
    const newer = await reissue(dir, new Date(CREATED.getTime() + 2 * DAY), ["abc"])
    const newest = await reissue(dir, new Date(CREATED.getTime() + 3 * DAY))
    expect(await run(saveClientCrl(clientDir, newest.crlDer))).toBe(true)
    expect(await readFile(path, "utf8")).toBe(newest.crlPem)
    expect(await run(saveClientCrl(clientDir, newer.crlDer))).toBe(false)
    expect(await run(saveClientCrl(clientDir, newest.crlDer))).toBe(false)
    const other = await createCertificateAuthority({
      commonName: "onechat development CA",
      now: CREATED,
      validityDays: 10,
      random: seededRandom("other"),
    })
    const foreign = await createCrl({
      ca: other,
      revokedSerials: [],
      thisUpdate: new Date(CREATED.getTime() + 9 * DAY),
      nextUpdate: new Date(CREATED.getTime() + 10 * DAY),
    })
    expect(await run(saveClientCrl(clientDir, foreign.crlDer))).toBe(false)
    expect(await run(saveClientCrl(clientDir, new Uint8Array([0x30, 0x00])))).toBe(false)
    expect(await readFile(path, "utf8")).toBe(newest.crlPem)
    expect(original).not.toBe(newest.crlPem)
    // With no CRL yet, a valid one is saved.
    await rm(path)
    expect(await run(saveClientCrl(clientDir, newer.crlDer))).toBe(true)
  })
})
