/**
 * Test helpers on top of the client link: log a user into a test server, and run the real
 * end-to-end agreement (RTT → ACCEPT → CC_SESSION_ESTABLISHMENT) between two links.
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
import type { IdentityKeyPair } from "../../src/crypto/identity.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import type { ServerMessage, ServerMessageOf } from "../../src/protocol/index.ts"
import { type TestServer, userKey } from "./server.ts"

export const login = (server: TestServer, name: string): Promise<ClientLink> =>
  connectLink({
    host: "127.0.0.1",
    port: server.port,
    serverName: "localhost",
    trust: { caCertificateDer: server.pki.caCertificateDer },
    identity: { name, key: server.users.get(name) ?? userKey(name) },
    now: () => new Date("2026-06-01T12:00:00Z"),
  })

/** Waits for the next message of one type (others stay buffered). */
export const expectMessage = <T extends ServerMessage["type"]>(
  link: ClientLink,
  type: T,
  timeoutMs = 3_000,
): Promise<ServerMessageOf<T>> =>
  link.next((message): message is ServerMessageOf<T> => message.type === type, timeoutMs)

export interface EstablishedChat {
  readonly requester: ChatChannel
  readonly accepter: ChatChannel
}

/** Runs the whole end-to-end agreement between `a` (requester) and `b` (accepter). */
export const establishChat = async (
  server: { readonly users: ReadonlyMap<string, IdentityKeyPair> },
  a: ClientLink,
  b: ClientLink,
): Promise<EstablishedChat> => {
  const request = startChatRequest(systemRandom)
  a.send({ type: "Rtt", to: b.user, nonce: request.nonce, ephemeralKey: request.ephemeral.publicKey })
  const rtt = await expectMessage(b, "Rtt")
  const acceptance = Result.getOrThrow(
    acceptChatRequest({
      random: systemRandom,
      me: { name: b.user, key: server.users.get(b.user)! },
      requester: { name: rtt.from, identityKey: rtt.identityKey },
      requesterNonce: rtt.nonce,
      requesterEphemeralKey: rtt.ephemeralKey,
    }),
  )
  b.send({
    type: "Accept",
    requester: rtt.from,
    nonce: acceptance.nonce,
    ephemeralKey: acceptance.ephemeralKey,
    signature: acceptance.signature,
    confirmation: acceptance.confirmation,
  })
  const accept = await expectMessage(a, "Accept")
  const completed = Result.getOrThrow(
    completeChatRequest({
      request,
      me: { name: a.user, key: server.users.get(a.user)! },
      accepter: { name: accept.from, identityKey: accept.identityKey },
      accept,
    }),
  )
  a.send({
    type: "CcSessionEstablishment",
    accepter: b.user,
    signature: completed.signature,
    confirmation: completed.confirmation,
  })
  const establishment = await expectMessage(b, "CcSessionEstablishment")
  const accepter = Result.getOrThrow(completeChatAcceptance(acceptance.pending, establishment))
  return { requester: completed.chat, accepter }
}

/** Seals `text` for the peer and sends it as a MESSAGE. */
export const say = (link: ClientLink, chat: ChatChannel, text: string): void =>
  link.send({ type: "Message", envelope: Result.getOrThrow(chat.seal(text)) })

/** Receives the next MESSAGE and opens it. */
export const hear = async (link: ClientLink, chat: ChatChannel): Promise<string> =>
  Result.getOrThrow(chat.open((await expectMessage(link, "Message")).envelope))
