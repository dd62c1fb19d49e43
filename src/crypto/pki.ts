/**
 * onechat's development PKI: a self-signed Ed25519 CA, server certificates, CRLs (created with
 * @peculiar/x509 over WebCrypto), and synchronous verification of a server certificate against the
 * CA and its CRL (Node's X509Certificate + node:crypto). Pure: no file or network I/O; time and
 * randomness are injected. Errors name the failed check and public facts, never key bytes.
 */
import "reflect-metadata"
import { createHash, verify as cryptoVerify, type KeyObject, webcrypto, X509Certificate } from "node:crypto"
import { isIP } from "node:net"
import * as x509 from "@peculiar/x509"
import { Data, Result } from "effect"
import {
  decodePem,
  derToPemBlock,
  ed25519Pkcs8Der,
  generateIdentity,
  type IdentityKeyPair,
  keyObjectRawPublicKey,
  readDerSequence,
} from "./identity.ts"
import { bytesEqual, type Random, wipe } from "./primitives.ts"

x509.cryptoProvider.set(webcrypto)

const ED25519 = { name: "Ed25519" } as const
/** DER of AlgorithmIdentifier { id-Ed25519 } (RFC 8410): the only signature algorithm accepted. */
const ED25519_ALGORITHM_IDENTIFIER = Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70])
const DAY_MS = 86_400_000
/** Certificates and CRLs larger than this are refused unparsed. */
export const MAX_DER_BYTES = 64 * 1024

type Sentence = (at: string, name: string) => string
const CERT = "The server certificate"
const CRL = "The certificate revocation list"
const CA = "The trusted onechat CA certificate"

/** Why a server certificate is refused: the keys of this table, each with its sentence. */
const reasonSentences = {
  Malformed: () => `${CERT} is not a valid DER-encoded X.509 certificate.`,
  NotEd25519: () => `${CERT}'s public key is not an Ed25519 key.`,
  UntrustedIssuer: () => `${CERT} was not issued by the trusted onechat CA.`,
  NotYetValid: (at) => `${CERT} is not valid before ${at}.`,
  Expired: (at) => `${CERT} expired at ${at}.`,
  WrongKeyUsage: () => `${CERT} is not meant for a server's signatures.`,
  Revoked: (_, serial) => `${CERT} (serial ${serial}) has been revoked by the onechat CA.`,
  CrlInvalid: () => `${CRL} is not valid.`,
  NameMismatch: (_, name) => `${CERT} is not valid for the name ${JSON.stringify(name)}.`,
  CaInvalid: () => `${CA} is not a valid Ed25519 CA certificate.`,
  CaExpired: (at) => `${CA} expired at ${at}.`,
} satisfies Record<string, Sentence>

/** The precise failed check behind "WrongKeyUsage", "CrlInvalid" and "CaExpired": a finer sentence. */
const problemSentences = {
  IsCa: () => "The presented certificate is a CA certificate, not a server certificate.",
  NoDigitalSignature: () => `${CERT}'s key usage does not allow digital signatures.`,
  NoServerAuth: () => `${CERT}'s extended key usage does not include server authentication.`,
  CrlUnparsable: () => `${CRL} is not a valid DER-encoded X.509 CRL.`,
  CrlMissing: () =>
    "No certificate revocation list is available: the server stapled none and there is no local copy.",
  CrlBadSignature: () => `${CRL} was not signed by the trusted onechat CA.`,
  CrlNotYetValid: (at) => `${CRL} is not valid before ${at}.`,
  CrlNoNextUpdate: () => `${CRL} has no next-update date.`,
  CrlStale: (at) => `${CRL} is out of date: its next update was due at ${at}.`,
  CaNotYetValid: (at) => `${CA} is not valid before ${at}.`,
} satisfies Record<string, Sentence>

export type CertificateErrorReason = keyof typeof reasonSentences
export type CertificateProblem = keyof typeof problemSentences

/** A server certificate that must not be trusted. Carries public facts only (dates, serials, names). */
export class CertificateError extends Data.TaggedError("CertificateError")<{
  readonly reason: CertificateErrorReason
  readonly problem?: CertificateProblem
  /** The validity bound or CRL date the check failed against. */
  readonly date?: Date
  /** The expected name (NameMismatch) or the revoked serial number (Revoked). */
  readonly name?: string
}> {
  override get message(): string {
    const at = this.date?.toISOString() ?? "an unknown date"
    const sentence: Sentence =
      this.problem === undefined ? reasonSentences[this.reason] : problemSentences[this.problem]
    return sentence(at, this.name ?? "")
  }
}

