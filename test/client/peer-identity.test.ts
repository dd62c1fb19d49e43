/**
 * The client's judgement of a chat peer (src/client/peer-identity.ts, docs/protocol.md §8.1): the
 * certificate the server relays must verify against the client's CA for the peer's name with at
 * least one valid CRL, and a revocation in ANY valid CRL wins (an older stapled CRL cannot hide a
 * revocation the client's own copy lists).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { verifyPeer } from "../../src/client/peer-identity.ts"
import { generateIdentity } from "../../src/crypto/identity.ts"
import { createCertificateAuthority, createCrl, issueUserCertificate } from "../../src/crypto/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

const NOW = new Date("2026-06-01T12:00:00Z")
const DAY = 86_400_000
const at = (days: number) => new Date(NOW.getTime() + days * DAY)

const setup = async () => {
  const random = seededRandom("peer-identity")
  const ca = await createCertificateAuthority({
    commonName: "test CA",
    now: at(-10),
    validityDays: 3650,
    random,
  })
  const other = await createCertificateAuthority({
    commonName: "other CA",
    now: at(-10),
    validityDays: 3650,
    random,
  })
  const aliceKey = generateIdentity(random)
  const issue = (authority: typeof ca, name: string, notAfter = at(300)) =>
    issueUserCertificate({
      ca: authority,
      name,
      subjectPublicKey: aliceKey.publicKey,
      notBefore: at(-1),
      notAfter,
      random,
    })
  const alice = await issue(ca, "alice")
  const crl = (revokedSerials: ReadonlyArray<string>, thisUpdate = at(-1), nextUpdate = at(6)) =>
    createCrl({ ca, revokedSerials, thisUpdate, nextUpdate }).then((made) => made.crlDer)
  return { ca, other, aliceKey, alice, issue, crl }
}

const trust = (caCertificateDer: Uint8Array, crls: ReadonlyArray<Uint8Array>, now = NOW) => ({
  caCertificateDer,
  crls,
  now: () => now,
})

describe("verifyPeer", () => {
  it("accepts alice's certificate and yields the key it certifies", async () => {
    const { ca, aliceKey, alice, crl } = await setup()
    const peer = Result.getOrThrow(
      verifyPeer(trust(ca.certificateDer, [await crl([])]), "alice", alice.certificateDer),
    )
    expect(peer.name).toBe("alice")
    expect(Buffer.from(peer.identityKey).equals(Buffer.from(aliceKey.publicKey))).toBe(true)
  })

  it("refuses, each with its sentence: another CA, another name, expired, no CRL, only a stale CRL", async () => {
    const { ca, other, alice, issue, crl } = await setup()
    const fresh = await crl([])
    const refusal = (name: string, der: Uint8Array, crls: ReadonlyArray<Uint8Array>, now = NOW) => {
      const outcome = verifyPeer(trust(ca.certificateDer, crls, now), name, der)
      return Result.isFailure(outcome) ? outcome.failure.message : "accepted"
    }
    expect(refusal("alice", (await issue(other, "alice")).certificateDer, [fresh])).toMatch(
      /presented for user "alice" was not issued by the trusted onechat CA/,
    )
    expect(refusal("bob", alice.certificateDer, [fresh])).toMatch(/user "bob"/)
    expect(refusal("alice", (await issue(ca, "alice", at(1))).certificateDer, [fresh], at(2))).toMatch(
      /expired|out of date/,
    )
    expect(refusal("alice", alice.certificateDer, [])).not.toBe("accepted")
    expect(refusal("alice", alice.certificateDer, [await crl([], at(-20), at(-2))])).toMatch(/out of date/)
  })

  it("refuses a revoked certificate when either CRL lists it, even if the other (older) does not", async () => {
    const { ca, alice, crl } = await setup()
    const older = await crl([], at(-3), at(4))
    const newer = await crl([alice.serialNumber], at(-1), at(6))
    for (const crls of [[older, newer], [newer, older], [newer]]) {
      const outcome = verifyPeer(trust(ca.certificateDer, crls), "alice", alice.certificateDer)
      expect(Result.isFailure(outcome) && outcome.failure.message).toMatch(/revoked/)
    }
    expect(
      Result.isSuccess(verifyPeer(trust(ca.certificateDer, [older]), "alice", alice.certificateDer)),
    ).toBe(true)
  })
})
