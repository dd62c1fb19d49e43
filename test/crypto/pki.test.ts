/**
 * Tests for src/crypto/pki.ts: a development CA issues server certificates and CRLs, and
 * verifyServerCertificate accepts exactly the good one, naming the failed check otherwise.
 * Deterministic: a seeded SHA-256 counter-mode Random and fixed dates; no network, no files.
 */
import "reflect-metadata"
import { createHash, webcrypto } from "node:crypto"
import { inspect } from "node:util"
import * as x509 from "@peculiar/x509"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { ed25519Pkcs8Der, generateIdentity } from "../../src/crypto/identity.ts"
import {
  type CertificateAuthority,
  type CertificateErrorReason,
  certificatePemToDer,
  createCertificateAuthority,
  createCrl,
  derToPem,
  issueServerCertificate,
} from "../../src/crypto/pki.ts"
import { verifyServerCertificate } from "../../src/crypto/pki-check.ts"
import type { Random } from "../../src/crypto/primitives.ts"

/** SHA-256(label ‖ counter) blocks: reproducible "randomness" for tests only. */
const seededRandom = (label: string): Random => {
  let counter = 0
  return (length) => {
    const out = new Uint8Array(length)
    for (let offset = 0; offset < length; offset += 32) {
      const block = createHash("sha256").update(`${label}/${counter++}`).digest()
      out.set(block.subarray(0, Math.min(32, length - offset)), offset)
    }
    return out
  }
}

const DAY = 86_400_000
const NOW = new Date("2026-11-01T12:00:00Z")
const daysFromNow = (days: number) => new Date(NOW.getTime() + days * DAY)
const random = seededRandom("pki.test")

const ca = await createCertificateAuthority({
  commonName: "onechat dev CA",
  now: daysFromNow(-30),
  validityDays: 3650,
  random,
})
// Same name as the real CA, different key: only the signature tells them apart.
const impostorCa = await createCertificateAuthority({
  commonName: "onechat dev CA",
  now: daysFromNow(-30),
  validityDays: 3650,
  random: seededRandom("impostor"),
})
const server = generateIdentity(random)