export interface CertificateAuthority {
  readonly key: IdentityKeyPair
  readonly certificateDer: Uint8Array
}

export interface IssuedCertificate {
  readonly certificateDer: Uint8Array
  readonly certificatePem: string
  /** Lowercase hex, no leading zeros. */
  readonly serialNumber: string
}

export interface VerifiedServerCertificate {
  /** Raw 32-byte Ed25519 key of the server. */
  readonly publicKey: Uint8Array
  readonly serialNumber: string
  readonly subject: string
  readonly notAfter: Date
}

/** Creates a self-signed CA (basicConstraints CA:true, pathLen 0; keyCertSign|cRLSign; both critical). */
export const createCertificateAuthority = async (options: {
  readonly commonName: string
  readonly now: Date
  readonly validityDays: number
  readonly random: Random
}): Promise<CertificateAuthority & { readonly certificatePem: string }> => {
  const { commonName, now, validityDays, random } = options
  if (!Number.isInteger(validityDays) || validityDays <= 0) {
    throw new RangeError("validityDays must be a positive integer")
  }
  const key = generateIdentity(random)
  const keys = { privateKey: await signingKey(key), publicKey: await verifyingKey(key.publicKey) }
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(random),
    name: [{ CN: [commonName] }],
    notBefore: now,
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
    signingAlgorithm: ED25519,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  const certificateDer = new Uint8Array(certificate.rawData)
  return { key, certificateDer, certificatePem: derToPem(certificateDer, "CERTIFICATE") }
}

/**
 * Issues a server certificate signed by `ca`: keyUsage digitalSignature (critical), extendedKeyUsage
 * serverAuth, the DNS names and IP addresses as SubjectAlternativeName, CA:false, and a random
 * positive 16-byte serial. `keyUsage` / `extendedKeyUsage` override the defaults (tests only; an
 * empty `extendedKeyUsage` omits the extension). Throws `RangeError` on invalid arguments.
 */
export const issueServerCertificate = async (options: {
  readonly ca: CertificateAuthority
  readonly subjectPublicKey: Uint8Array
  readonly commonName: string
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<string>
  readonly notBefore: Date
  readonly notAfter: Date
  readonly random: Random
  readonly keyUsage?: x509.KeyUsageFlags
  readonly extendedKeyUsage?: ReadonlyArray<string>
}): Promise<IssuedCertificate> => {
  const { ca, subjectPublicKey, dnsNames, ipAddresses, notBefore, notAfter } = options
  if (subjectPublicKey.length !== 32) {
    throw new RangeError("subjectPublicKey must be a raw 32-byte Ed25519 key")
  }
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new RangeError("A server certificate needs at least one name")
  }
  if (ipAddresses.some((ip) => isIP(ip) === 0)) {
    throw new RangeError("ipAddresses must be IPv4 or IPv6 addresses")
  }
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError("notAfter must be later than notBefore")
  const caCertificate = new x509.X509Certificate(ca.certificateDer)
  const publicKey = await verifyingKey(subjectPublicKey)
  const extendedKeyUsage = options.extendedKeyUsage ?? [x509.ExtendedKeyUsage.serverAuth]
  const serialNumber = randomSerial(options.random)
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: [{ CN: [options.commonName] }],
    issuer: caCertificate.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: ED25519,
    publicKey,
    signingKey: await signingKey(ca.key),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(options.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
      ...(extendedKeyUsage.length > 0
        ? [new x509.ExtendedKeyUsageExtension([...extendedKeyUsage], false)]
        : []),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  })
  const certificateDer = new Uint8Array(certificate.rawData)
  return {
    certificateDer,
    certificatePem: derToPem(certificateDer, "CERTIFICATE"),
    serialNumber: normalizeSerial(serialNumber),
  }
}

