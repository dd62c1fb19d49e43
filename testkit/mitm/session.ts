/**
 * Two real clients driven through the proxy phase by phase: login (§3), then messages in records
 * (§6): LIST, request (RTT), the end-to-end agreement (ACCEPT, CC_SESSION_ESTABLISHMENT, §8) and
 * chat (MESSAGE), checking that every relayed value arrives unaltered and recording what was
 * sent, received, and how the links ended. It announces each phase to the proxy (`proxy.phase`);
 * it never manipulates anything itself.
 */
import { Result } from "effect"
import { type ClientLink, connectLink, type LinkClosed, LinkError } from "../../src/client/link.ts"
import { verifyPeer } from "../../src/client/peer-identity.ts"
import type { ChatChannel } from "../../src/crypto/chat-channel.ts"
import type { ChatRequest } from "../../src/crypto/e2e.ts"
import { bytesEqual } from "../../src/crypto/primitives.ts"
import type { ServerMessage, ServerMessageOf } from "../../src/protocol/index.ts"
import { chatSteps } from "../chat.ts"
import { NOW } from "../pki.ts"
import { type TestServer, userKey } from "../server.ts"
import type { MitmProxy } from "./proxy.ts"
import type { Phase } from "./rules.ts"

/** Every chat text the runner sends contains this; it must never be visible on the wire. */
export const PLAINTEXT_MARKER = "plaintext-marker-7f3a"

export type MitmOutcome =
  /** Everything up to `upTo` was delivered and no connection ended. */
  | { readonly kind: "completed" }
  /** `connectLink` of the first user failed. */
  | { readonly kind: "login-failed"; readonly error: LinkError }
  /** A logged-in link ended (`who` names its user). */
  | { readonly kind: "closed"; readonly who: string; readonly closed: LinkClosed }
  /** The end-to-end agreement or a chat envelope did not verify. */
  | { readonly kind: "e2e-failed"; readonly who: string; readonly message: string }
  /** Nothing arrived, nothing ended: a step timed out. */
  | { readonly kind: "stalled"; readonly detail: string }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const LOGIN_TIMEOUT_MS = 2_500
const STEP_TIMEOUT_MS = 4_000
/** A step waiting this long starts the pinger (see `#startPinging`). */
const SOFT_STALL_MS = 150
const PING_EVERY_MS = 40
const DETECTION_WAIT_MS = 3_000

class LoginRejected extends Error {
  constructor(readonly error: LinkError) {
    super(error.message)
  }
}

class E2eRejected extends Error {
  constructor(
    readonly who: string,
    message: string,
  ) {
    super(message)
  }
}

class LinkEnded extends Error {}

/** One case: two users, their links, what they sent and received, and how the links ended. */
export class MitmRun {
  readonly altered: string[] = []
  readonly sent = { toBob: [] as string[], toAlice: [] as string[] }
  readonly received = { byBob: [] as string[], byAlice: [] as string[] }
  readonly closes: Array<{ readonly who: string; readonly closed: LinkClosed }> = []
  readonly #links: ClientLink[] = []
  readonly #anyClosed: Promise<never>
  #signalClosed: () => void = () => {}
  #pinger: NodeJS.Timeout | undefined
  #pings = 0n