const issue = (overrides: Partial<Parameters<typeof issueServerCertificate>[0]> = {}) =>
  issueServerCertificate({
    ca,
    subjectPublicKey: server.publicKey,
    commonName: "onechat server",
    dnsNames: ["chat.example.test", "localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    notBefore: daysFromNow(-1),
    notAfter: daysFromNow(90),
    random,
    ...overrides,
  })

const crl = (
  authority: CertificateAuthority = ca,
  revokedSerials: string[] = [],
  nextUpdate = daysFromNow(7),
) =>
  createCrl({ ca: authority, revokedSerials, thisUpdate: daysFromNow(-1), nextUpdate }).then((c) => c.crlDer)

const good = await issue()
const emptyCrl = await crl()

const verify = (overrides: Partial<Parameters<typeof verifyServerCertificate>[0]> = {}) =>
  verifyServerCertificate({
    certificateDer: good.certificateDer,
    caCertificateDer: ca.certificateDer,
    crlDer: emptyCrl,
    now: NOW,
    expectedName: "chat.example.test",
    ...overrides,
  })

const expectFailure = (result: ReturnType<typeof verify>, reason: CertificateErrorReason): string => {
  if (!Result.isFailure(result)) throw new Error(`expected ${reason}, but the certificate was accepted`)
  expect(result.failure.reason).toBe(reason)
  const message = result.failure.message
  expect(message).toMatch(/^[A-Z][^\n]{15,}\.$/)
  return message
}

describe("verifyServerCertificate", () => {
  it("accepts a valid certificate and returns the server's raw Ed25519 key", () => {
    const result = verify()
    if (Result.isFailure(result)) throw new Error(result.failure.message)
    expect(result.success.publicKey).toEqual(server.publicKey)
    expect(result.success.serialNumber).toBe(good.serialNumber)
    expect(result.success.subject).toContain("CN=onechat server")
    expect(result.success.notAfter).toEqual(daysFromNow(90))
  })

  it("accepts certificate and CRL bytes that are views into a larger buffer (as from a frame)", () => {
    const frame = new Uint8Array(7 + good.certificateDer.length + emptyCrl.length + 5).fill(0xee)
    frame.set(good.certificateDer, 7)
    frame.set(emptyCrl, 7 + good.certificateDer.length)
    const certificateDer = frame.subarray(7, 7 + good.certificateDer.length)
    const crlDer = frame.subarray(
      7 + good.certificateDer.length,
      7 + good.certificateDer.length + emptyCrl.length,
    )
    expect(Result.isSuccess(verify({ certificateDer, crlDer }))).toBe(true)
  })

  it("matches IP addresses from the SubjectAlternativeName", () => {
    expect(Result.isSuccess(verify({ expectedName: "127.0.0.1" }))).toBe(true)
    expect(Result.isSuccess(verify({ expectedName: "::1" }))).toBe(true)
    expect(expectFailure(verify({ expectedName: "127.0.0.2" }), "NameMismatch")).toContain('"127.0.0.2"')
  })

  it("refuses a name the certificate does not list, and does not fall back to the subject CN", () => {
    expect(expectFailure(verify({ expectedName: "evil.example.test" }), "NameMismatch")).toContain(
      "evil.example.test",
    )
    expectFailure(verify({ expectedName: "onechat server" }), "NameMismatch")
  })

  it("refuses an expired certificate, giving the end date", () => {
    const message = expectFailure(verify({ now: daysFromNow(91) }), "Expired")
    expect(message).toContain(daysFromNow(90).toISOString())
  })

  it("refuses a certificate that is not yet valid, giving the start date", async () => {
    const future = await issue({ notBefore: daysFromNow(2), notAfter: daysFromNow(30) })
    const message = expectFailure(verify({ certificateDer: future.certificateDer }), "NotYetValid")
    expect(message).toContain(daysFromNow(2).toISOString())
  })

  it("refuses a certificate issued by another CA with the same name", async () => {
    const foreign = await issue({ ca: impostorCa })
    const message = expectFailure(verify({ certificateDer: foreign.certificateDer }), "UntrustedIssuer")
    expect(message).toBe("The server certificate was not issued by the trusted onechat CA.")
  })

  it("refuses a certificate whose CA signature was tampered with", () => {
    const tampered = Uint8Array.from(good.certificateDer)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01
    expectFailure(verify({ certificateDer: tampered }), "UntrustedIssuer")
  })

  it("refuses a revoked certificate", async () => {
    const revokedCrl = await crl(ca, ["1234", good.serialNumber])
    expect(expectFailure(verify({ crlDer: revokedCrl }), "Revoked")).toContain(good.serialNumber)
  })

  it("refuses a CRL signed by another CA, even one with the same name", async () => {
    const message = expectFailure(verify({ crlDer: await crl(impostorCa) }), "CrlInvalid")
    expect(message).toContain("not signed by the trusted onechat CA")
  })

  it("refuses a CRL whose nextUpdate has passed", async () => {
    const stale = await crl(ca, [], daysFromNow(-0.5))
    expect(expectFailure(verify({ crlDer: stale }), "CrlInvalid")).toContain(daysFromNow(-0.5).toISOString())
  })

  it("refuses a CRL whose signature was tampered with, or that is not yet valid", async () => {
    const tampered = Uint8Array.from(emptyCrl)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01
    expect(expectFailure(verify({ crlDer: tampered }), "CrlInvalid")).toContain("not signed")
    const early = await createCrl({
      ca,
      revokedSerials: [],
      thisUpdate: daysFromNow(1),
      nextUpdate: daysFromNow(8),
    })
    expect(expectFailure(verify({ crlDer: early.crlDer }), "CrlInvalid")).toContain(
      daysFromNow(1).toISOString(),
    )
  })

  it("refuses an unparsable CRL", () => {
    expectFailure(verify({ crlDer: emptyCrl.subarray(0, emptyCrl.length - 1) }), "CrlInvalid")
    expectFailure(verify({ crlDer: good.certificateDer }), "CrlInvalid")
  })

  it("refuses a certificate whose key usage is keyEncipherment only", async () => {
    const wrong = await issue({ keyUsage: x509.KeyUsageFlags.keyEncipherment })
    expect(expectFailure(verify({ certificateDer: wrong.certificateDer }), "WrongKeyUsage")).toContain(
      "digital signatures",
    )
  })

  it("refuses a certificate whose extended key usage is clientAuth only", async () => {
    const clientOnly = await issue({ extendedKeyUsage: [x509.ExtendedKeyUsage.clientAuth] })
    const message = expectFailure(verify({ certificateDer: clientOnly.certificateDer }), "WrongKeyUsage")
    expect(message).toContain("server authentication")
  })

  it("accepts a certificate without an extended key usage extension", async () => {
    const noEku = await issue({ extendedKeyUsage: [] })
    expect(Result.isSuccess(verify({ certificateDer: noEku.certificateDer }))).toBe(true)
  })

  it("refuses the CA certificate presented as a server certificate", () => {
    const message = expectFailure(verify({ certificateDer: ca.certificateDer }), "WrongKeyUsage")
    expect(message).toContain("CA certificate")
  })

  it("refuses a certificate whose subject key is not Ed25519", async () => {
    const ecdsa = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])
    const caCertificate = new x509.X509Certificate(ca.certificateDer)
    const pkcs8 = ed25519Pkcs8Der(ca.key.seed)
    const signingKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"])
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: "4242",
      subject: "CN=onechat server",
      issuer: caCertificate.subjectName,
      notBefore: daysFromNow(-1),
      notAfter: daysFromNow(30),
      signingAlgorithm: { name: "Ed25519" },
      publicKey: ecdsa.publicKey,
      signingKey,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "chat.example.test" }]),
      ],
    })
    expectFailure(verify({ certificateDer: new Uint8Array(certificate.rawData) }), "NotEd25519")
  })

  it("refuses garbage and truncated certificates as Malformed", () => {
    const garbage = seededRandom("garbage")(300)
    expect(expectFailure(verify({ certificateDer: garbage }), "Malformed")).toContain("not a valid")
    expectFailure(verify({ certificateDer: good.certificateDer.subarray(0, 100) }), "Malformed")
    expectFailure(verify({ certificateDer: new Uint8Array(0) }), "Malformed")
  })

  it("refuses everything while the CA certificate itself is outside its validity period", () => {
    const message = expectFailure(verify({ now: daysFromNow(3700) }), "CaExpired")
    expect(message).toContain("CA certificate expired")
    expectFailure(verify({ now: daysFromNow(-31) }), "CaExpired")
    expectFailure(verify({ caCertificateDer: good.certificateDer }), "CaInvalid")
  })
})

