/**
 * verifyServerCertificate keeps what depends only on bytes (docs/performance.md #8): parsed CA,
 * verified CRLs and verified server certificates. These tests check that a verdict kept for one
 * certificate does not leak into another CA, a newer CRL, a later time, another name, or bytes
 * changed in place in the caller's buffer. Deterministic: seeded randomness and fixed dates.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { generateIdentity } from "../../src/crypto/identity.ts"
import {
  type CertificateAuthority,
  type CertificateErrorReason,
  createCertificateAuthority,
  createCrl,
  issueServerCertificate,
} from "../../src/crypto/pki.ts"
import { verifyServerCertificate } from "../../src/crypto/pki-check.ts"
import { seededRandom } from "../../testkit/random.ts"

const DAY = 86_400_000
const NOW = new Date("2026-11-01T12:00:00Z")
const daysFromNow = (days: number) => new Date(NOW.getTime() + days * DAY)
const random = seededRandom("pki-cache.test")

const makeCa = (seed: string) =>
  createCertificateAuthority({
    commonName: "onechat dev CA",
    now: daysFromNow(-30),
    validityDays: 3650,
    random: seededRandom(seed),
  })
const ca = await makeCa("cache-ca")
// Same name, different key.
const otherCa = await makeCa("cache-other-ca")
const serverKey = generateIdentity(random)

const issue = (authority: CertificateAuthority, notAfter = daysFromNow(90)) =>
  issueServerCertificate({
    ca: authority,
    subjectPublicKey: serverKey.publicKey,
    commonName: "onechat server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    notBefore: daysFromNow(-1),
    notAfter,
    random,
  })
const crl = (authority: CertificateAuthority, revokedSerials: string[] = [], nextUpdate = daysFromNow(7)) =>
  createCrl({ ca: authority, revokedSerials, thisUpdate: daysFromNow(-1), nextUpdate }).then((c) => c.crlDer)

const good = await issue(ca)
const emptyCrl = await crl(ca)

const verify = (options: Partial<Parameters<typeof verifyServerCertificate>[0]> = {}) =>
  verifyServerCertificate({
    certificateDer: good.certificateDer,
    caCertificateDer: ca.certificateDer,
    crlDer: emptyCrl,
    now: NOW,
    expectedName: "localhost",
    ...options,
  })

const reasonOf = (result: ReturnType<typeof verifyServerCertificate>): CertificateErrorReason | "ok" =>
  Result.isSuccess(result) ? "ok" : result.failure.reason

/** Verifies once so that everything is kept, and checks it was accepted. */
const warm = () => {
  expect(reasonOf(verify())).toBe("ok")
  expect(reasonOf(verify())).toBe("ok")
}

