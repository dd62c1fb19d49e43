/**
 * onechat's PKI, issuing: a self-signed Ed25519 CA, server certificates, user identity
 * certificates and CRLs (created with @peculiar/x509 over WebCrypto), and PEM helpers. Checking
 * them is ./pki-check.ts. Pure: no file or network I/O; time and randomness are injected.
 * docs/protocol.md §3.2 (server), §8.3 (user identity certificates).
 */
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import { isIP } from "node:net"
import * as x509 from "@peculiar/x509"
import { isValidUserName } from "../protocol/names.ts"
import {
  decodePem,
  derToPemBlock,
  ed25519Pkcs8Der,
  generateIdentity,
  type IdentityKeyPair,
} from "./identity.ts"
import { normalizeSerial, safely } from "./pki-cache.ts"
import type { Random } from "./primitives.ts"
import { wipe } from "./primitives.ts"

export { MAX_DER_BYTES } from "./pki-cache.ts"
export { CertificateError, type CertificateErrorReason, type CertificateProblem } from "./pki-error.ts"

x509.cryptoProvider.set(webcrypto)

const ED25519 = { name: "Ed25519" } as const
const DAY_MS = 86_400_000
/** A user identity certificate lasts this long unless told otherwise. */
export const USER_CERTIFICATE_VALIDITY_DAYS = 365
/** The subjectAltName URI prefix of a user identity certificate: `onechat:user:NAME`. */
export const USER_URI_PREFIX = "onechat:user:"

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
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new RangeError("A server certificate needs at least one name")
  }
  if (ipAddresses.some((ip) => isIP(ip) === 0)) {
    throw new RangeError("ipAddresses must be IPv4 or IPv6 addresses")
  }
  const extendedKeyUsage = options.extendedKeyUsage ?? [x509.ExtendedKeyUsage.serverAuth]
  return issueLeaf({
    ca,
    subjectPublicKey,
    commonName: options.commonName,
    notBefore,
    notAfter,
    random: options.random,
    keyUsage: options.keyUsage ?? x509.KeyUsageFlags.digitalSignature,
    extensions: [
      ...(extendedKeyUsage.length > 0
        ? [new x509.ExtendedKeyUsageExtension([...extendedKeyUsage], false)]
        : []),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
    ],
  })
}

/**
 * A leaf certificate signed by `ca` (CA:false, critical; the key usage given, critical; subject
 * and authority key identifiers; a random positive 16-byte serial) with `extensions` added.
 * Throws `RangeError` on a key that is not a raw Ed25519 key or dates in the wrong order.
 */
const issueLeaf = async (options: {
  readonly ca: CertificateAuthority
  readonly subjectPublicKey: Uint8Array
  readonly commonName: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly random: Random
  readonly keyUsage: x509.KeyUsageFlags
  readonly extensions: ReadonlyArray<x509.Extension>
}): Promise<IssuedCertificate> => {
  const { ca, subjectPublicKey, notBefore, notAfter } = options
  if (subjectPublicKey.length !== 32) {
    throw new RangeError("subjectPublicKey must be a raw 32-byte Ed25519 key")
  }
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError("notAfter must be later than notBefore")
  const caCertificate = new x509.X509Certificate(ca.certificateDer)
  const publicKey = await verifyingKey(subjectPublicKey)
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
      new x509.KeyUsagesExtension(options.keyUsage, true),
      ...options.extensions,
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

/**
 * Issues user `name`'s identity certificate signed by `ca`: subject CN=name, subjectAltName URI
 * `onechat:user:NAME` (the name clients check), keyUsage digitalSignature (critical),
 * extendedKeyUsage clientAuth, CA:false, a random positive 16-byte serial. `notAfter` defaults to
 * `notBefore` + 365 days. Throws `RangeError` on an invalid name, key or dates (programming errors).
 */
export const issueUserCertificate = async (options: {
  readonly ca: CertificateAuthority
  readonly name: string
  /** Raw 32-byte Ed25519 key of the user. */
  readonly subjectPublicKey: Uint8Array
  readonly notBefore: Date
  readonly notAfter?: Date
  readonly random: Random
}): Promise<IssuedCertificate> => {
  const { ca, name, subjectPublicKey, notBefore } = options
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + USER_CERTIFICATE_VALIDITY_DAYS * DAY_MS)
  if (!isValidUserName(name)) throw new RangeError("name must be a valid onechat user name")
  return issueLeaf({
    ca,
    subjectPublicKey,
    commonName: name,
    notBefore,
    notAfter,
    random: options.random,
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extensions: [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `${USER_URI_PREFIX}${name}` }], true),
    ],
  })
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

/** The serial number (lowercase hex, no leading zeros) of a certificate, or `undefined` when unparsable. */
export const certificateSerialNumber = (certificateDer: Uint8Array): string | undefined =>
  safely(() => normalizeSerial(new x509.X509Certificate(certificateDer).serialNumber))

/** The DER bytes of the first "CERTIFICATE" PEM block of `pem`, or `undefined` when there is none. */
export const certificatePemToDer = (pem: string): Uint8Array | undefined => {
  const block = decodePem(pem)
  return block?.label === "CERTIFICATE" ? block.der : undefined
}

/** DER bytes as PEM with `label` (e.g. "CERTIFICATE", "X509 CRL"). */
export const derToPem = (der: Uint8Array, label: string): string => derToPemBlock(der, label)

/** 16 random bytes, top bit clear (positive) and second bit set (no leading zero byte). */
const randomSerial = (random: Random): string => {
  const bytes = random(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40
  return Buffer.from(bytes).toString("hex")
}

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
