/**
 * CertificateError: why a server certificate or a user identity certificate must not be trusted,
 * as a `reason` (plus a finer `problem`) with one sentence each that says which certificate ("The
 * server certificate …", "The certificate presented for user "bob" …"). Carries public facts only:
 * dates, serial numbers, names; never key bytes. docs/protocol.md §3.2, §8.3.
 */
import { Data } from "effect"

type Sentence = (at: string, name: string, cert: string) => string
const CRL = "The certificate revocation list"
const CA = "The trusted onechat CA certificate"

const reasonSentences = {
  Malformed: (_, __, cert) => `${cert} is not a valid DER-encoded X.509 certificate.`,
  NotEd25519: (_, __, cert) => `${cert}'s public key is not an Ed25519 key.`,
  UntrustedIssuer: (_, __, cert) => `${cert} was not issued by the trusted onechat CA.`,
  NotYetValid: (at, _, cert) => `${cert} is not valid before ${at}.`,
  Expired: (at, _, cert) => `${cert} expired at ${at}.`,
  WrongKeyUsage: (_, __, cert) => `${cert} is not meant for a server's signatures.`,
  Revoked: (_, serial, cert) => `${cert} (serial ${serial}) has been revoked by the onechat CA.`,
  CrlInvalid: () => `${CRL} is not valid.`,
  NameMismatch: (_, name, cert) => `${cert} is not valid for the name ${JSON.stringify(name)}.`,
  CaInvalid: () => `${CA} is not a valid Ed25519 CA certificate.`,
  CaExpired: (at) => `${CA} expired at ${at}.`,
} satisfies Record<string, Sentence>

/** The precise failed check behind "WrongKeyUsage", "CrlInvalid" and "CaExpired": a finer sentence. */
const problemSentences = {
  IsCa: () => "The presented certificate is a CA certificate, not a server certificate.",
  NoDigitalSignature: (_, __, cert) => `${cert}'s key usage does not allow digital signatures.`,
  NoServerAuth: (_, __, cert) => `${cert}'s extended key usage does not include server authentication.`,
  UserIsCa: (_, __, cert) => `${cert} is a CA certificate, not a user identity certificate.`,
  NotUserCertificate: (_, __, cert) =>
    `${cert} is not a onechat user identity certificate (its extended key usage must be client authentication only).`,
  CrlUnparsable: () => `${CRL} is not a valid DER-encoded X.509 CRL.`,
  CrlMissing: () =>
    "No certificate revocation list is available: the server stapled none and there is no local copy.",
  CrlBadSignature: () => `${CRL} was not signed by the trusted onechat CA.`,
  CrlNotYetValid: (at) => `${CRL} is not valid before ${at}.`,
  CrlNoNextUpdate: () => `${CRL} has no next-update date.`,
  CrlStale: (at) => `${CRL} is out of date: its next update was due at ${at}.`,
  CaNotYetValid: (at) => `${CA} is not valid before ${at}.`,
} satisfies Record<string, Sentence>

/** For user certificates: the name the certificate carries is not the expected one. */
const userNameMismatch = (name: string, cert: string) =>
  `${cert} does not name that user (onechat:user:${name} is not its only subject alternative name, or its common name differs).`

/**
 * For a server certificate: the address the client connected to (or its --server-name) is not one
 * the certificate names. Says what it does name, so the user can pick one.
 */
const serverNameMismatch = (name: string, hostNames: ReadonlyArray<string>) =>
  hostNames.length === 0
    ? `The server certificate names no host, so it is not valid for ${JSON.stringify(name)}.`
    : `The server certificate does not name ${JSON.stringify(name)}: it is valid for ${hostNames.join(", ")} only. Connect to one of those (--server), or name one with --server-name.`

export type CertificateErrorReason = keyof typeof reasonSentences
export type CertificateProblem = keyof typeof problemSentences

/** A certificate that must not be trusted. Carries public facts only (dates, serials, names). */
export class CertificateError extends Data.TaggedError("CertificateError")<{
  readonly reason: CertificateErrorReason
  readonly problem?: CertificateProblem
  /** The validity bound or CRL date the check failed against. */
  readonly date?: Date
  /** The expected name (NameMismatch) or the revoked serial number (Revoked). */
  readonly name?: string
  /** Set when the certificate was presented as user `user`'s identity (not the server's). */
  readonly user?: string
  /** NameMismatch of a server certificate: the DNS names and IP addresses it does name. */
  readonly hostNames?: ReadonlyArray<string>
}> {
  override get message(): string {
    const at = this.date?.toISOString() ?? "an unknown date"
    const cert =
      this.user === undefined
        ? "The server certificate"
        : `The certificate presented for user ${JSON.stringify(this.user)}`
    if (this.user !== undefined && this.reason === "NameMismatch") return userNameMismatch(this.user, cert)
    if (this.reason === "NameMismatch" && this.hostNames !== undefined) {
      return serverNameMismatch(this.name ?? "", this.hostNames)
    }
    const sentence: Sentence =
      this.problem === undefined ? reasonSentences[this.reason] : problemSentences[this.problem]
    return sentence(at, this.name ?? "", cert)
  }
}
