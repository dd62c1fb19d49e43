/**
 * A malicious server against identities (issue 11, docs/protocol.md §8.1, §9): with no CA key it
 * cannot make a real client accept a key the CA did not certify — not even on a first chat — nor
 * poison a `!trust`, nor pass off an uncertified, revoked or stale-listed user; and it cannot drop
 * the end of a chat unnoticed (§8.5). Real servers on our code with a lying supervisor, real
 * ClientSessions over TCP, real certificates.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { OnlineUser } from "../../src/actors/connection.events.ts"
import { acceptChatRequest, type Party } from "../../src/crypto/e2e.ts"
import { generateIdentity, type IdentityKeyPair } from "../../src/crypto/identity.ts"
import { mlKemKeyPair } from "../../src/crypto/mlkem.ts"
import {
  certificateSerialNumber,
  createCertificateAuthority,
  createCrl,
  issueUserCertificate,
} from "../../src/crypto/pki.ts"
import { systemRandom, x25519KeyPair } from "../../src/crypto/primitives.ts"
import { safetyNumber } from "../../src/crypto/safety.ts"
import { expectMessage, login } from "../../testkit/chat.ts"
import {
  type Accepted,
  dropEnvelopes,
  forgeAccept,
  injectRequest,
  userOfConnection,
} from "../../testkit/lies.ts"
import { NOW } from "../../testkit/pki.ts"
import { startTestServer, type TestServer, userKey } from "../../testkit/server.ts"
import { type Lie, lyingSupervisor } from "../../testkit/supervisors.ts"
import {
  chatStarted,
  endUiClients,
  requestAndAccept,
  type UiClient,
  uiUser,
} from "../../testkit/ui-client.ts"

const DAY = 86_400_000
const USERS = ["alice", "bob", "carol", "mallory"]
const stops: Array<() => Promise<void>> = []

afterEach(async () => {
  endUiClients()
  for (const stop of stops.splice(0)) await stop()
})

const lyingServer = async (lie: Lie, options: Parameters<typeof startTestServer>[0] = {}) => {
  const server = await startTestServer({
    users: USERS,
    machine: lyingSupervisor(lie, { anyRequest: true }),
    ...options,
  })
  stops.push(() => server.stop())
  return server
}

const party = (name: string, key: IdentityKeyPair = userKey(name)): Party => ({
  name,
  identityKey: key.publicKey,
})

/** A CA the server made itself, and a certificate from it for `name` with `key` (it has no onechat CA key). */
const forgedCertificate = async (name: string, key: IdentityKeyPair): Promise<Uint8Array> => {
  const ca = await createCertificateAuthority({
    commonName: "onechat CA",
    now: new Date(NOW.getTime() - DAY),
    validityDays: 365,
    random: systemRandom,
  })
  const issued = await issueUserCertificate({
    ca,
    name,
    subjectPublicKey: key.publicKey,
    notBefore: new Date(NOW.getTime() - DAY),
    random: systemRandom,
  })
  return issued.certificateDer
}

/** Fresh values a forged RTT carries (a real ML-KEM key, so only identity checks can refuse it). */
const requestValues = () => ({
  nonce: systemRandom(32),
  ephemeralKey: x25519KeyPair(systemRandom).publicKey,
  kemKey: mlKemKeyPair(systemRandom).encapsulationKey,
})

/**
 * A server answering alice's requests for `target` itself, through a connection it controls
 * (`impostor`), signing with the impostor's key and presenting `certificate` as the target's.
 */
const answerAs = (
  target: string,
  impostor: string,
  certificate: (server: TestServer) => Promise<Uint8Array>,
) => {
  let presented: Uint8Array | undefined
  const lie: Lie = ({ context, event, tell }) => {
    const { directory } = context
    const user = "connectionId" in event ? userOfConnection(context, event.connectionId) : undefined
    if (user === undefined) return false
    if (event.type === "CHAT_REQUESTED" && event.to === target) {
      const { nonce, ephemeralKey, kemKey } = event
      tell(directory.connectionOf(impostor), {
        type: "REQUEST_INCOMING",
        from: user,
        nonce,
        ephemeralKey,
        kemKey,
      })
      return true
    }
    if (event.type === "CHAT_ACCEPTED" && user.name === impostor && presented !== undefined) {
      const from: OnlineUser = { name: target, identityKey: user.identityKey, certificate: presented }
      const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = event
      const accepted: Accepted = {
        type: "REQUEST_ACCEPTED",
        from,
        nonce,
        ephemeralKey,
        kemCiphertext,
        signature,
        confirmation,
      }
      tell(directory.connectionOf(event.requester), accepted)
      return true
    }
    return false
  }
  /** The impostor's connection, online before the request; `accept` answers it as `target`. */
  const impostorOnline = async (server: TestServer) => {
    presented = await certificate(server)
    const link = await login(server, impostor)
    stops.push(async () => link.close())
    const accept = async () => {
      const rtt = await expectMessage(link, "Rtt")
      const acceptance = Result.getOrThrow(
        acceptChatRequest({
          random: systemRandom,
          me: { name: target, key: server.users.get(impostor)! },
          requester: party(rtt.from),
          requesterHello: rtt,
        }),
      )
      const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = acceptance
      link.send({
        type: "Accept",
        requester: rtt.from,
        nonce,
        ephemeralKey,
        kemCiphertext,
        signature,
        confirmation,
      })
    }
    return { link, accept }
  }
  return { lie, impostorOnline }
}

