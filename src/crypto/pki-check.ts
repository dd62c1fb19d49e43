/**
 * Checking onechat certificates, synchronously: a server certificate or a user identity
 * certificate against the CA and a CRL, and a CRL alone. The parsing and signature checks that
 * depend only on the bytes are cached in ./pki-cache.ts; the dates, the revocation by *this* CRL
 * and the name are checked at every call. Issuing (CA, certificates, CRLs) is ./pki.ts.
 * Errors name the failed check and public facts, never key bytes. docs/protocol.md §3.2, §8.3.
 */
import "reflect-metadata"
import { isIP } from "node:net"
import * as x509 from "@peculiar/x509"
import { Result } from "effect"
import { USER_URI_PREFIX } from "./pki.ts"
import { checkCrl, type IssuedByCa, issuedCertificate, safely, trustedCa } from "./pki-cache.ts"
import { CertificateError, type CertificateErrorReason, type CertificateProblem } from "./pki-error.ts"

export interface VerifiedServerCertificate {
  /** Raw 32-byte Ed25519 key of the server. */
  readonly publicKey: Uint8Array
  readonly serialNumber: string
  readonly subject: string
  /** The subjectAltName DNS names and IP addresses it is valid for, in order. */
  readonly hostNames: ReadonlyArray<string>
  /** SHA-256 of the DER as OpenSSL prints it ("AB:CD:…"), for people to compare. */
  readonly fingerprint: string
  readonly notAfter: Date
}

/** A user identity certificate that verified: the user's raw 32-byte Ed25519 key and public facts. */
export interface VerifiedUserCertificate {
  readonly publicKey: Uint8Array
  readonly serialNumber: string
  readonly subject: string
  readonly notAfter: Date
}

/**
 * Verifies a server certificate against the onechat CA and the CA's CRL, at `now`, for
 * `expectedName` (a DNS name or an IP address, matched against the SubjectAlternativeName only).
 * Synchronous. Checks, in order: CA certificate usable and currently valid, certificate parsable,
 * signed by the CA, Ed25519 subject key, validity period, key usage, CRL signature and freshness,
 * revocation, name.
 *
 * What depends only on the bytes is worked out once and kept (docs/performance.md #8; ./pki-cache.ts):
 * found by exact DER bytes, so another CA, CRL or certificate is checked from scratch. The dates,
 * the revocation of the serial by *this* CRL, and the name are checked at every call.
 */
export const verifyServerCertificate = (options: {
  readonly certificateDer: Uint8Array
  readonly caCertificateDer: Uint8Array
  readonly crlDer: Uint8Array
  readonly now: Date
  readonly expectedName: string
}): Result.Result<VerifiedServerCertificate, CertificateError> => {
  const checked = verifyIssued(options, {}, serverUsage)
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  const certificate = checked.success
  const { expectedName } = options
  // SAN only: no fallback to the subject CN. Node throws on names it cannot parse; that is a mismatch.
  const matched = safely(() =>
    isIP(expectedName) !== 0
      ? certificate.node.checkIP(expectedName)
      : certificate.node.checkHost(expectedName, { subject: "never" }),
  )
  if (matched === undefined) {
    return fail("NameMismatch", { name: expectedName, hostNames: certificate.hostNames })
  }
  return Result.succeed(factsOf(certificate))
}

/**
 * Verifies user `expectedName`'s identity certificate against the onechat CA and a CRL, at `now`:
 * the same chain, date, Ed25519 and CRL (valid, not stale, serial not listed) checks as for a
 * server, then that it is a user certificate (not a CA; digitalSignature; extendedKeyUsage present,
 * with clientAuth and without serverAuth) and that it names exactly `expectedName` (its only
 * subjectAltName URI is `onechat:user:NAME` and its only CN is NAME). Synchronous; each sentence
 * says "The certificate presented for user …".
 */
export const verifyUserCertificate = (options: {
  readonly certificateDer: Uint8Array
  readonly caCertificateDer: Uint8Array
  readonly crlDer: Uint8Array
  readonly now: Date
  readonly expectedName: string
}): Result.Result<VerifiedUserCertificate, CertificateError> => {
  const user = options.expectedName
  const checked = verifyIssued(options, { user }, userUsage)
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  const certificate = checked.success
  const named =
    certificate.uris.length === 1 &&
    certificate.uris[0] === `${USER_URI_PREFIX}${user}` &&
    certificate.commonNames.length === 1 &&
    certificate.commonNames[0] === user
  if (!named) return fail("NameMismatch", { name: user, user })
  return Result.succeed(factsOf(certificate))
}