/** Creates a CRL signed by `ca` listing `revokedSerials` (hex), revoked as of `thisUpdate`. */
export const createCrl = async (options: {
  readonly ca: CertificateAuthority
  readonly revokedSerials: ReadonlyArray<string>
  readonly thisUpdate: Date
  readonly nextUpdate: Date
}): Promise<{ readonly crlDer: Uint8Array; readonly crlPem: string }> => {
  const { ca, thisUpdate, nextUpdate } = options
  if (options.revokedSerials.some((serial) => !/^[0-9a-fA-F]{1,40}$/.test(serial))) {
    throw new RangeError("revokedSerials must be hexadecimal serial numbers")
  }
  const caCertificate = new x509.X509Certificate(ca.certificateDer)
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCertificate.subjectName,
    thisUpdate,
    nextUpdate,
    entries: options.revokedSerials.map((serial) => ({ serialNumber: serial, revocationDate: thisUpdate })),
    signingAlgorithm: ED25519,
    signingKey: await signingKey(ca.key),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey)],
  })
  const crlDer = new Uint8Array(crl.rawData)
  return { crlDer, crlPem: derToPem(crlDer, "X509 CRL") }
}

/**
 * Verifies a server certificate against the onechat CA and the CA's CRL, at `now`, for
 * `expectedName` (a DNS name or an IP address, matched against the SubjectAlternativeName only).
 * Synchronous. Checks, in order: CA certificate usable and currently valid, certificate parsable,
 * signed by the CA, Ed25519 subject key, validity period, key usage, CRL signature and freshness,
 * revocation, name.
 *
 * What depends only on the bytes is worked out once and kept (docs/performance.md #8): the CA
 * certificate parsed, per CA; under it, each CRL whose signature it verified, and each server
 * certificate it verifiably issued. They are found by their exact DER bytes (SHA-256 to look up,
 * then compared byte for byte), so another CA, CRL or certificate is checked from scratch. The
 * dates, the revocation of the serial by *this* CRL, and the name are checked at every call.
 */
export const verifyServerCertificate = (options: {
  readonly certificateDer: Uint8Array
  readonly caCertificateDer: Uint8Array
  readonly crlDer: Uint8Array
  readonly now: Date
  readonly expectedName: string
}): Result.Result<VerifiedServerCertificate, CertificateError> => {
  const { now } = options
  const ca = trustedCa(options.caCertificateDer)
  if (ca === undefined) return fail("CaInvalid")
  if (now < ca.validFrom) return fail("CaExpired", { problem: "CaNotYetValid", date: new Date(ca.validFrom) })
  if (now > ca.validTo) return fail("CaExpired", { date: new Date(ca.validTo) })
  const certificate = issuedCertificate(ca, options.certificateDer)
  if (typeof certificate === "string") return fail(certificate)
  if (certificate.publicKey === undefined) return fail("NotEd25519")
  if (now < certificate.validFrom) return fail("NotYetValid", { date: new Date(certificate.validFrom) })
  if (now > certificate.validTo) return fail("Expired", { date: new Date(certificate.validTo) })
  if (certificate.usage !== undefined) return fail("WrongKeyUsage", { problem: certificate.usage })
  const { serialNumber, node } = certificate
  const crl = checkCrl(options.crlDer, ca, now)
  if (crl.problem !== undefined) return fail("CrlInvalid", crl)
  if (crl.revoked.has(serialNumber)) return fail("Revoked", { name: serialNumber })
  const { expectedName } = options
  // SAN only: no fallback to the subject CN. Node throws on names it cannot parse; that is a mismatch.
  const matched = safely(() =>
    isIP(expectedName) !== 0
      ? node.checkIP(expectedName)
      : node.checkHost(expectedName, { subject: "never" }),
  )
  if (matched === undefined) return fail("NameMismatch", { name: expectedName })
  return Result.succeed({
    publicKey: certificate.publicKey.slice(),
    serialNumber,
    subject: certificate.subject,
    notAfter: new Date(certificate.validTo),
  })
}

/** The DER bytes of the first "CERTIFICATE" PEM block of `pem`, or `undefined` when there is none. */
export const certificatePemToDer = (pem: string): Uint8Array | undefined => {
  const block = decodePem(pem)
  return block?.label === "CERTIFICATE" ? block.der : undefined
}

/** DER bytes as PEM with `label` (e.g. "CERTIFICATE", "X509 CRL"). */
export const derToPem = (der: Uint8Array, label: string): string => derToPemBlock(der, label)