const expectRefusedAtAccept = async (alice: UiClient, reason: RegExp) => {
  const error = await alice.next("error")
  expect(error).toMatchObject({ code: "e2e_failed" })
  expect(error.type === "error" && error.message).toMatch(reason)
  expect(alice.count("chat_started")).toBe(0)
}

describe("a server substituting its own key for a peer on a FIRST chat (no pin anywhere)", () => {
  it("in ACCEPT, with a certificate from a CA of its own: no chat starts, alice is told why", async () => {
    const forged = answerAs("bob", "mallory", () => forgedCertificate("bob", userKey("mallory")))
    const server = await lyingServer(forged.lie)
    const alice = await uiUser(server, "alice")
    await uiUser(server, "bob")
    const { link, accept } = await forged.impostorOnline(server)
    alice.command("!request bob")
    await accept()
    await expectRefusedAtAccept(alice, /"bob" was not issued by the trusted onechat CA/)
    expect(alice.knownPeers.status("bob", userKey("mallory").publicKey)).toBe("new") // nothing pinned
    // The impostor never gets an establishment to complete: it learns no chat key.
    await expect(expectMessage(link, "CcSessionEstablishment", 500)).rejects.toThrow()
  })

  it("in ACCEPT, with another user's genuine certificate under bob's name: refused as naming another user", async () => {
    const forged = answerAs("bob", "mallory", (server) => server.pki.userCertificate("mallory"))
    const server = await lyingServer(forged.lie)
    const alice = await uiUser(server, "alice")
    await uiUser(server, "bob")
    const impostor = await forged.impostorOnline(server)
    alice.command("!request bob")
    await impostor.accept()
    await expectRefusedAtAccept(alice, /presented for user "bob"/)
  })

  it("in RTT, with a certificate from a CA of its own: bob refuses the request, alice hears the refusal", async () => {
    const serverKey = generateIdentity(systemRandom)
    const certificate = await forgedCertificate("alice", serverKey)
    const forged: Lie = ({ context, event, tell }) => {
      if (event.type !== "CHAT_REQUESTED") return false
      const outcome = context.directory.request("alice", event.to)
      if ("refused" in outcome) return false
      const from: OnlineUser = { name: "alice", identityKey: serverKey.publicKey, certificate }
      tell(outcome.target.connectionId, { type: "REQUEST_INCOMING", from, ...requestValues() })
      return true
    }
    const server = await lyingServer(forged)
    const alice = await uiUser(server, "alice")
    const bob = await uiUser(server, "bob")
    alice.command("!request bob")
    const rejected = await bob.next("request_rejected")
    expect(rejected.from).toBe("alice")
    expect(rejected.message).toMatch(/"alice" was not issued by the trusted onechat CA/)
    await alice.next("refused")
    expect(bob.count("request") + bob.count("chat_started")).toBe(0)
  })

  it("control: a server that changes only the key it keeps beside the certificate changes nothing", async () => {
    const swapKey = forgeAccept((accepted) => ({
      ...accepted,
      from: { ...accepted.from, identityKey: userKey("mallory").publicKey },
    }))
    const server = await lyingServer(swapKey)
    const alice = await uiUser(server, "alice")
    const bob = await uiUser(server, "bob")
    await chatStarted(alice, bob)
    expect(alice.events.find((e) => e.type === "chat_started")).toMatchObject({
      safety: safetyNumber(party("alice"), party("bob")),
    })
  })
})

