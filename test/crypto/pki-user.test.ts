/**
 * User identity certificates (src/crypto/pki.ts issueUserCertificate / verifyUserCertificate,
 * docs/protocol.md §8.3): what a good one verifies to, and every certificate a malicious server
 * could relay instead — another CA's, out of date, revoked, judged with a stale CRL, naming
 * someone else, a server's or the CA's own certificate, a forged signature, garbage. Deterministic.
 */
import { X509Certificate } from "node:crypto"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { generateIdentity } from "../../src/crypto/identity.ts"
import {
  type CertificateAuthority,
  certificateSerialNumber,
  createCertificateAuthority,
  createCrl,
  issueServerCertificate,
  issueUserCertificate,
} from "../../src/crypto/pki.ts"
import { verifyUserCertificate } from "../../src/crypto/pki-check.ts"
import { seededRandom } from "../../testkit/random.ts"

const DAY = 86_400_000
const NOW = new Date("2026-11-01T12:00:00Z")
const daysFromNow = (days: number) => new Date(NOW.getTime() + days * DAY)
const random = seededRandom("pki-user.test")

const makeCa = (seed: string) =>
  createCertificateAuthority({
    commonName: "onechat dev CA",
    now: daysFromNow(-30),
    validityDays: 3650,
    random: seededRandom(seed),
  })
const ca = await makeCa("user-ca")
const otherCa = await makeCa("user-other-ca") // same name, another key
const bobKey = generateIdentity(random)

const issue = (
  options: { authority?: CertificateAuthority; name?: string; notBefore?: Date; notAfter?: Date } = {},
) =>
  issueUserCertificate({
    ca: options.authority ?? ca,
    name: options.name ?? "bob",
    subjectPublicKey: bobKey.publicKey,
    notBefore: options.notBefore ?? daysFromNow(-1),
    ...(options.notAfter === undefined ? {} : { notAfter: options.notAfter }),
    random,
  })
const crl = (revokedSerials: string[] = [], nextUpdate = daysFromNow(7), authority = ca) =>
  createCrl({ ca: authority, revokedSerials, thisUpdate: daysFromNow(-1), nextUpdate }).then((c) => c.crlDer)

const good = await issue()
const emptyCrl = await crl()

const verify = (options: Partial<Parameters<typeof verifyUserCertificate>[0]> = {}) =>
  verifyUserCertificate({
    certificateDer: good.certificateDer,
    caCertificateDer: ca.certificateDer,
    crlDer: emptyCrl,
    now: NOW,
    expectedName: "bob",
    ...options,
  })

const refusal = (outcome: ReturnType<typeof verify>) => {
  if (Result.isSuccess(outcome)) throw new Error("expected the certificate to be refused")
  return outcome.failure
}

