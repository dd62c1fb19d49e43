/**
 * Onechat clients for the loads: log a benchmark user in with the real client link (login 1.0–1.3),
 * and open a chatting pair with the real end-to-end agreement (RTT → ACCEPT →
 * CC_SESSION_ESTABLISHMENT, docs/protocol.md §8). Lanes seal with ChatChannel before a burst and
 * open every received envelope with the peer's ChatChannel after it.
 */
import { Result } from "effect"
import { type ClientLink, connectLink } from "../../src/client/link.ts"
import {
  acceptChatRequest,
  type ChatChannel,
  completeChatAcceptance,
  completeChatRequest,
  startChatRequest,
} from "../../src/crypto/e2e.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import type { ServerMessage, ServerMessageOf } from "../../src/protocol/index.ts"
import { userIdentity } from "../lib/users.ts"
import type { PairSpec } from "../lib/wire.ts"
import { type Lane, type OpenPair, type PairSide, SEND_CHUNK } from "./lanes.ts"

export interface ClientTrust {
  readonly caCertificateDer: Uint8Array
  readonly localCrlDer: Uint8Array
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

/** Runs the end-to-end agreement between `a` (requester) and `b` (accepter). */
const establishChat = async (a: ClientLink, b: ClientLink) => {
  const request = startChatRequest(systemRandom)
  a.send({ type: "Rtt", to: b.user, nonce: request.nonce, ephemeralKey: request.ephemeral.publicKey })
  const rtt = await expectMessage(b, "Rtt")
  const acceptance = Result.getOrThrow(
    acceptChatRequest({
      random: systemRandom,
      me: { name: b.user, key: userIdentity(b.user) },
      requester: { name: rtt.from, identityKey: rtt.identityKey },
      requesterNonce: rtt.nonce,
      requesterEphemeralKey: rtt.ephemeralKey,
    }),
  )
  const { nonce, ephemeralKey, signature, confirmation } = acceptance
  b.send({ type: "Accept", requester: rtt.from, nonce, ephemeralKey, signature, confirmation })
  const accept = await expectMessage(a, "Accept")
  const completed = Result.getOrThrow(
    completeChatRequest({
      request,
      me: { name: a.user, key: userIdentity(a.user) },
      accepter: { name: accept.from, identityKey: accept.identityKey },
      accept,
    }),
  )
  const { signature: sigA, confirmation: confA } = completed
  a.send({ type: "CcSessionEstablishment", accepter: b.user, signature: sigA, confirmation: confA })
  const establishment = await expectMessage(b, "CcSessionEstablishment")
  const accepter = Result.getOrThrow(completeChatAcceptance(acceptance.pending, establishment))
  return { requester: completed.chat, accepter }
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
    "counter order checked on arrival; every envelope opened with the receiver's ChatChannel after the timed window",
  prepare: (count, size) => {
    const text = "x".repeat(size)
    return Array.from({ length: count }, () => Result.getOrThrow(seal.seal(text)))
  },
  verify: (received, size) => {
    let failures = 0
    for (const envelope of received) {
      const text = open.open(envelope)
      if (Result.isFailure(text) || text.success.length !== size) failures++
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