describe("issuing", () => {
  it("gives positive 16-byte random serials and distinct serials per certificate", async () => {
    const other = await issue()
    expect(good.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/)
    expect(other.serialNumber).not.toBe(good.serialNumber)
  })

  it("is deterministic for a given Random", async () => {
    const again = await createCertificateAuthority({
      commonName: "onechat dev CA",
      now: daysFromNow(-30),
      validityDays: 3650,
      random: seededRandom("impostor"),
    })
    expect(again.certificateDer).toEqual(impostorCa.certificateDer)
  })

  it("refuses invalid arguments as programming errors", async () => {
    await expect(issue({ subjectPublicKey: new Uint8Array(31) })).rejects.toThrow(RangeError)
    await expect(issue({ dnsNames: [], ipAddresses: [] })).rejects.toThrow(RangeError)
    await expect(issue({ ipAddresses: ["not-an-ip"] })).rejects.toThrow(RangeError)
    await expect(issue({ notAfter: daysFromNow(-2) })).rejects.toThrow(RangeError)
  })

  it("never shows the CA's private key when printed", () => {
    const seedHex = Buffer.from(ca.key.seed.expose()).toString("hex")
    const seedBase64 = Buffer.from(ca.key.seed.expose()).toString("base64")
    for (const printed of [inspect(ca, { depth: 10 }), JSON.stringify(ca), String(ca.key.secretKey)]) {
      expect(printed).not.toContain(seedHex)
      expect(printed).not.toContain(seedBase64)
    }
  })
})

describe("PEM helpers", () => {
  it("round-trips certificates and CRLs", async () => {
    expect(certificatePemToDer(good.certificatePem)).toEqual(good.certificateDer)
    expect(certificatePemToDer(derToPem(good.certificateDer, "CERTIFICATE"))).toEqual(good.certificateDer)
    const { crlPem } = await createCrl({
      ca,
      revokedSerials: [],
      thisUpdate: NOW,
      nextUpdate: daysFromNow(1),
    })
    expect(crlPem).toMatch(/^-----BEGIN X509 CRL-----\n/)
  })

  it("returns undefined for anything that is not a CERTIFICATE block", () => {
    expect(certificatePemToDer("hello")).toBeUndefined()
    expect(certificatePemToDer(derToPem(good.certificateDer, "PUBLIC KEY"))).toBeUndefined()
  })
})