describe("issueUserCertificate", () => {
  it("names the user in the CN and a onechat:user URI, for client authentication only, for 365 days", () => {
    const certificate = new X509Certificate(good.certificateDer)
    expect(certificate.subject).toBe("CN=bob")
    expect(certificate.subjectAltName).toBe("URI:onechat:user:bob")
    expect(certificate.ca).toBe(false)
    expect(certificate.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"])
    expect(certificate.validToDate.getTime() - certificate.validFromDate.getTime()).toBe(365 * DAY)
    expect(certificateSerialNumber(good.certificateDer)).toBe(good.serialNumber)
    expect(certificate.checkIssued(new X509Certificate(ca.certificateDer))).toBe(true)
  })

  it("refuses an invalid name, a key of the wrong size, or dates in the wrong order", async () => {
    await expect(issue({ name: "../bob" })).rejects.toThrow(RangeError)
    await expect(
      issueUserCertificate({ ca, name: "bob", subjectPublicKey: new Uint8Array(31), notBefore: NOW, random }),
    ).rejects.toThrow(RangeError)
    await expect(issue({ notBefore: NOW, notAfter: NOW })).rejects.toThrow(RangeError)
  })
})

describe("verifyUserCertificate", () => {
  it("accepts the user's certificate and returns its raw Ed25519 key", () => {
    const verified = Result.getOrThrow(verify())
    expect(verified.publicKey).toEqual(bobKey.publicKey)
    expect(verified.serialNumber).toBe(good.serialNumber)
    expect(verified.subject).toBe("CN=bob")
    expect(verified.notAfter).toEqual(new Date(daysFromNow(-1).getTime() + 365 * DAY))
  })

  it("refuses a certificate from another CA, even one with the same name", async () => {
    const foreign = await issue({ authority: otherCa })
    const error = refusal(verify({ certificateDer: foreign.certificateDer }))
    expect(error.reason).toBe("UntrustedIssuer")
    expect(error.message).toBe(
      'The certificate presented for user "bob" was not issued by the trusted onechat CA.',
    )
  })

  it("refuses an expired and a not-yet-valid certificate, giving the date", async () => {
    const old = await issue({ notBefore: daysFromNow(-400), notAfter: daysFromNow(-2) })
    const expired = refusal(verify({ certificateDer: old.certificateDer }))
    expect(expired.reason).toBe("Expired")
    expect(expired.message).toBe(
      `The certificate presented for user "bob" expired at ${daysFromNow(-2).toISOString()}.`,
    )
    const early = await issue({ notBefore: daysFromNow(2) })
    expect(refusal(verify({ certificateDer: early.certificateDer })).reason).toBe("NotYetValid")
  })

  it("refuses a revoked certificate, and accepts it again under a CRL that does not list it", async () => {
    const revoking = await crl([good.serialNumber])
    const error = refusal(verify({ crlDer: revoking }))
    expect(error.reason).toBe("Revoked")
    expect(error.message).toBe(
      `The certificate presented for user "bob" (serial ${good.serialNumber}) has been revoked by the onechat CA.`,
    )
    expect(Result.isSuccess(verify({ crlDer: await crl(["1234"]) }))).toBe(true)
  })

  it("refuses a stale CRL, a CRL of another CA, and a missing CRL", async () => {
    const stale = refusal(verify({ crlDer: await crl([], daysFromNow(-0.5)) }))
    expect(stale.problem).toBe("CrlStale")
    expect(refusal(verify({ crlDer: await crl([], daysFromNow(7), otherCa) })).problem).toBe(
      "CrlBadSignature",
    )
    expect(refusal(verify({ crlDer: new Uint8Array(0) })).problem).toBe("CrlUnparsable")
  })

  it("refuses a certificate for another user, whatever name is asked for", async () => {
    const alice = await issue({ name: "alice" })
    const error = refusal(verify({ certificateDer: alice.certificateDer }))
    expect(error.reason).toBe("NameMismatch")
    expect(error.message).toContain('The certificate presented for user "bob" does not name that user')
    expect(Result.isSuccess(verify({ certificateDer: alice.certificateDer, expectedName: "alice" }))).toBe(
      true,
    )
    // A name that is a prefix or an extension of the real one does not match either.
    expect(refusal(verify({ expectedName: "bo" })).reason).toBe("NameMismatch")
    expect(refusal(verify({ expectedName: "bobby" })).reason).toBe("NameMismatch")
  })

  it("refuses a server certificate presented as a user's, even one naming the user", async () => {
    /** A certificate for bob's key naming "bob", with the extended key usages given. */
    const serverStyle = (extendedKeyUsage?: ReadonlyArray<string>) =>
      issueServerCertificate({
        ca,
        subjectPublicKey: bobKey.publicKey,
        commonName: "bob",
        dnsNames: ["bob"],
        ipAddresses: [],
        notBefore: daysFromNow(-1),
        notAfter: daysFromNow(30),
        random,
        ...(extendedKeyUsage === undefined ? {} : { extendedKeyUsage }),
      })
    const error = refusal(verify({ certificateDer: (await serverStyle()).certificateDer }))
    expect(error.problem).toBe("NotUserCertificate")
    expect(error.message).toContain('The certificate presented for user "bob" is not a onechat user identity')
    // Without an EKU at all it is no user certificate either; nor with both client and server auth.
    const bare = await serverStyle([])
    expect(refusal(verify({ certificateDer: bare.certificateDer })).problem).toBe("NotUserCertificate")
    const both = await serverStyle(["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.1"]) // clientAuth, serverAuth
    expect(refusal(verify({ certificateDer: both.certificateDer })).problem).toBe("NotUserCertificate")
  })

  it("refuses the CA certificate presented as a user's", () => {
    const error = refusal(verify({ certificateDer: ca.certificateDer }))
    expect(error.problem).toBe("UserIsCa")
    expect(error.message).toBe(
      'The certificate presented for user "bob" is a CA certificate, not a user identity certificate.',
    )
  })

  it("refuses a certificate whose signature or signed content was changed", () => {
    const signatureFlipped = Uint8Array.from(good.certificateDer)
    signatureFlipped[signatureFlipped.length - 5]! ^= 0x01
    expect(refusal(verify({ certificateDer: signatureFlipped })).reason).toBe("UntrustedIssuer")
    // A byte inside the public key (part of the signed TBS).
    const der = Uint8Array.from(good.certificateDer)
    const at = Buffer.from(der).indexOf(Buffer.from(bobKey.publicKey))
    expect(at).toBeGreaterThan(0)
    der[at]! ^= 0x01
    expect(["UntrustedIssuer", "Malformed"]).toContain(refusal(verify({ certificateDer: der })).reason)
  })

  it("refuses garbage and truncated bytes as Malformed", () => {
    for (const bytes of [
      new Uint8Array(0),
      Uint8Array.from([0x30, 0x03, 1, 2, 3]),
      good.certificateDer.slice(0, 100),
    ]) {
      expect(refusal(verify({ certificateDer: bytes })).reason).toBe("Malformed")
    }
  })

  it("keeps the server certificate sentences unchanged", async () => {
    const { verifyServerCertificate } = await import("../../src/crypto/pki-check.ts")
    const outcome = verifyServerCertificate({
      certificateDer: good.certificateDer,
      caCertificateDer: ca.certificateDer,
      crlDer: emptyCrl,
      now: NOW,
      expectedName: "localhost",
    })
    expect(Result.isFailure(outcome) && outcome.failure.message).toBe(
      "The server certificate's extended key usage does not include server authentication.",
    )
  })
})