/**
 * Verifies a CRL alone against the onechat CA at `now`: signed by it (Ed25519, issuer name), in
 * date, parsable. Returns the revoked serials. Synchronous; the same checks verify*Certificate make.
 */
export const verifyCrl = (options: {
  readonly crlDer: Uint8Array
  readonly caCertificateDer: Uint8Array
  readonly now: Date
}): Result.Result<
  { readonly revokedSerials: ReadonlySet<string>; readonly thisUpdate: Date },
  CertificateError
> => {
  const ca = trustedCa(options.caCertificateDer)
  if (ca === undefined) return fail("CaInvalid")
  const crl = checkCrl(options.crlDer, ca, options.now)
  if (crl.problem !== undefined) return fail("CrlInvalid", crl)
  return Result.succeed({ revokedSerials: crl.revoked, thisUpdate: crl.thisUpdate })
}

type Usage = (certificate: IssuedByCa) => CertificateProblem | undefined

/** Key usage for a server: not a CA, digitalSignature, and serverAuth if an EKU is present. */
const serverUsage: Usage = (certificate) => {
  if (certificate.isCa) return "IsCa"
  if ((certificate.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) return "NoDigitalSignature"
  const serverAuth = certificate.extendedKeyUsage?.includes(x509.ExtendedKeyUsage.serverAuth) ?? true
  return serverAuth ? undefined : "NoServerAuth"
}

/** Key usage for a user: not a CA, digitalSignature, an EKU with clientAuth and without serverAuth. */
const userUsage: Usage = (certificate) => {
  if (certificate.isCa) return "UserIsCa"
  if ((certificate.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) return "NoDigitalSignature"
  const usages = certificate.extendedKeyUsage
  const user =
    usages?.includes(x509.ExtendedKeyUsage.clientAuth) === true &&
    !usages.includes(x509.ExtendedKeyUsage.serverAuth)
  return user ? undefined : "NotUserCertificate"
}

/** The checks both kinds share, in order; `who` marks the errors as about a user's certificate. */
const verifyIssued = (
  options: {
    readonly certificateDer: Uint8Array
    readonly caCertificateDer: Uint8Array
    readonly crlDer: Uint8Array
    readonly now: Date
  },
  who: { readonly user?: string },
  usage: Usage,
): Result.Result<IssuedByCa & { readonly publicKey: Uint8Array }, CertificateError> => {
  const { now } = options
  const ca = trustedCa(options.caCertificateDer)
  if (ca === undefined) return fail("CaInvalid", who)
  if (now < ca.validFrom)
    return fail("CaExpired", { ...who, problem: "CaNotYetValid", date: new Date(ca.validFrom) })
  if (now > ca.validTo) return fail("CaExpired", { ...who, date: new Date(ca.validTo) })
  const certificate = issuedCertificate(ca, options.certificateDer)
  if (typeof certificate === "string") return fail(certificate, who)
  const { publicKey } = certificate
  if (publicKey === undefined) return fail("NotEd25519", who)
  if (now < certificate.validFrom)
    return fail("NotYetValid", { ...who, date: new Date(certificate.validFrom) })
  if (now > certificate.validTo) return fail("Expired", { ...who, date: new Date(certificate.validTo) })
  const problem = usage(certificate)
  if (problem !== undefined) return fail("WrongKeyUsage", { ...who, problem })
  const crl = checkCrl(options.crlDer, ca, now)
  if (crl.problem !== undefined) return fail("CrlInvalid", { ...who, ...crl })
  if (crl.revoked.has(certificate.serialNumber))
    return fail("Revoked", { ...who, name: certificate.serialNumber })
  return Result.succeed({ ...certificate, publicKey })
}

const factsOf = (certificate: IssuedByCa & { readonly publicKey: Uint8Array }) => ({
  publicKey: certificate.publicKey.slice(),
  serialNumber: certificate.serialNumber,
  subject: certificate.subject,
  /** The subjectAltName DNS names and IP addresses (what a server certificate is valid for). */
  hostNames: certificate.hostNames,
  fingerprint: certificate.node.fingerprint256,
  notAfter: new Date(certificate.validTo),
})

const fail = (
  reason: CertificateErrorReason,
  facts: {
    readonly problem?: CertificateProblem
    readonly date?: Date
    readonly name?: string
    readonly user?: string
    readonly hostNames?: ReadonlyArray<string>
  } = {},
) => Result.fail(new CertificateError({ reason, ...facts }))
