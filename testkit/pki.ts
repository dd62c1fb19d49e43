/**
 * A development PKI for tests: CA, server identity and certificate for "localhost"/127.0.0.1, an
 * empty CRL, and user identity certificates on demand (`userCertificate`, kept per name and key),
 * all from seeded randomness so every run builds the same keys and certificates.
 */

import type { ClientTrust } from "../src/crypto/handshake-client.ts"
import type { ServerCredentials } from "../src/crypto/handshake-server.ts"
import { generateIdentity, type IdentityKeyPair } from "../src/crypto/identity.ts"
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createCrl,
  issueServerCertificate,
  issueUserCertificate,
} from "../src/crypto/pki.ts"
import { seededRandom } from "./random.ts"

export const NOW = new Date("2026-06-01T12:00:00Z")
const DAY = 86_400_000

/** The deterministic identity key of test user `name`. */
export const userKey = (name: string): IdentityKeyPair => generateIdentity(seededRandom(`user-${name}`))

export interface TestPki {
  /** The CA itself (its key too), for tests that issue their own certificates. */
  readonly ca: CertificateAuthority
  readonly caCertificateDer: Uint8Array
  /**
   * User `name`'s identity certificate (DER) for `publicKey` (default: `userKey(name)`), valid a
   * year around NOW; the same bytes for the same name and key every time.
   */
  userCertificate(name: string, publicKey?: Uint8Array): Promise<Uint8Array>
  readonly crlDer: Uint8Array
  readonly server: ServerCredentials
  /** A second, valid server of the same CA under another name. */
  readonly otherServer: ServerCredentials
  readonly trust: ClientTrust
}

export const makeTestPki = async (seed = "pki"): Promise<TestPki> => {
  const random = seededRandom(seed)
  const ca = await createCertificateAuthority({
    commonName: "onechat test CA",
    now: NOW,
    validityDays: 3650,
    random,
  })
  const issue = async (key: IdentityKeyPair, name: string) =>
    issueServerCertificate({
      ca,
      subjectPublicKey: key.publicKey,
      commonName: name,
      dnsNames: [name],
      ipAddresses: name === "localhost" ? ["127.0.0.1"] : [],
      notBefore: new Date(NOW.getTime() - DAY),
      notAfter: new Date(NOW.getTime() + 365 * DAY),
      random,
    })
  const serverKey = generateIdentity(random)
  const otherKey = generateIdentity(random)
  const { crlDer } = await createCrl({
    ca,
    revokedSerials: [],
    thisUpdate: new Date(NOW.getTime() - DAY),
    nextUpdate: new Date(NOW.getTime() + 30 * DAY),
  })
  const server = {
    certificateDer: (await issue(serverKey, "localhost")).certificateDer,
    crlDer,
    key: serverKey,
  }
  const other = {
    certificateDer: (await issue(otherKey, "other.example")).certificateDer,
    crlDer,
    key: otherKey,
  }
  const issued = new Map<string, Promise<Uint8Array>>()
  const userCertificate = (name: string, publicKey = userKey(name).publicKey): Promise<Uint8Array> => {
    const id = `${name}/${Buffer.from(publicKey).toString("hex")}`
    let certificate = issued.get(id)
    if (certificate === undefined) {
      certificate = issueUserCertificate({
        ca,
        name,
        subjectPublicKey: publicKey,
        notBefore: new Date(NOW.getTime() - DAY),
        random: seededRandom(`certificate-${id}`),
      }).then((result) => result.certificateDer)
      issued.set(id, certificate)
    }
    return certificate
  }
  return {
    ca,
    userCertificate,
    caCertificateDer: ca.certificateDer,
    crlDer,
    server,
    otherServer: other,
    trust: { caCertificateDer: ca.certificateDer, now: NOW, expectedServerName: "localhost" },
  }
}