interface ParsedCertificate {
  readonly node: X509Certificate
  readonly peculiar: x509.X509Certificate
}

const parseCertificate = (der: Uint8Array): ParsedCertificate | undefined => {
  if (der.length > MAX_DER_BYTES) return undefined
  return safely(() => ({ node: new X509Certificate(der), peculiar: new x509.X509Certificate(der) }))
}

/** Key usage for a server: not a CA, digitalSignature, and serverAuth if an EKU is present. */
const usageProblem = ({ node, peculiar }: ParsedCertificate): CertificateProblem | undefined => {
  if (node.ca) return "IsCa"
  const keyUsage = peculiar.getExtension(x509.KeyUsagesExtension)?.usages ?? 0
  if ((keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) return "NoDigitalSignature"
  // Node's own `X509Certificate.keyUsage` lists *extended* key usage OIDs, hence @peculiar/x509 here.
  const extendedKeyUsage = peculiar.getExtension(x509.ExtendedKeyUsageExtension)?.usages
  const serverAuth = extendedKeyUsage?.includes(x509.ExtendedKeyUsage.serverAuth) ?? true
  return serverAuth ? undefined : "NoServerAuth"
}

/**
 * Values found by exact DER bytes: looked up by SHA-256, then compared byte for byte (a copy of
 * the bytes is kept: callers may reuse their buffers). At most `max` entries, oldest out first.
 */
class DerCache<V> {
  readonly #entries = new Map<string, { readonly der: Uint8Array; readonly value: V }>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** The kept value for `der`, or else `make(der)` (kept unless `undefined`). */
  get<W extends V | undefined>(der: Uint8Array, make: (der: Uint8Array) => W): V | W {
    if (der.length > MAX_DER_BYTES) return make(der) // refused unparsed by `make`; not even hashed
    const key = createHash("sha256").update(der).digest("base64")
    const found = this.#entries.get(key)
    if (found !== undefined && Buffer.compare(found.der, der) === 0) return found.value
    const value = make(der)
    if (value === undefined) return value
    this.#entries.delete(key)
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { der: Uint8Array.from(der), value })
    return value
  }
}

/** A usable CA certificate: Ed25519, CA:true. What was verified under it is kept with it. */
interface TrustedCa {
  readonly node: X509Certificate
  readonly publicKey: KeyObject
  readonly subjectName: Uint8Array
  readonly validFrom: Date
  readonly validTo: Date
  /** CRLs whose signature this CA verified. */
  readonly crls: DerCache<ParsedCrl>
  /** Certificates this CA verifiably issued. */
  readonly certificates: DerCache<IssuedByCa>
}

/** A CRL whose signature and issuer were verified; `revoked` undefined when its entries do not parse. */
interface ParsedCrl {
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  readonly revoked: ReadonlySet<string> | undefined
}

/** A certificate issued and signed by a `TrustedCa`, with its fixed facts. */
interface IssuedByCa {
  readonly node: X509Certificate
  /** Raw Ed25519 key; undefined when the subject key is not Ed25519. */
  readonly publicKey: Uint8Array | undefined
  readonly validFrom: Date
  readonly validTo: Date
  readonly usage: CertificateProblem | undefined
  readonly serialNumber: string
  readonly subject: string
}

/** CA certificates (each a trust object's) kept; a client trusts one, tests a few. */
const MAX_TRUSTED_CAS = 8
/** CRLs and server certificates kept per CA. */
const MAX_PER_CA = 16

const trustedCas = new DerCache<TrustedCa>(MAX_TRUSTED_CAS)

const trustedCa = (der: Uint8Array): TrustedCa | undefined =>
  trustedCas.get(der, (caDer): TrustedCa | undefined => {
    const ca = parseCertificate(caDer)
    if (ca === undefined || !ca.node.ca || ca.node.publicKey.asymmetricKeyType !== "ed25519") return undefined
    return {
      node: ca.node,
      publicKey: ca.node.publicKey,
      subjectName: new Uint8Array(ca.peculiar.subjectName.toArrayBuffer()),
      validFrom: ca.node.validFromDate,
      validTo: ca.node.validToDate,
      crls: new DerCache(MAX_PER_CA),
      certificates: new DerCache(MAX_PER_CA),
    }
  })