describe("requests from users the CA did not certify, or revoked", () => {
  it("an RTT from a name the CA never certified: refused with the reason", async () => {
    const zedKey = generateIdentity(systemRandom)
    const zed: OnlineUser = {
      name: "zed",
      identityKey: zedKey.publicKey,
      certificate: await forgedCertificate("zed", zedKey),
    }
    const server = await lyingServer(
      injectRequest({
        when: ({ event }) => event.type === "LIST_REQUESTED",
        target: "bob",
        from: zed,
        values: requestValues,
      }),
    )
    const bob = await uiUser(server, "bob")
    bob.command("!list")
    const rejected = await bob.next("request_rejected")
    expect(rejected).toMatchObject({ from: "zed" })
    expect(rejected.message).toMatch(/"zed" was not issued by the trusted onechat CA/)
    expect(bob.count("request")).toBe(0)
  })

  it("an RTT from a user whose certificate the stapled CRL revokes: refused as revoked", async () => {
    const server = await lyingServer(() => false, {
      credentials: async (pki) => {
        const serial = certificateSerialNumber(await pki.userCertificate("mallory"))!
        const { crlDer } = await createCrl({
          ca: pki.ca,
          revokedSerials: [serial],
          thisUpdate: new Date(NOW.getTime() - DAY),
          nextUpdate: new Date(NOW.getTime() + 7 * DAY),
        })
        return { ...pki.server, crlDer }
      },
    })
    // The server still lets mallory in (it lies about its registry) and relays her request.
    const mallory = await uiUser(server, "mallory")
    const bob = await uiUser(server, "bob")
    mallory.command("!request bob")
    const rejected = await bob.next("request_rejected")
    expect(rejected.message).toMatch(/"mallory" \(serial [0-9a-f]+\) has been revoked/)
    await mallory.next("refused")
  })

  it("a peer checked after the client's only CRL went stale: refused until a fresh CRL is had", async () => {
    const server = await lyingServer(() => false)
    const alice = await uiUser(server, "alice")
    // bob logged in at NOW; his peer checks run 31 days later, past the stapled CRL's nextUpdate.
    const bob = await uiUser(server, "bob", { now: () => new Date(NOW.getTime() + 31 * DAY) })
    alice.command("!request bob")
    const rejected = await bob.next("request_rejected")
    expect(rejected.message).toMatch(/out of date/)
    await alice.next("refused")
  })
})

