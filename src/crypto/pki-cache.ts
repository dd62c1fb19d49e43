/**
 * The byte-level half of onechat's certificate checks, shared by verifyServerCertificate and
 * verifyUserCertificate (./pki-check.ts): a trusted CA parsed once, the certificates it verifiably
 * issued and the CRLs it verifiably signed, each kept by its exact DER bytes (docs/performance.md
 * #8). Pure and synchronous: no I/O, no clock (dates are compared by the callers), no key bytes in
 * any result. docs/protocol.md §3.2 (server certificate), §8.3 (user identity certificates).
 */
import "reflect-metadata"
import { createHash, verify as cryptoVerify, type KeyObject, webcrypto, X509Certificate } from "node:crypto"
import * as x509 from "@peculiar/x509"
import { keyObjectRawPublicKey, readDerSequence } from "./identity.ts"
import { bytesEqual } from "./primitives.ts"

x509.cryptoProvider.set(webcrypto)

/** DER of AlgorithmIdentifier { id-Ed25519 } (RFC 8410): the only signature algorithm accepted. */
const ED25519_ALGORITHM_IDENTIFIER = Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70])
/** Certificates and CRLs larger than this are refused unparsed. */
export const MAX_DER_BYTES = 64 * 1024

interface ParsedCertificate {
  readonly node: X509Certificate
  readonly peculiar: x509.X509Certificate
}

export const parseCertificate = (der: Uint8Array): ParsedCertificate | undefined => {
  if (der.length > MAX_DER_BYTES) return undefined
  return safely(() => ({ node: new X509Certificate(der), peculiar: new x509.X509Certificate(der) }))
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
export interface TrustedCa {
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
export interface ParsedCrl {
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  readonly revoked: ReadonlySet<string> | undefined
}

/** A certificate issued and signed by a `TrustedCa`, with its fixed facts (no dates checked yet). */
export interface IssuedByCa {
  readonly node: X509Certificate
  /** Raw Ed25519 key; undefined when the subject key is not Ed25519. */
  readonly publicKey: Uint8Array | undefined
  readonly validFrom: Date
  readonly validTo: Date
  readonly isCa: boolean
  /** keyUsage bits (0 when the extension is absent). */
  readonly keyUsage: number
  /** extendedKeyUsage OIDs; undefined when the extension is absent. */
  readonly extendedKeyUsage: ReadonlyArray<string> | undefined
  /** The subjectAltName URIs (user certificates carry `onechat:user:NAME`). */
  readonly uris: ReadonlyArray<string>
  /** The subjectAltName DNS names and IP addresses (a server certificate's hosts), in order. */
  readonly hostNames: ReadonlyArray<string>
  /** The subject's common names. */
  readonly commonNames: ReadonlyArray<string>
  readonly serialNumber: string
  readonly subject: string
}

/** CA certificates (each a trust object's) kept; a client trusts one, tests a few. */
const MAX_TRUSTED_CAS = 8
/** CRLs kept per CA. */
const MAX_CRLS_PER_CA = 16
/** Certificates kept per CA: a server checks every user's at login, a client its peers'. */
const MAX_CERTIFICATES_PER_CA = 4_096

const trustedCas = new DerCache<TrustedCa>(MAX_TRUSTED_CAS)

/** The CA certificate `der` parsed, or `undefined` when it is not an Ed25519 CA certificate. */
export const trustedCa = (der: Uint8Array): TrustedCa | undefined =>
  trustedCas.get(der, (caDer): TrustedCa | undefined => {
    const ca = parseCertificate(caDer)
    if (ca === undefined || !ca.node.ca || ca.node.publicKey.asymmetricKeyType !== "ed25519") return undefined
    return {
      node: ca.node,
      publicKey: ca.node.publicKey,
      subjectName: new Uint8Array(ca.peculiar.subjectName.toArrayBuffer()),
      validFrom: ca.node.validFromDate,
      validTo: ca.node.validToDate,
      crls: new DerCache(MAX_CRLS_PER_CA),
      certificates: new DerCache(MAX_CERTIFICATES_PER_CA),
    }
  })

/** The certificate `der` when `ca` issued and signed it, else why not (nothing is kept then). */
export const issuedCertificate = (
  ca: TrustedCa,
  der: Uint8Array,
): IssuedByCa | "Malformed" | "UntrustedIssuer" => {
  let refused: "Malformed" | "UntrustedIssuer" = "Malformed"
  const issued = ca.certificates.get(der, (certificateDer): IssuedByCa | undefined => {
    const certificate = parseCertificate(certificateDer)
    if (certificate === undefined) return undefined
    const { node, peculiar } = certificate
    refused = "UntrustedIssuer"
    if (!node.checkIssued(ca.node) || safely(() => node.verify(ca.publicKey)) !== true) return undefined
    const facts = safely(() => extensionFacts(peculiar))
    if (facts === undefined) {
      refused = "Malformed"
      return undefined
    }
    return {
      node,
      publicKey:
        node.publicKey.asymmetricKeyType === "ed25519" ? keyObjectRawPublicKey(node.publicKey) : undefined,
      validFrom: node.validFromDate,
      validTo: node.validToDate,
      isCa: node.ca,
      ...facts,
      serialNumber: normalizeSerial(node.serialNumber),
      subject: node.subject,
    }
  })
  return issued ?? refused
}

// Node's own `X509Certificate.keyUsage` lists *extended* key usage OIDs, hence @peculiar/x509 here.
const extensionFacts = (peculiar: x509.X509Certificate) => {
  const altNames = peculiar.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []
  return {
    keyUsage: peculiar.getExtension(x509.KeyUsagesExtension)?.usages ?? 0,
    extendedKeyUsage: peculiar.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
    uris: altNames.filter((name) => name.type === "url").map((name) => name.value),
    hostNames: altNames.filter((name) => name.type === "dns" || name.type === "ip").map((name) => name.value),
    commonNames: peculiar.subjectName.getField("CN"),
  }
}

export type CrlProblem =
  | "CrlUnparsable"
  | "CrlBadSignature"
  | "CrlNotYetValid"
  | "CrlNoNextUpdate"
  | "CrlStale"

export type CrlCheck =
  | { readonly problem: CrlProblem; readonly date?: Date }
  | { readonly problem?: undefined; readonly revoked: ReadonlySet<string>; readonly thisUpdate: Date }

/**
 * Checks the CRL synchronously: @peculiar/x509's `X509Crl.verify` is async and its `tbs` is private,
 * so the signed TBSCertList bytes are cut out of the DER here and verified with node:crypto. The
 * parsed CRL is kept per CA once its signature verified; its dates are checked at every call.
 */
export const checkCrl = (der: Uint8Array, ca: TrustedCa, now: Date): CrlCheck => {
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
  return crl.revoked === undefined
    ? { problem: "CrlUnparsable" }
    : { revoked: crl.revoked, thisUpdate: crl.thisUpdate }
}

/** Lowercase hex without leading zeros: how serial numbers are compared everywhere. */
export const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, "")

/** Runs a parser or checker that reports bad input by throwing; `undefined` then. */
export const safely = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}