/** The certificate `der` when `ca` issued and signed it, else why not (nothing is kept then). */
const issuedCertificate = (ca: TrustedCa, der: Uint8Array): IssuedByCa | "Malformed" | "UntrustedIssuer" => {
  let refused: "Malformed" | "UntrustedIssuer" = "Malformed"
  const issued = ca.certificates.get(der, (certificateDer): IssuedByCa | undefined => {
    const certificate = parseCertificate(certificateDer)
    if (certificate === undefined) return undefined
    const { node } = certificate
    refused = "UntrustedIssuer"
    if (!node.checkIssued(ca.node) || safely(() => node.verify(ca.publicKey)) !== true) return undefined
    return {
      node,
      publicKey:
        node.publicKey.asymmetricKeyType === "ed25519" ? keyObjectRawPublicKey(node.publicKey) : undefined,
      validFrom: node.validFromDate,
      validTo: node.validToDate,
      usage: usageProblem(certificate),
      serialNumber: normalizeSerial(node.serialNumber),
      subject: node.subject,
    }
  })
  return issued ?? refused
}

type CrlCheck =
  | { readonly problem: CertificateProblem; readonly date?: Date }
  | { readonly problem?: undefined; readonly revoked: ReadonlySet<string> }

/**
 * Checks the CRL synchronously: @peculiar/x509's `X509Crl.verify` is async and its `tbs` is private,
 * so the signed TBSCertList bytes are cut out of the DER here and verified with node:crypto. The
 * parsed CRL is kept per CA once its signature verified; its dates are checked at every call.
 */
const checkCrl = (der: Uint8Array, ca: TrustedCa, now: Date): CrlCheck => {
  let problem: "CrlUnparsable" | "CrlBadSignature" = "CrlUnparsable"
  const crl = ca.crls.get(der, (crlDer): ParsedCrl | undefined => {
    const parts = crlDer.length <= MAX_DER_BYTES ? readDerSequence(crlDer) : undefined
    const parsed = safely(() => new x509.X509Crl(crlDer))
    const [tbs, algorithm] = parts ?? []
    if (parsed === undefined || parts?.length !== 3 || tbs?.tag !== 0x30) return undefined
    problem = "CrlBadSignature"
    const signed =
      algorithm !== undefined &&
      bytesEqual(algorithm.encoded, ED25519_ALGORITHM_IDENTIFIER) &&
      bytesEqual(new Uint8Array(parsed.issuerName.toArrayBuffer()), ca.subjectName) &&
      safely(() => cryptoVerify(null, tbs.encoded, ca.publicKey, new Uint8Array(parsed.signature)))
    if (signed !== true) return undefined
    return {
      thisUpdate: parsed.thisUpdate,
      nextUpdate: parsed.nextUpdate,
      revoked: safely(() => new Set(parsed.entries.map((entry) => normalizeSerial(entry.serialNumber)))),
    }
  })
  if (crl === undefined) return { problem }
  if (now < crl.thisUpdate) return { problem: "CrlNotYetValid", date: new Date(crl.thisUpdate) }
  if (crl.nextUpdate === undefined) return { problem: "CrlNoNextUpdate" }
  if (now > crl.nextUpdate) return { problem: "CrlStale", date: new Date(crl.nextUpdate) }
  return crl.revoked === undefined ? { problem: "CrlUnparsable" } : { revoked: crl.revoked }
}

const fail = (
  reason: CertificateErrorReason,
  facts: { readonly problem?: CertificateProblem; readonly date?: Date; readonly name?: string } = {},
) => Result.fail(new CertificateError({ reason, ...facts }))

/** Runs a parser or checker that reports bad input by throwing; `undefined` then. */
const safely = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}

/** 16 random bytes, top bit clear (positive) and second bit set (no leading zero byte). */
const randomSerial = (random: Random): string => {
  const bytes = random(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40
  return Buffer.from(bytes).toString("hex")
}

const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, "")

const signingKey = async (key: IdentityKeyPair): Promise<webcrypto.CryptoKey> => {
  const pkcs8 = ed25519Pkcs8Der(key.seed)
  try {
    return await webcrypto.subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"])
  } finally {
    wipe(pkcs8)
  }
}

const verifyingKey = (publicKey: Uint8Array): Promise<webcrypto.CryptoKey> =>
  webcrypto.subtle.importKey("raw", publicKey, ED25519, true, ["verify"])