  constructor(
    private readonly server: TestServer,
    private readonly proxy: MitmProxy,
    private readonly names: readonly [string, string],
  ) {
    this.#anyClosed = new Promise<never>((_, reject) => {
      this.#signalClosed = () => reject(new LinkEnded())
    })
    this.#anyClosed.catch(() => {})
    for (const name of names) if (!server.users.has(name)) server.users.set(name, userKey(name))
  }

  async scenario(upTo: Phase): Promise<void> {
    this.proxy.phase = "login"
    const alice = await this.#connect(this.names[0])
    const bob = await this.#connect(this.names[1])
    if (upTo === "login") return
    if (upTo === "list") return this.#list(alice)
    const request = await this.#request(alice, bob)
    if (upTo === "request") return
    const chats = await this.#establish(alice, bob, request)
    if (upTo === "e2e") return
    await this.#chat(alice, bob, chats)
  }

  /** After the scenario: quiet runs prove the links still work; attacks get time to be detected. */
  async settle(quiet: boolean): Promise<MitmOutcome> {
    if (quiet) {
      for (const link of this.#links) {
        link.send({ type: "Ping", value: 4242n })
        await this.#step(link.next((m) => m.type === "Pong" && m.value === 4242n, STEP_TIMEOUT_MS))
      }
    } else {
      this.#startPinging()
      await Promise.race([this.#anyClosed.catch(() => {}), sleep(DETECTION_WAIT_MS)])
    }
    const first = this.closes[0]
    return first === undefined ? { kind: "completed" } : { kind: "closed", ...first }
  }

  async classify(error: unknown): Promise<MitmOutcome> {
    if (error instanceof LoginRejected) return { kind: "login-failed", error: error.error }
    if (error instanceof E2eRejected) return { kind: "e2e-failed", who: error.who, message: error.message }
    await Promise.race([this.#anyClosed.catch(() => {}), sleep(500)])
    const first = this.closes[0]
    if (first !== undefined) return { kind: "closed", ...first }
    return { kind: "stalled", detail: error instanceof Error ? error.message : String(error) }
  }

  stop(): void {
    clearInterval(this.#pinger)
    for (const link of this.#links) link.close()
  }

  async #connect(name: string): Promise<ClientLink> {
    let link: ClientLink
    try {
      link = await connectLink({
        host: "127.0.0.1",
        port: this.proxy.port,
        serverName: "localhost",
        trust: { caCertificateDer: this.server.pki.caCertificateDer },
        identity: { name, key: this.server.users.get(name)! },
        now: () => NOW,
        connectTimeoutMs: LOGIN_TIMEOUT_MS,
      })
    } catch (error) {
      throw error instanceof LinkError ? new LoginRejected(error) : error
    }
    this.#links.push(link)
    void link.closed.then((closed) => {
      this.closes.push({ who: name, closed })
      this.#signalClosed()
    })
    return link
  }

  /** Waits for one delivery, or for any link to end; a slow step starts the pingers. */
  async #step<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {})
    const soft = setTimeout(() => this.#startPinging(), SOFT_STALL_MS)
    try {
      return await Promise.race([promise, this.#anyClosed])
    } finally {
      clearTimeout(soft)
    }
  }

  #expect<T extends ServerMessage["type"]>(link: ClientLink, type: T): Promise<ServerMessageOf<T>> {
    return this.#step(
      link.next((message): message is ServerMessageOf<T> => message.type === type, STEP_TIMEOUT_MS),
    )
  }

  /**
   * PINGs on every link, so that a dropped or held frame has successors that reveal it. Only once
   * the manipulation has happened: earlier PINGs would shift the index of the frame it selects.
   */
  #startPinging(): void {
    if (this.#pinger !== undefined) return
    this.#pinger = setInterval(() => {
      if (this.proxy.fired.length === 0) return
      for (const link of this.#links) link.send({ type: "Ping", value: this.#pings++ })
    }, PING_EVERY_MS)
  }

  #check(what: string, intact: boolean): void {
    if (!intact) this.altered.push(what)
  }

  async #list(alice: ClientLink): Promise<void> {
    this.proxy.phase = "list"
    alice.send({ type: "List" })
    const list = await this.#expect(alice, "List")
    this.#check(
      `LIST ${list.names.join(",")}`,
      list.names.includes(this.names[1]) && !list.names.includes(this.names[0]),
    )
  }

  async #request(alice: ClientLink, bob: ClientLink) {
    this.proxy.phase = "request"
    const request = chatSteps(this.server).request(alice, this.names[1])
    const rtt = await this.#expect(bob, "Rtt")
    this.#check(
      "RTT",
      rtt.from === this.names[0] &&
        (await this.#certifies(bob, rtt.certificate, 0)) &&
        bytesEqual(rtt.nonce, request.nonce) &&
        bytesEqual(rtt.ephemeralKey, request.ephemeral.publicKey) &&
        bytesEqual(rtt.kemKey, request.kem.encapsulationKey),
    )
    return { request, rtt }
  }

  /**
   * The relayed certificate is the one the test CA issued for that user's key, byte for byte, and
   * the receiving client accepts it for that user.
   */
  async #certifies(link: ClientLink, certificate: Uint8Array, connection: 0 | 1): Promise<boolean> {
    const name = this.names[connection]
    const issued = await this.server.pki.userCertificate(name, this.#key(connection).publicKey)
    const verified = verifyPeer({ ...link.peerTrust, now: () => NOW }, name, certificate)
    return (
      bytesEqual(certificate, issued) &&
      Result.isSuccess(verified) &&
      bytesEqual(verified.success.identityKey, this.#key(connection).publicKey)
    )
  }

  /** Runs one agreement step for `who`; a refusal (the step throws) becomes E2eRejected. */
  #agreement<T>(who: string, step: () => T): T {
    try {
      return step()
    } catch (error) {
      throw new E2eRejected(who, error instanceof Error ? error.message : String(error))
    }
  }

  /**
   * The end-to-end agreement through the proxy (chatSteps: certificate checks, hybrid agreement,
   * ratchet), checking between steps that every relayed value arrived unaltered.
   */
  async #establish(
    alice: ClientLink,
    bob: ClientLink,
    { request, rtt }: { request: ChatRequest; rtt: ServerMessageOf<"Rtt"> },
  ): Promise<{ readonly requester: ChatChannel; readonly accepter: ChatChannel }> {
    const [a, b] = this.names
    const steps = chatSteps(this.server)
    this.proxy.phase = "e2e"
    const acceptance = this.#agreement(b, () => steps.accept(bob, rtt))
    const accept = await this.#expect(alice, "Accept")
    this.#check(
      "ACCEPT",
      accept.from === b &&
        (await this.#certifies(alice, accept.certificate, 1)) &&
        bytesEqual(accept.nonce, acceptance.nonce) &&
        bytesEqual(accept.ephemeralKey, acceptance.ephemeralKey) &&
        bytesEqual(accept.kemCiphertext, acceptance.kemCiphertext) &&
        bytesEqual(accept.signature, acceptance.signature) &&
        bytesEqual(accept.confirmation, acceptance.confirmation),
    )
    const established = this.#agreement(a, () => steps.complete(alice, request, accept))
    const cc = await this.#expect(bob, "CcSessionEstablishment")
    this.#check(
      "CC_SESSION_ESTABLISHMENT",
      cc.from === a &&
        bytesEqual(cc.signature, established.signature) &&
        bytesEqual(cc.confirmation, established.confirmation),
    )
    const accepter = this.#agreement(b, () => steps.finish(bob, acceptance, cc))
    return { requester: established.chat, accepter }
  }

  async #chat(
    alice: ClientLink,
    bob: ClientLink,
    chats: { readonly requester: ChatChannel; readonly accepter: ChatChannel },
  ): Promise<void> {
    const [a, b] = this.names
    this.proxy.phase = "chat"
    const say = async (link: ClientLink, chat: ChatChannel, text: string, log: string[]) => {
      log.push(text)
      link.send({ type: "Message", envelope: Result.getOrThrow(chat.seal(text)) })
      await sleep(2) // one record per message
    }
    for (let i = 0; i < 3; i++)
      await say(alice, chats.requester, `${PLAINTEXT_MARKER} ${a}→${b} #${i} ü`, this.sent.toBob)
    for (let i = 0; i < 2; i++)
      await say(bob, chats.accepter, `${PLAINTEXT_MARKER} ${b}→${a} #${i} é`, this.sent.toAlice)
    await this.#hear(bob, b, chats.accepter, this.sent.toBob, this.received.byBob)
    await this.#hear(alice, a, chats.requester, this.sent.toAlice, this.received.byAlice)
  }

  /** Receives as many messages as were sent; each must be the next text sent, unaltered. */
  async #hear(link: ClientLink, who: string, chat: ChatChannel, sent: string[], received: string[]) {
    while (received.length < sent.length) {
      const message = await this.#expect(link, "Message")
      const opened = chat.open(message.envelope)
      if (Result.isFailure(opened)) throw new E2eRejected(who, opened.failure.message)
      const text = opened.success.kind === "text" ? opened.success.text : `(${opened.success.kind})`
      received.push(text)
      this.#check(`chat text ${JSON.stringify(text)}`, text === sent[received.length - 1])
    }
  }

  #key(connection: 0 | 1) {
    return this.server.users.get(this.names[connection])!
  }
}
