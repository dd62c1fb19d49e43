/**
 * Test helpers on top of the client link: log a user into a test server, and run the real
 * end-to-end agreement (RTT → ACCEPT → CC_SESSION_ESTABLISHMENT) between two links: the one
 * copy of that orchestration that tests, `bench/` and `attack/` share.
 */
import { Result } from "effect"
import { type ClientLink, connectLink } from "../src/client/link.ts"
import { verifyPeer } from "../src/client/peer-identity.ts"
import { ChatChannel } from "../src/crypto/chat-channel.ts"
import {
  acceptChatRequest,
  type ChatAcceptance,
  type ChatRequest,
  completeChatAcceptance,
  completeChatRequest,
  type Party,
  requesterHelloOf,
  startChatRequest,
} from "../src/crypto/e2e.ts"
import type { IdentityKeyPair } from "../src/crypto/identity.ts"
import { systemRandom } from "../src/crypto/primitives.ts"
import type { ServerMessage, ServerMessageOf } from "../src/protocol/index.ts"
import { NOW } from "./pki.ts"
import { type TestServer, userKey } from "./server.ts"

export const login = (server: TestServer, name: string): Promise<ClientLink> =>
  connectLink({
    host: "127.0.0.1",
    port: server.port,
    serverName: "localhost",
    trust: { caCertificateDer: server.pki.caCertificateDer },
    identity: { name, key: server.users.get(name) ?? userKey(name) },
    now: () => NOW,
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

/** The peer named in an RTT or ACCEPT, as its certificate says, checked at `now`. */
const certifiedPeer = (link: ClientLink, name: string, certificate: Uint8Array, now: () => Date): Party =>
  Result.getOrThrow(
    verifyPeer({ ...link.peerTrust, now }, name, certificate).pipe(
      Result.mapError((error) => new Error(error.message)),
    ),
  )

/** Keys by user name, as the test server's registry holds them. */
type Users = { readonly users: ReadonlyMap<string, IdentityKeyPair> }

/**
 * The agreement's four steps, each with the real crypto (hybrid agreement, certificate checks,
 * ratchet), so a test can look at or tamper with what travels between them (tests/mitm does).
 */
export const chatSteps = (
  server: Users,
  /** The clock of certificate checks: the test PKI's NOW unless the PKI was made at another time. */
  now: () => Date = () => NOW,
) => ({
  /** Requester `a` sends RTT to `to`. */
  request: (a: ClientLink, to: string): ChatRequest => {
    const request = startChatRequest(systemRandom)
    a.send({ type: "Rtt", to, ...requesterHelloOf(request) })
    return request
  },
  /** Accepter `b` answers the RTT it received; throws when the agreement cannot go on. */
  accept: (b: ClientLink, rtt: ServerMessageOf<"Rtt">): ChatAcceptance => {
    const acceptance = acceptChatRequest({
      random: systemRandom,
      me: { name: b.user, key: server.users.get(b.user)! },
      requester: certifiedPeer(b, rtt.from, rtt.certificate, now),
      requesterHello: { nonce: rtt.nonce, ephemeralKey: rtt.ephemeralKey, kemKey: rtt.kemKey },
    })
    if (Result.isFailure(acceptance)) throw new Error(`${b.user}: ${acceptance.failure.message}`)
    const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = acceptance.success
    b.send({
      type: "Accept",
      requester: rtt.from,
      nonce,
      ephemeralKey,
      kemCiphertext,
      signature,
      confirmation,
    })
    return acceptance.success
  },
  /** Requester `a` checks the ACCEPT and sends CC_SESSION_ESTABLISHMENT (returned) with its open chat. */
  complete: (
    a: ClientLink,
    request: ChatRequest,
    accept: ServerMessageOf<"Accept">,
  ): { readonly chat: ChatChannel; readonly signature: Uint8Array; readonly confirmation: Uint8Array } => {
    const completed = completeChatRequest({
      request,
      me: { name: a.user, key: server.users.get(a.user)! },
      accepter: certifiedPeer(a, accept.from, accept.certificate, now),
      accept,
    })
    if (Result.isFailure(completed)) throw new Error(`${a.user}: ${completed.failure.message}`)
    const { signature, confirmation, keys } = completed.success
    a.send({ type: "CcSessionEstablishment", accepter: accept.from, signature, confirmation })
    return { chat: ChatChannel.open(keys, systemRandom), signature, confirmation }
  },
  /** Accepter checks CC_SESSION_ESTABLISHMENT; returns its open chat. */
  finish: (
    b: ClientLink,
    acceptance: ChatAcceptance,
    cc: ServerMessageOf<"CcSessionEstablishment">,
  ): ChatChannel => {
    const keys = completeChatAcceptance(acceptance.pending, cc)
    if (Result.isFailure(keys)) throw new Error(`${b.user}: ${keys.failure.message}`)
    return ChatChannel.open(keys.success, systemRandom)
  },
})

/** Runs the whole end-to-end agreement between `a` (requester) and `b` (accepter). */
export const establishChat = async (
  server: Users,
  a: ClientLink,
  b: ClientLink,
  options: { readonly now?: () => Date; readonly timeoutMs?: number } = {},
): Promise<EstablishedChat> => {
  const steps = chatSteps(server, options.now)
  const { timeoutMs } = options
  const request = steps.request(a, b.user)
  const acceptance = steps.accept(b, await expectMessage(b, "Rtt", timeoutMs))
  const { chat: requester } = steps.complete(a, request, await expectMessage(a, "Accept", timeoutMs))
  const accepter = steps.finish(b, acceptance, await expectMessage(b, "CcSessionEstablishment", timeoutMs))
  return { requester, accepter }
}

/** Seals `text` for the peer and sends it as a MESSAGE. */
export const say = (link: ClientLink, chat: ChatChannel, text: string): void =>
  link.send({ type: "Message", envelope: Result.getOrThrow(chat.seal(text)) })

/** Receives the next MESSAGE and opens it: its text (a goodbye is an error here). */
export const hear = async (link: ClientLink, chat: ChatChannel): Promise<string> => {
  const content = Result.getOrThrow(chat.open((await expectMessage(link, "Message")).envelope))
  if (content.kind !== "text") throw new Error(`expected a chat text, got ${content.kind}`)
  return content.text
}