describe("verifyServerCertificate with kept verdicts", () => {
  it("does not carry a certificate's verdict over to another CA", async () => {
    warm()
    // The certificate verified under `ca` is refused under `otherCa`, and the other way round.
    expect(reasonOf(verify({ caCertificateDer: otherCa.certificateDer, crlDer: await crl(otherCa) }))).toBe(
      "UntrustedIssuer",
    )
    const foreign = await issue(otherCa)
    expect(
      reasonOf(
        verify({
          caCertificateDer: otherCa.certificateDer,
          crlDer: await crl(otherCa),
          certificateDer: foreign.certificateDer,
        }),
      ),
    ).toBe("ok")
    expect(reasonOf(verify({ certificateDer: foreign.certificateDer }))).toBe("UntrustedIssuer")
    expect(reasonOf(verify())).toBe("ok")
  })

  it("refuses a kept certificate as soon as a CRL revokes it, and a CRL signed by another CA", async () => {
    warm()
    const revoking = await crl(ca, [good.serialNumber], daysFromNow(8))
    const result = verify({ crlDer: revoking })
    expect(reasonOf(result)).toBe("Revoked")
    expect(Result.isFailure(result) && result.failure.name).toBe(good.serialNumber)
    expect(reasonOf(verify({ crlDer: await crl(otherCa) }))).toBe("CrlInvalid")
    // The old CRL is still valid on its own: the caller decides which CRLs apply (handshake-client).
    expect(reasonOf(verify())).toBe("ok")
  })

  it("checks dates at every call: a kept certificate expires, a kept CRL goes stale", async () => {
    const shortLived = await issue(ca, daysFromNow(3))
    expect(reasonOf(verify({ certificateDer: shortLived.certificateDer }))).toBe("ok")
    expect(reasonOf(verify({ certificateDer: shortLived.certificateDer, now: daysFromNow(4) }))).toBe(
      "Expired",
    )
    warm()
    const stale = verify({ now: daysFromNow(7.5) })
    expect(reasonOf(stale)).toBe("CrlInvalid")
    expect(Result.isFailure(stale) && stale.failure.problem).toBe("CrlStale")
    expect(reasonOf(verify({ now: daysFromNow(-1.5) }))).toBe("NotYetValid")
    expect(reasonOf(verify({ now: daysFromNow(4000) }))).toBe("CaExpired")
    expect(reasonOf(verify())).toBe("ok")
  })

  it("checks the name at every call", () => {
    warm()
    expect(reasonOf(verify({ expectedName: "evil.example.test" }))).toBe("NameMismatch")
    expect(reasonOf(verify({ expectedName: "127.0.0.1" }))).toBe("ok")
    expect(reasonOf(verify({ expectedName: "127.0.0.2" }))).toBe("NameMismatch")
  })

  it("looks the bytes up, not the buffer: changes made in place after a verdict are seen", () => {
    const certificateDer = Uint8Array.from(good.certificateDer)
    const caCertificateDer = Uint8Array.from(ca.certificateDer)
    const crlDer = Uint8Array.from(emptyCrl)
    expect(reasonOf(verify({ certificateDer, caCertificateDer, crlDer }))).toBe("ok")
    const last = certificateDer.length - 1
    certificateDer[last] = (certificateDer[last] ?? 0) ^ 0x01 // the CA's signature
    expect(reasonOf(verify({ certificateDer, caCertificateDer, crlDer }))).toBe("UntrustedIssuer")
    certificateDer[last] = (certificateDer[last] ?? 0) ^ 0x01
    crlDer[crlDer.length - 1] = (crlDer[crlDer.length - 1] ?? 0) ^ 0x01
    expect(reasonOf(verify({ certificateDer, caCertificateDer, crlDer }))).toBe("CrlInvalid")
    caCertificateDer.set(otherCa.certificateDer.subarray(0, caCertificateDer.length))
    expect(reasonOf(verify({ certificateDer, caCertificateDer, crlDer: emptyCrl }))).not.toBe("ok")
  })

  it("returns copies: changing a result does not change the next one", () => {
    const first = verify()
    if (Result.isFailure(first)) throw new Error(first.failure.message)
    first.success.publicKey.fill(0)
    first.success.notAfter.setTime(0)
    const second = verify()
    if (Result.isFailure(second)) throw new Error(second.failure.message)
    expect(second.success.publicKey).toEqual(serverKey.publicKey)
    expect(second.success.notAfter).toEqual(daysFromNow(90))
  })

  it("keeps working when many CAs and certificates come and go (bounded caches)", async () => {
    for (let i = 0; i < 10; i++) {
      const authority = await makeCa(`cache-many-${i}`)
      const certificate = await issue(authority)
      const own = { caCertificateDer: authority.certificateDer, crlDer: await crl(authority) }
      expect(reasonOf(verify({ ...own, certificateDer: certificate.certificateDer }))).toBe("ok")
      expect(reasonOf(verify(own))).toBe("UntrustedIssuer")
    }
    expect(reasonOf(verify())).toBe("ok")
  })
})
