/**
 * A development PKI for tests: CA, server identity and certificate for "localhost"/127.0.0.1, and
 * an empty CRL, all from seeded randomness so every run builds the same keys.
 */

import type { ClientTrust } from "../../src/crypto/handshake-client.ts"
import type { ServerCredentials } from "../../src/crypto/handshake-server.ts"
import { generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { createCertificateAuthority, createCrl, issueServerCertificate } from "../../src/crypto/pki.ts"
import { seededRandom } from "./random.ts"

export const NOW = new Date("2026-06-01T12:00:00Z")
const DAY = 86_400_000

export interface TestPki {
  readonly caCertificateDer: Uint8Array
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
  return {
    caCertificateDer: ca.certificateDer,
    crlDer,
    server,
    otherServer: other,
    trust: { caCertificateDer: ca.certificateDer, now: NOW, expectedServerName: "localhost" },
  }
}