describe("the !trust injection (review, shared/reviews/repro/trust-toctou.mts)", () => {
  /** alice re-keyed (the CA certified her new key); bob pinned her old one. */
  const rekeyed = async (lie: Lie) => {
    const server = await lyingServer(lie)
    const newKey = generateIdentity(systemRandom)
    server.users.set("alice", newKey)
    const alice = await uiUser(server, "alice", { key: newKey })
    const bob = await uiUser(server, "bob", { pins: { alice: userKey("alice").publicKey } })
    return { server, newKey, alice, bob }
  }
  const serverKey = generateIdentity(systemRandom)
  const injected = async (): Promise<OnlineUser> => ({
    name: "zed",
    identityKey: serverKey.publicKey,
    certificate: await forgedCertificate("zed", serverKey),
  })

  it("accepter: an RTT injected while bob decides is ignored and shown; !trust pins alice's new key", async () => {
    const from = await injected()
    const { newKey, alice, bob } = await rekeyed(
      injectRequest({
        when: ({ event }) => event.type === "LIST_REQUESTED",
        target: "bob",
        from,
        values: requestValues,
      }),
    )
    alice.command("!request bob")
    const changed = await bob.next("key_changed")
    expect(changed.safety).toBe(safetyNumber(party("bob"), party("alice", newKey)))
    await bob.next("request")
    bob.command("!list") // the server injects zed's RTT now
    expect(await bob.next("request_ignored")).toMatchObject({ from: "zed" })
    bob.command("!trust") // without the number: refused
    expect(await bob.next("error")).toMatchObject({ code: "trust_needs_number" })
    bob.command(`!trust ${changed.safety}`)
    await bob.next("trusted")
    bob.command("!accept")
    await bob.next("chat_started")
    await alice.next("chat_started")
    await expect.poll(() => bob.knownPeers.status("alice", newKey.publicKey)).toBe("known")
    expect(bob.knownPeers.status("alice", serverKey.publicKey)).toBe("changed")
  })

  it("requester: the same while alice decides on bob's changed key after ACCEPT", async () => {
    const from = await injected()
    const server = await lyingServer(
      injectRequest({
        when: ({ event }) => event.type === "LIST_REQUESTED",
        target: "alice",
        from,
        values: requestValues,
      }),
    )
    const bobNew = generateIdentity(systemRandom)
    server.users.set("bob", bobNew)
    const alice = await uiUser(server, "alice", { pins: { bob: userKey("bob").publicKey } })
    const bob = await uiUser(server, "bob", { key: bobNew })
    await requestAndAccept(alice, bob)
    const changed = await alice.next("key_changed")
    alice.command("!list")
    expect(await alice.next("request_ignored")).toMatchObject({ from: "zed" })
    alice.command(`!trust ${changed.safety}`)
    await alice.next("trusted")
    await alice.next("chat_started")
    await bob.next("chat_started")
    await expect.poll(() => alice.knownPeers.status("bob", bobNew.publicKey)).toBe("known")
  })

  it("requester: an RTT 'from bob' after bob's ACCEPT does not reset the pending decision", async () => {
    // Not a crossed request any more (bob already answered): the injected RTT, with bob's genuine
    // certificate and fresh values, must neither replace the conversation nor its ACCEPT.
    const bobNew = generateIdentity(systemRandom)
    let bobNow: OnlineUser | undefined
    const server = await lyingServer(
      injectRequest({
        when: ({ event }) => event.type === "LIST_REQUESTED",
        target: "alice",
        get from() {
          return bobNow!
        },
        values: requestValues,
      }),
    )
    server.users.set("bob", bobNew)
    bobNow = {
      name: "bob",
      identityKey: bobNew.publicKey,
      certificate: await server.pki.userCertificate("bob", bobNew.publicKey),
    }
    const alice = await uiUser(server, "alice", { pins: { bob: userKey("bob").publicKey } })
    const bob = await uiUser(server, "bob", { key: bobNew })
    await requestAndAccept(alice, bob)
    const changed = await alice.next("key_changed")
    alice.command("!list")
    expect(await alice.next("request_ignored")).toMatchObject({ from: "bob" })
    alice.command(`!trust ${changed.safety}`)
    await alice.next("chat_started")
    await bob.next("chat_started")
    expect(alice.count("request")).toBe(0)
  })

  it("a number that is not the one of the key shown pins nothing and starts no chat", async () => {
    const { newKey, alice, bob } = await rekeyed(() => false)
    alice.command("!request bob")
    await bob.next("key_changed")
    await bob.next("request")
    bob.command(`!trust ${safetyNumber(party("bob"), { name: "alice", identityKey: serverKey.publicKey })}`)
    expect(await bob.next("error")).toMatchObject({ code: "trust_mismatch" })
    bob.command("!accept")
    expect(await bob.next("error")).toMatchObject({ code: "key_changed" })
    expect(bob.knownPeers.status("alice", newKey.publicKey)).toBe("changed")
    expect(bob.count("trusted") + bob.count("chat_started")).toBe(0)
  })
})

describe("a server that drops the end of a chat (§8.5)", () => {
  const twoMessagesThenQuit = async (alice: UiClient, bob: UiClient) => {
    await chatStarted(alice, bob)
    alice.command("first")
    alice.command("second")
    alice.command("!quit")
    await alice.next("chat_ended")
  }

  it("drops alice's last message but relays her goodbye: bob is told one of two was lost", async () => {
    const server = await lyingServer(dropEnvelopes("alice", (index) => index !== 1))
    const alice = await uiUser(server, "alice")
    const bob = await uiUser(server, "bob")
    await twoMessagesThenQuit(alice, bob)
    expect(await bob.next("messages_lost")).toMatchObject({ peer: "alice", sent: 2, received: 1 })
    await bob.next("peer_left")
  })

  it("drops her last message and the goodbye: bob is told messages may have been lost", async () => {
    const server = await lyingServer(dropEnvelopes("alice", (index) => index === 0))
    const alice = await uiUser(server, "alice")
    const bob = await uiUser(server, "bob")
    await twoMessagesThenQuit(alice, bob)
    expect(await bob.next("messages_lost")).toMatchObject({ peer: "alice", sent: null, received: 1 })
    await bob.next("peer_left")
  })

  it("control: an honest server relays everything; no loss is reported", async () => {
    const server = await lyingServer(() => false)
    const alice = await uiUser(server, "alice")
    const bob = await uiUser(server, "bob")
    await twoMessagesThenQuit(alice, bob)
    expect((await bob.next("message")).text).toBe("first")
    expect((await bob.next("message")).text).toBe("second")
    await bob.next("peer_left")
    expect(bob.count("messages_lost")).toBe(0)
  })
})
