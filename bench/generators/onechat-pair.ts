/**
 * Onechat clients for the loads: log a benchmark user in with the real client link (login 1.0–1.3),
 * and open a chatting pair with the real end-to-end agreement (RTT → ACCEPT →
 * CC_SESSION_ESTABLISHMENT: peer certificates checked, hybrid X25519 + ML-KEM-768, docs/protocol.md
 * §8). Lanes seal with the sender's ChatChannel (Double Ratchet) before a burst and open every
 * received envelope with the receiver's after it: no crypto inside the timed window.
 */
import { Result } from "effect"
import { type ClientLink, connectLink } from "../../src/client/link.ts"
import { verifyPeer } from "../../src/client/peer-identity.ts"
import { ChatChannel } from "../../src/crypto/chat-channel.ts"
import {
  acceptChatRequest,
  completeChatAcceptance,
  completeChatRequest,
  type Party,
  requesterHelloOf,
  startChatRequest,
} from "../../src/crypto/e2e.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import type { ServerMessage, ServerMessageOf } from "../../src/protocol/index.ts"
import { userIdentity } from "../lib/users.ts"
import type { PairSpec } from "../lib/wire.ts"
import { type Lane, type OpenPair, type PairSide, SEND_CHUNK } from "./lanes.ts"

export interface ClientTrust {
  readonly caCertificateDer: Uint8Array
  /** The client's own CRL copy, when it holds one (the stapled one is checked at login). */
  readonly localCrlDer?: Uint8Array
}

/** Logs benchmark user `name` in (the full login: TCP, 1.0 … 1.3). */
export const loginUser = (port: number, trust: ClientTrust, name: string): Promise<ClientLink> =>
  connectLink({
    host: "127.0.0.1",
    port,
    serverName: "localhost",
    trust,
    identity: { name, key: userIdentity(name) },
    connectTimeoutMs: 60_000,
  })

/** Closes a link and waits for its socket to close. */
export const closeLink = async (link: ClientLink): Promise<void> => {
  link.close()
  await link.closed
}

const expectMessage = <T extends ServerMessage["type"]>(link: ClientLink, type: T) =>
  link.next((message): message is ServerMessageOf<T> => message.type === type, 30_000)

/** A result's value, or an Error naming the step (carries the failure's sentence, never key bytes). */
const orThrow = <A, E extends { readonly message: string }>(step: string, result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) throw new Error(`bench chat agreement, ${step}: ${result.failure.message}`)
  return result.success
}

/** The peer named in an RTT or ACCEPT, as the certificate the server relayed says (checked now). */
const certifiedPeer = (link: ClientLink, name: string, certificate: Uint8Array): Party =>
  orThrow(
    `${name}'s certificate`,
    verifyPeer({ ...link.peerTrust, now: () => new Date() }, name, certificate),
  )

/** Runs the end-to-end agreement between `a` (requester) and `b` (accepter); returns both chats. */
const establishChat = async (a: ClientLink, b: ClientLink) => {
  const request = startChatRequest(systemRandom)
  a.send({ type: "Rtt", to: b.user, ...requesterHelloOf(request) })
  const rtt = await expectMessage(b, "Rtt")
  const acceptance = orThrow(
    "accept",
    acceptChatRequest({
      random: systemRandom,
      me: { name: b.user, key: userIdentity(b.user) },
      requester: certifiedPeer(b, rtt.from, rtt.certificate),
      requesterHello: { nonce: rtt.nonce, ephemeralKey: rtt.ephemeralKey, kemKey: rtt.kemKey },
    }),
  )
  const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = acceptance
  b.send({ type: "Accept", requester: rtt.from, nonce, ephemeralKey, kemCiphertext, signature, confirmation })
  const accept = await expectMessage(a, "Accept")
  const completed = orThrow(
    "complete",
    completeChatRequest({
      request,
      me: { name: a.user, key: userIdentity(a.user) },
      accepter: certifiedPeer(a, accept.from, accept.certificate),
      accept,
    }),
  )
  const { signature: sigA, confirmation: confA } = completed
  a.send({ type: "CcSessionEstablishment", accepter: b.user, signature: sigA, confirmation: confA })
  const establishment = await expectMessage(b, "CcSessionEstablishment")
  const accepter = orThrow("finish", completeChatAcceptance(acceptance.pending, establishment))
  return {
    requester: ChatChannel.open(completed.keys, systemRandom),
    accepter: ChatChannel.open(accepter, systemRandom),
  }
}

const side = (link: ClientLink): PairSide => ({
  send: (payloads) => {
    for (let i = 0; i < payloads.length; i += SEND_CHUNK) {
      link.send(
        ...payloads.slice(i, i + SEND_CHUNK).map((envelope) => ({ type: "Message" as const, envelope })),
      )
    }
  },
  onPayload: (handler) =>
    link.onMessage((message) => {
      if (message.type === "Message") handler(message.envelope)
    }),
})

const lane = (sender: PairSide, receiver: PairSide, seal: ChatChannel, open: ChatChannel): Lane => ({
  sender,
  receiver,
  verifiesPayloads: true,
  verification:
    "ratchet message numbers checked in order on arrival; every envelope opened with the receiver's ChatChannel (Double Ratchet) after the timed window",
  prepare: (count, size) => {
    const text = "x".repeat(size)
    return Array.from({ length: count }, () => Result.getOrThrow(seal.seal(text)))
  },
  verify: (received, size) => {
    let failures = 0
    for (const envelope of received) {
      const content = open.open(envelope)
      if (
        Result.isFailure(content) ||
        content.success.kind !== "text" ||
        content.success.text.length !== size
      ) {
        failures++
      }
    }
    return failures
  },
})

/** Logs both users in and establishes their chat. */
export const openOnechatPair = async (
  port: number,
  trust: ClientTrust,
  spec: PairSpec,
): Promise<OpenPair> => {
  const [a, b] = await Promise.all([loginUser(port, trust, spec.a), loginUser(port, trust, spec.b)])
  const chat = await establishChat(a, b)
  const sideA = side(a)
  const sideB = side(b)
  return {
    lanes: [
      lane(sideA, sideB, chat.requester, chat.accepter),
      lane(sideB, sideA, chat.accepter, chat.requester),
    ],
    close: async () => {
      chat.requester.close()
      chat.accepter.close()
      await Promise.all([closeLink(a), closeLink(b)])
    },
  }
}
