/**
 * Certificates a client must refuse, as cases shared by the malicious-server tests and the attack
 * table: each sets up the credentials a hostile server presents and what the client trusts, and
 * names the sentence the refusal must contain. Built on the test PKI and a hostile CA of its own.
 */
import type { ServerCredentials } from "../src/crypto/handshake-server.ts"
import { generateIdentity } from "../src/crypto/identity.ts"
import { createCertificateAuthority, createCrl, issueServerCertificate } from "../src/crypto/pki.ts"
import { makeTestPki, NOW } from "./pki.ts"
import { seededRandom } from "./random.ts"

/** What the client trusts: the CA, and its own copy of the CRL when it has one. */
export interface Trust {
  readonly caCertificateDer: Uint8Array
  readonly localCrlDer?: Uint8Array
}

const DAY = 86_400_000
/** The test clock's now, moved by `n` days. */
export const days = (n: number) => new Date(NOW.getTime() + n * DAY)

/** A CA the client trusts in these cases, and a server key it certifies. */
export const hostilePki = async () => {
  const random = seededRandom("hostile-server-pki")
  const ca = await createCertificateAuthority({
    commonName: "onechat hostile-server test CA",
    now: days(-30),
    validityDays: 3650,
    random,
  })
  const key = generateIdentity(random)
  const certificate = (validity: { readonly notBefore: Date; readonly notAfter: Date }) =>
    issueServerCertificate({
      ca,
      subjectPublicKey: key.publicKey,
      commonName: "localhost",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      random,
      ...validity,
    })
  const crl = async (revokedSerials: ReadonlyArray<string>, nextUpdate = days(30), thisUpdate = days(-1)) =>
    (await createCrl({ ca, revokedSerials, thisUpdate, nextUpdate })).crlDer
  const valid = await certificate({ notBefore: days(-1), notAfter: days(365) })
  return { ca, key, certificate, crl, valid }
}

export interface CertificateCase {
  readonly what: string
  readonly setUp: () => Promise<{
    readonly credentials: ServerCredentials
    readonly trust: Trust
  }>
  readonly refusal: RegExp
}

const testPki = () => makeTestPki()
export const certificateCases: ReadonlyArray<CertificateCase> = [
  {
    what: "a valid certificate of the same CA for another name",
    setUp: async () => {
      const pki = await testPki()
      return { credentials: pki.otherServer, trust: { caCertificateDer: pki.caCertificateDer } }
    },
    refusal: /does not name "localhost": it is valid for other\.example only/,
  },
  {
    what: "a certificate for the right name from another CA",
    setUp: async () => ({
      credentials: (await makeTestPki("other")).server,
      trust: { caCertificateDer: (await testPki()).caCertificateDer },
    }),
    refusal: /not issued by the trusted onechat CA/,
  },
  {
    what: "the genuine certificate, without its private key",
    setUp: async () => {
      const pki = await testPki()
      const credentials = { ...pki.server, key: generateIdentity(seededRandom("impostor")) }
      return { credentials, trust: { caCertificateDer: pki.caCertificateDer } }
    },
    refusal: /server's signature over the login transcript is invalid/,
  },
  {
    what: "an expired certificate",
    setUp: async () => {
      const pki = await hostilePki()
      const expired = await pki.certificate({ notBefore: days(-400), notAfter: days(-1) })
      const credentials = { certificateDer: expired.certificateDer, crlDer: await pki.crl([]), key: pki.key }
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer } }
    },
    refusal: /expired at 2026-05-31/,
  },
  {
    what: "a certificate not valid yet",
    setUp: async () => {
      const pki = await hostilePki()
      const early = await pki.certificate({ notBefore: days(1), notAfter: days(400) })
      const credentials = { certificateDer: early.certificateDer, crlDer: await pki.crl([]), key: pki.key }
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer } }
    },
    refusal: /not valid before 2026-06-02/,
  },
  {
    what: "a revoked certificate (the stapled CRL lists its serial)",
    setUp: async () => {
      const pki = await hostilePki()
      const crlDer = await pki.crl([pki.valid.serialNumber])
      const credentials = { certificateDer: pki.valid.certificateDer, crlDer, key: pki.key }
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer } }
    },
    refusal: /\(serial [0-9a-f]+\) has been revoked by the onechat CA/,
  },
  {
    what: "a revoked certificate with the CRL left out (the client's own CRL lists it)",
    setUp: async () => {
      const pki = await hostilePki()
      const credentials = {
        certificateDer: pki.valid.certificateDer,
        crlDer: new Uint8Array(0),
        key: pki.key,
      }
      const localCrlDer = await pki.crl([pki.valid.serialNumber])
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer, localCrlDer } }
    },
    refusal: /has been revoked/,
  },
  {
    what: "no CRL at all (none stapled, none known to the client)",
    setUp: async () => {
      const pki = await hostilePki()
      const credentials = {
        certificateDer: pki.valid.certificateDer,
        crlDer: new Uint8Array(0),
        key: pki.key,
      }
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer } }
    },
    refusal: /not trusted\. No certificate revocation list/,
  },
  {
    what: "a stale CRL (past its next update)",
    setUp: async () => {
      const pki = await hostilePki()
      const crlDer = await pki.crl([], days(-1))
      const credentials = { certificateDer: pki.valid.certificateDer, crlDer, key: pki.key }
      return { credentials, trust: { caCertificateDer: pki.ca.certificateDer } }
    },
    refusal: /out of date/,
  },
]
