/**
 * Who a chat peer is, decided by the client alone: the certificate the server relayed in RTT or
 * ACCEPT must chain to the client's CA, name the peer, be in date and not be revoked by any valid
 * CRL the client holds (the one the server stapled at login and its own copy). The server cannot
 * make a client accept a key the CA did not certify. The pin is the session's second line
 * (session.ts, known-peers.ts). Pure. docs/protocol.md §8.1.
 */
import { Result } from "effect"
import type { Party } from "../crypto/e2e.ts"
import type { CertificateError } from "../crypto/pki.ts"
import { verifyUserCertificate } from "../crypto/pki-check.ts"

/** What the client trusts to judge peers: the CA certificate and every CRL it holds. */
export interface PeerTrust {
  readonly caCertificateDer: Uint8Array
  /** The CRL stapled at login (already checked fresh) and the client's own copy, when present. */
  readonly crls: ReadonlyArray<Uint8Array>
  readonly now: () => Date
}

/** A peer whose certificate verified: the key the agreement must be signed with. */
export interface CertifiedPeer extends Party {
  readonly certificate: Uint8Array
}

/**
 * Verifies `certificate` for user `name` against every CRL: it must verify with at least one, and a
 * revocation in any valid CRL wins (a server stapling an older CRL cannot hide a newer revocation).
 */
export const verifyPeer = (
  trust: PeerTrust,
  name: string,
  certificate: Uint8Array,
): Result.Result<CertifiedPeer, CertificateError> => {
  const now = trust.now()
  const crls = trust.crls.length > 0 ? trust.crls : [new Uint8Array(0)]
  let verified: CertifiedPeer | undefined
  let firstFailure: CertificateError | undefined
  for (const crlDer of crls) {
    const outcome = verifyUserCertificate({
      certificateDer: certificate,
      caCertificateDer: trust.caCertificateDer,
      crlDer,
      now,
      expectedName: name,
    })
    if (Result.isFailure(outcome)) {
      if (outcome.failure.reason === "Revoked") return Result.fail(outcome.failure)
      firstFailure ??= outcome.failure
    } else {
      verified ??= { name, identityKey: outcome.success.publicKey, certificate: Uint8Array.from(certificate) }
    }
  }
  if (verified !== undefined) return Result.succeed(verified)
  return Result.fail(firstFailure!)
}
