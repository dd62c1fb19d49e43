/**
 * A man-in-the-middle TCP proxy for adversarial tests: listens on 127.0.0.1, forwards every
 * accepted connection to a real server, and parses the length-prefixed frame stream in each
 * direction (docs/protocol.md §2.1) so it can act on single frames — drop, duplicate, reorder,
 * delay, truncate, inject, reflect, flip a byte — chosen by connection, direction, phase and index.
 * It records every byte both ways. It has no keys: it can only do what a network attacker can.
 * Below the proxy: `runMitmCase`, two real clients driven through it phase by phase (§3, §6, §8),
 * and the catalogue of attempts and their verdict shared by test/adversarial/mitm.test.ts and
 * `npm run attack` (attack/categories/mitm.ts).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net"
import { Result } from "effect"
import { type ClientLink, connectLink, type LinkClosed, LinkError } from "../../src/client/link.ts"
import { verifyPeer } from "../../src/client/peer-identity.ts"
import type { ChatChannel } from "../../src/crypto/chat-channel.ts"
import type { ChatRequest } from "../../src/crypto/e2e.ts"
import { bytesEqual, type Random } from "../../src/crypto/primitives.ts"
import {
  AEAD_TAG_BYTES,
  ErrorCode,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  KEM_ENCAPSULATION_KEY_BYTES,
  KEY_BYTES,
  NONCE_BYTES,
  PROTOCOL_NAME,
  RECORD_HEADER_BYTES,
  type ServerMessage,
  type ServerMessageOf,
} from "../../src/protocol/index.ts"
import { chatSteps } from "../chat.ts"
import { NOW } from "../pki.ts"
import { type TestServer, userKey } from "../server.ts"

/** Client→server or server→client. */
export type Way = "c2s" | "s2c"

/** What the endpoints are doing, as the test announces it (`proxy.phase = ...`). */
export type Phase = "login" | "list" | "request" | "e2e" | "chat"

export type Manipulation =
  /** The frame never arrives. */
  | { readonly kind: "drop" }
  /** The frame arrives twice in a row. */
  | { readonly kind: "duplicate" }
  /** The frame is held back and sent right after the next frame of the same direction. */
  | { readonly kind: "swap" }
  /** The frame, and so everything after it in its direction, arrives `ms` later (not an attack). */
  | { readonly kind: "delay"; readonly ms: number }
  /**
   * Only the first `keep` body bytes (at most all but one) are sent: with `close`, under the original
   * length prefix and then the connection is closed both ways; otherwise under a length prefix
   * rewritten to match.
   */
  | { readonly kind: "truncate"; readonly keep: number; readonly close: boolean }
  /** `forge(frame)` (complete frame bytes, or any bytes) is sent before the frame or in its place. */
  | {
      readonly kind: "inject"
      readonly forge: (frame: Uint8Array) => Uint8Array
      readonly position: "before" | "instead"
    }
  /** The frame goes back to the endpoint that sent it, and not forward. */
  | { readonly kind: "reflect" }
  /** Byte `offset` of the frame (0–3: the length prefix; at most the last byte) is XORed with `mask`. */
  | { readonly kind: "flip"; readonly offset: number; readonly mask: number }

/** Selects one frame: the `index`-th (from 0) of `connection` in direction `way` during `phase`. */
export interface FrameSelector {
  /** Accept order of the connection, from 0. */
  readonly connection: number
  readonly way: Way
  readonly phase: Phase
  readonly index: number
}

export interface Rule extends FrameSelector {
  readonly action: Manipulation
}

/** A frame as an endpoint sent it (length prefix included). */
export interface SeenFrame extends FrameSelector {
  readonly bytes: Uint8Array
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Bytes going to one socket, strictly in order; a delay holds back everything queued after it. */
class Outlet {
  #chain: Promise<void> = Promise.resolve()

  constructor(
    readonly socket: Socket,
    private readonly record: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array, afterMs = 0): void {
    this.#chain = this.#chain.then(async () => {
      if (afterMs > 0) await sleep(afterMs)
      if (this.socket.destroyed || !this.socket.writable) return
      this.record(bytes)
      this.socket.write(bytes)
    })
  }

  /** Ends the socket once everything queued before has been written. */
  end(): void {
    this.#chain = this.#chain.then(() => {
      this.socket.end()
    })
  }

  /** Destroys the socket once everything queued before has been written. */
  destroy(): void {
    this.#chain = this.#chain.then(() => {
      this.socket.destroy()
    })
  }
}

/** One direction of one proxied connection: decoder, the rules that apply, and where frames go. */
class Pipe {
  readonly #decoder = new FrameDecoder()
  #held: Uint8Array | undefined
  #cut = false

  constructor(
    private readonly proxy: MitmProxy,
    private readonly connection: number,
    private readonly way: Way,
    private readonly forward: Outlet,
    private readonly back: Outlet,
    private readonly hangUp: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#cut) return
    const bodies = this.#decoder.push(chunk)
    if (Result.isFailure(bodies)) {
      this.hangUp() // an honest endpoint never sends this
      return
    }
    for (const body of bodies.success) {
      const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length)
      new DataView(frame.buffer).setUint32(0, body.length)
      frame.set(body, FRAME_HEADER_BYTES)
      this.#frame(frame)
      if (this.#cut) return
    }
  }

  #frame(frame: Uint8Array): void {
    const rule = this.proxy.observe(this.connection, this.way, frame)
    const held = this.#held
    this.#held = undefined
    if (rule === undefined) this.forward.write(frame)
    else this.#apply(rule.action, frame)
    if (held !== undefined && !this.#cut) this.forward.write(held)
  }

  #apply(action: Manipulation, frame: Uint8Array): void {
    switch (action.kind) {
      case "drop":
        return
      case "duplicate":
        this.forward.write(frame)
        this.forward.write(frame)
        return
      case "swap":
        this.#held = frame
        return
      case "delay":
        this.forward.write(frame, action.ms)
        return
      case "truncate":
        return this.#truncate(frame, action.keep, action.close)
      case "inject":
        this.forward.write(action.forge(frame))
        if (action.position === "before") this.forward.write(frame)
        return
      case "reflect":
        this.back.write(frame)
        return
      case "flip": {
        const flipped = Uint8Array.from(frame)
        flipped[Math.min(action.offset, frame.length - 1)]! ^= action.mask
        this.forward.write(flipped)
        return
      }
    }
  }

  #truncate(frame: Uint8Array, wanted: number, close: boolean): void {
    const keep = Math.min(wanted, frame.length - FRAME_HEADER_BYTES - 1)
    const body = frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + keep)
    if (!close) {
      const cut = new Uint8Array(FRAME_HEADER_BYTES + body.length)
      new DataView(cut.buffer).setUint32(0, body.length)
      cut.set(body, FRAME_HEADER_BYTES)
      this.forward.write(cut)
      return
    }
    this.#cut = true
    this.forward.write(frame.subarray(0, FRAME_HEADER_BYTES + keep))
    this.forward.end()
    this.back.end()
  }
}

export class MitmProxy {
  /** Frames as the endpoints sent them, in arrival order. */
  readonly frames: SeenFrame[] = []
  /** Frames a rule was applied to. */
  readonly fired: SeenFrame[] = []
  /** Every chunk written to the server (c2s) and to the client (s2c), after manipulation. */
  readonly delivered: Record<Way, Uint8Array[]> = { c2s: [], s2c: [] }
  /** Set by the test; frames are counted per connection, direction and phase. */
  phase: Phase = "login"
  rules: ReadonlyArray<Rule> = []
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #counts = new Map<string, number>()
  readonly #used = new Set<Rule>()
  #connections = 0

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server
  }

  /** Starts a proxy on 127.0.0.1 (free port) in front of `target`. */
  static start(target: { readonly host: string; readonly port: number }): Promise<MitmProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true })
      server.once("error", reject)
      server.listen({ host: "127.0.0.1", port: 0 }, () => {
        const address = server.address()
        if (address === null || typeof address === "string") {
          reject(new Error("the proxy has no TCP address"))
          return
        }
        const proxy = new MitmProxy(server, address.port)
        server.on("connection", (client) => proxy.#accept(client, target))
        resolve(proxy)
      })
    })
  }

  /** Counts a frame, records it, and returns the unused rule that selects it, if any. */
  observe(connection: number, way: Way, bytes: Uint8Array): Rule | undefined {
    const key = `${connection}/${way}/${this.phase}`
    const index = this.#counts.get(key) ?? 0
    this.#counts.set(key, index + 1)
    const seen: SeenFrame = { connection, way, phase: this.phase, index, bytes: Uint8Array.from(bytes) }
    this.frames.push(seen)
    const rule = this.rules.find(
      (r) =>
        !this.#used.has(r) &&
        r.connection === connection &&
        r.way === way &&
        r.phase === this.phase &&
        r.index === index,
    )
    if (rule === undefined) return undefined
    this.#used.add(rule)
    this.fired.push(seen)
    return rule
  }

  /** The first recorded frame matching `selector`. */
  frame(selector: FrameSelector): Uint8Array | undefined {
    return this.frames.find(
      (f) =>
        f.connection === selector.connection &&
        f.way === selector.way &&
        f.phase === selector.phase &&
        f.index === selector.index,
    )?.bytes
  }

  /** True when `needle` occurs in any byte the endpoints sent or the proxy delivered. */
  sawBytes(needle: Uint8Array): boolean {
    const haystacks = [
      Buffer.concat(this.frames.map((f) => f.bytes)),
      Buffer.concat(this.delivered.c2s),
      Buffer.concat(this.delivered.s2c),
    ]
    return haystacks.some((haystack) => haystack.indexOf(needle) >= 0)
  }

  /** Stops listening and destroys every proxied socket. */
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  #accept(client: Socket, target: { readonly host: string; readonly port: number }): void {
    const connection = this.#connections++
    const upstream = createConnection({ host: target.host, port: target.port })
    upstream.setNoDelay(true)
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on("close", () => this.#sockets.delete(socket))
      socket.on("error", () => {})
    }
    const hangUp = () => {
      client.destroy()
      upstream.destroy()
    }
    const toServer = new Outlet(upstream, (bytes) => this.delivered.c2s.push(Uint8Array.from(bytes)))
    const toClient = new Outlet(client, (bytes) => this.delivered.s2c.push(Uint8Array.from(bytes)))
    const c2s = new Pipe(this, connection, "c2s", toServer, toClient, hangUp)
    const s2c = new Pipe(this, connection, "s2c", toClient, toServer, hangUp)
    client.on("data", (chunk: Buffer) => c2s.push(chunk))
    upstream.on("data", (chunk: Buffer) => s2c.push(chunk))
    client.on("end", () => toServer.end())
    upstream.on("end", () => toClient.end())
    client.on("close", () => toServer.destroy())
    upstream.on("close", () => toClient.destroy())
  }
}

// ── Real clients through the proxy ───────────────────────────────────────────────────────────

/** Every chat text the runner sends contains this; it must never be visible on the wire. */
export const PLAINTEXT_MARKER = "plaintext-marker-7f3a"

export interface MitmCase {
  /** At most one manipulation; none for an honest run. */
  readonly rule?: Rule
  /** The last phase to run: login → (list) → request → e2e → chat. */
  readonly upTo: Phase
  /** The requester (connection 0) and the accepter (connection 1); registered on the fly. */
  readonly names: readonly [string, string]
}

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

export interface MitmResult {
  readonly outcome: MitmOutcome
  /** Frames the rule was applied to (1 when the selected frame existed). */
  readonly fired: number
  /** Deliveries that differ from what was sent: must stay empty. */
  readonly altered: ReadonlyArray<string>
  readonly sent: { readonly toBob: ReadonlyArray<string>; readonly toAlice: ReadonlyArray<string> }
  readonly received: { readonly byBob: ReadonlyArray<string>; readonly byAlice: ReadonlyArray<string> }
  /** Chat texts (or the marker) whose UTF-8 bytes appeared in the proxied traffic: must stay empty. */
  readonly leaked: ReadonlyArray<string>
  readonly proxy: MitmProxy
}

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
class MitmRun {
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

/**
 * Runs one case: a fresh proxy in front of `server` with `rule`, two real clients through it up
 * to `upTo`, then waits for the manipulation to be detected (or, for an honest run or a pure
 * delay, proves both links still work). Never throws for what the clients or server do.
 */
export const runMitmCase = async (server: TestServer, mitmCase: MitmCase): Promise<MitmResult> => {
  const proxy = await MitmProxy.start({ host: "127.0.0.1", port: server.port })
  proxy.rules = mitmCase.rule === undefined ? [] : [mitmCase.rule]
  const run = new MitmRun(server, proxy, mitmCase.names)
  let outcome: MitmOutcome
  try {
    await run.scenario(mitmCase.upTo)
    outcome = await run.settle(mitmCase.rule === undefined || mitmCase.rule.action.kind === "delay")
  } catch (error) {
    outcome = await run.classify(error)
  } finally {
    run.stop()
    await proxy.close()
  }
  const texts = [PLAINTEXT_MARKER, ...run.sent.toBob, ...run.sent.toAlice]
  return {
    outcome,
    fired: proxy.fired.length,
    altered: run.altered,
    sent: run.sent,
    received: run.received,
    leaked: texts.filter((text) => proxy.sawBytes(Buffer.from(text, "utf8"))),
    proxy,
  }
}

// ── The catalogue: which frames, which manipulations, and what counts as detected ────────────

/** One frame of a phase, named for people. Connection 0 is the requester, 1 the accepter. */
export interface Target extends FrameSelector {
  readonly what: string
}

const target = (phase: Phase, connection: 0 | 1, way: Way, index: number, what: string): Target => ({
  phase,
  connection,
  way,
  index,
  what,
})

export const PHASES: ReadonlyArray<Phase> = ["login", "list", "request", "e2e", "chat"]

export const MITM_TARGETS: ReadonlyArray<Target> = [
  target("login", 0, "c2s", 0, "CLIENT_HELLO (1.0)"),
  target("login", 0, "s2c", 0, "SERVER_HELLO"),
  target("login", 0, "s2c", 1, "server authentication record (1.1)"),
  target("login", 0, "c2s", 1, "client authentication record (1.2)"),
  target("login", 0, "s2c", 2, "user list record (1.3)"),
  target("list", 0, "c2s", 0, "LIST request"),
  target("list", 0, "s2c", 0, "LIST reply"),
  target("request", 0, "c2s", 0, "RTT from the requester"),
  target("request", 1, "s2c", 0, "RTT relayed to the accepter"),
  target("e2e", 1, "c2s", 0, "ACCEPT from the accepter"),
  target("e2e", 0, "s2c", 0, "ACCEPT relayed to the requester"),
  target("e2e", 0, "c2s", 0, "CC_SESSION_ESTABLISHMENT from the requester"),
  target("e2e", 1, "s2c", 0, "CC_SESSION_ESTABLISHMENT relayed to the accepter"),
  target("chat", 0, "c2s", 0, "first MESSAGE from the requester"),
  target("chat", 0, "c2s", 1, "second MESSAGE from the requester"),
  target("chat", 1, "s2c", 0, "first MESSAGE relayed to the accepter"),
  target("chat", 1, "c2s", 0, "first MESSAGE from the accepter"),
  target("chat", 0, "s2c", 0, "first MESSAGE relayed to the requester"),
]

/**
 * Per phase, the frame whose every byte is flipped in turn: one whose size does not depend on who
 * else is online (LIST replies do).
 */
export const EVERY_BYTE_TARGETS: Record<Phase, Target> = {
  login: MITM_TARGETS[0]!,
  list: MITM_TARGETS[5]!,
  request: MITM_TARGETS[8]!,
  e2e: MITM_TARGETS[11]!,
  chat: MITM_TARGETS[13]!,
}

/** One manipulation of one target frame. */
export interface Attempt {
  readonly target: Target
  readonly name: string
  readonly action: Manipulation
}

/** A frame of the same size with plausible header fields (type, version, direction, counter). */
const forgeLike =
  (random: Random) =>
  (frame: Uint8Array): Uint8Array => {
    const type = frame[4]
    const keep =
      type === FrameType.Record
        ? 15
        : type === FrameType.ClientHello
          ? 13
          : type === FrameType.ServerHello
            ? 6
            : 5
    return Buffer.concat([frame.subarray(0, keep), random(frame.length - keep)])
  }

const span = (from: number, to: number, step = 1): number[] =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step)
/** Inside one key or ciphertext a flip anywhere meets the same check: its edges and every 16th byte. */
const field = (from: number, to: number): number[] => [...span(from, to, 16), to - 1]
/** Frames up to this size have every byte flipped. */
const SHORT_FRAME_BYTES = 200

/**
 * The offsets a test flips in `frame`: all of a short frame; of a long one (v3's CLIENT_HELLO with its
 * ML-KEM key, a record carrying a certificate and a key) every framing and header byte, the edges of
 * each field and every 16th byte inside it, so the test takes about as long as with v2's short frames.
 */
export const sampledOffsets = (frame: Uint8Array): number[] => {
  if (frame.length <= SHORT_FRAME_BYTES) return span(0, frame.length)
  if (frame[FRAME_HEADER_BYTES] === FrameType.ClientHello) {
    const nonce = FRAME_HEADER_BYTES + 1 + PROTOCOL_NAME.length + 1
    const key = nonce + NONCE_BYTES
    const kem = key + KEY_BYTES
    return [
      ...span(0, nonce),
      ...field(nonce, key),
      ...field(key, kem),
      ...field(kem, kem + KEM_ENCAPSULATION_KEY_BYTES),
    ]
  }
  const body = FRAME_HEADER_BYTES + RECORD_HEADER_BYTES
  const tag = frame.length - AEAD_TAG_BYTES
  return [...new Set([...span(0, body), ...field(body, tag), ...span(tag, frame.length)])]
}

/** Flips of single bits (XOR 0x01) at `offsets` of the target frame. */
export const flipsOf = (selected: Target, offsets: ReadonlyArray<number>): Attempt[] =>
  offsets.map((offset) => ({
    target: selected,
    name: `flip byte ${offset}`,
    action: { kind: "flip", offset, mask: 0x01 },
  }))

/**
 * Every kind of manipulation of one frame, given that frame as an honest session of other users
 * sent it (its size; material to inject), with a few representative byte flips.
 */
export const attemptsOn = (selected: Target, honest: Uint8Array, random: Random): Attempt[] => {
  const half = Math.floor((honest.length - FRAME_HEADER_BYTES) / 2)
  const samples = [3, 4, 5, 6, 14, Math.floor(honest.length / 2), honest.length - 1]
  const kinds: ReadonlyArray<readonly [string, Manipulation]> = [
    ["drop", { kind: "drop" }],
    ["duplicate", { kind: "duplicate" }],
    ["swap with the next frame", { kind: "swap" }],
    ["delay 250 ms", { kind: "delay", ms: 250 }],
    ["truncate to half, length rewritten", { kind: "truncate", keep: half, close: false }],
    ["truncate to half, then close", { kind: "truncate", keep: half, close: true }],
    [
      "replace with the frame of another session",
      { kind: "inject", position: "instead", forge: () => honest },
    ],
    ["inject a forged frame before it", { kind: "inject", position: "before", forge: forgeLike(random) }],
    ["inject 16 random bytes before it", { kind: "inject", position: "before", forge: () => random(16) }],
    ["reflect to its sender", { kind: "reflect" }],
  ]
  return [
    ...kinds.map(([name, action]) => ({ target: selected, name, action })),
    ...flipsOf(
      selected,
      [...new Set(samples)].filter((offset) => offset < honest.length),
    ),
  ]
}

/** What the server answers a frame or record it rejects (§2.1, §5.2) before closing. */
const FRAMING_OR_RECORD_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.RecordRejected,
  ErrorCode.Malformed,
  ErrorCode.FrameTooLarge,
])

/** Manipulations that only withhold bytes can stall a login until its deadline: detected by timeout. */
const withholds = (action: Manipulation): boolean =>
  action.kind === "drop" || action.kind === "swap" || (action.kind === "flip" && action.offset < 4)

const detected = (outcome: MitmOutcome, action: Manipulation): boolean => {
  switch (outcome.kind) {
    case "login-failed":
      return outcome.error.reason !== "Timeout" || withholds(action)
    case "closed":
      return (
        outcome.closed.reason === "protocol" ||
        outcome.closed.reason === "eof" ||
        (outcome.closed.reason === "server-error" && FRAMING_OR_RECORD_ERRORS.has(outcome.closed.code))
      )
    case "e2e-failed":
      return true
    case "completed":
    case "stalled":
      return false
  }
}

export const describeOutcome = (outcome: MitmOutcome): string => {
  switch (outcome.kind) {
    case "login-failed":
      return `login failed (${outcome.error.reason}): ${outcome.error.message}`
    case "closed":
      return `${outcome.who} closed: ${JSON.stringify(outcome.closed)}`
    case "e2e-failed":
      return `${outcome.who} e2e failed: ${outcome.message}`
    case "completed":
      return "completed"
    case "stalled":
      return `stalled: ${outcome.detail}`
  }
}

/**
 * What is wrong with one attempt's result, if anything: the manipulation did not apply, altered
 * data or plaintext showed, received texts are not a prefix of the sent ones, a delay was not
 * transparent, or any other manipulation went undetected.
 */
export const verdict = (attempt: Attempt, result: MitmResult): string | undefined => {
  const label = `${attempt.target.phase} / ${attempt.target.what} / ${attempt.name}`
  const { sent, received, outcome } = result
  if (result.fired !== 1) return `${label}: the manipulation was applied ${result.fired} times`
  if (result.altered.length > 0) return `${label}: altered data delivered: ${result.altered.join("; ")}`
  if (result.leaked.length > 0) return `${label}: chat text visible on the wire`
  const prefix = (got: ReadonlyArray<string>, of: ReadonlyArray<string>) =>
    got.every((text, i) => text === of[i])
  if (!prefix(received.byBob, sent.toBob) || !prefix(received.byAlice, sent.toAlice)) {
    return `${label}: received texts are not a prefix of the sent texts`
  }
  if (attempt.action.kind === "delay") {
    const all = received.byBob.length === sent.toBob.length && received.byAlice.length === sent.toAlice.length
    return outcome.kind === "completed" && all
      ? undefined
      : `${label}: a delay was not transparent: ${describeOutcome(outcome)}`
  }
  return detected(outcome, attempt.action) ? undefined : `${label}: not detected: ${describeOutcome(outcome)}`
}

export interface CampaignRow {
  readonly attempt: Attempt
  readonly result: MitmResult
  /** Undefined when the attempt was detected (or, for a delay, transparent). */
  readonly problem: string | undefined
}

/**
 * Runs attempts against one server, `concurrency` at a time, each with a fresh pair of users
 * (`prefix` + number) and its own proxy. Starts with two honest sessions whose frames supply
 * sizes and material to inject ("a frame of another session").
 */
export class MitmCampaign {
  readonly #donors: MitmProxy[]
  #pairs = 0

  private constructor(
    readonly server: TestServer,
    private readonly options: {
      readonly prefix: string
      readonly concurrency: number
      readonly random: Random
    },
    donors: MitmProxy[],
  ) {
    this.#donors = donors
  }

  static async start(
    server: TestServer,
    options: { readonly prefix: string; readonly concurrency: number; readonly random: Random },
  ): Promise<MitmCampaign> {
    const campaign = new MitmCampaign(server, options, [])
    for (const upTo of ["list", "chat"] as const) {
      const honest = await runMitmCase(server, { upTo, names: campaign.newPair() })
      if (honest.outcome.kind !== "completed") {
        throw new Error(`an honest session failed: ${describeOutcome(honest.outcome)}`)
      }
      campaign.#donors.push(honest.proxy)
    }
    return campaign
  }

  /** Two fresh user names of fixed length, so a frame has the same size in every attempt. */
  newPair(): readonly [string, string] {
    const id = `${this.options.prefix}${(this.#pairs++).toString().padStart(5, "0")}`
    return [`${id}a`, `${id}b`]
  }

  /** The target frame as the honest session sent it. */
  honestFrame(selector: FrameSelector): Uint8Array {
    for (const donor of this.#donors) {
      const frame = donor.frame(selector)
      if (frame !== undefined) return frame
    }
    throw new Error(`no honest frame at ${JSON.stringify(selector)}`)
  }

  /** Every manipulation kind on every target of `phase`. */
  attemptsFor(phase: Phase): Attempt[] {
    return MITM_TARGETS.filter((t) => t.phase === phase).flatMap((t) =>
      attemptsOn(t, this.honestFrame(t), this.options.random),
    )
  }

  /** A flip of each byte of the phase's every-byte target. */
  everyByte(phase: Phase): Attempt[] {
    const selected = EVERY_BYTE_TARGETS[phase]
    const length = this.honestFrame(selected).length
    return flipsOf(
      selected,
      Array.from({ length }, (_, offset) => offset),
    )
  }

  /** Flips of the phase's every-byte target at `sampledOffsets` (all bytes of a short frame). */
  sampledBytes(phase: Phase): Attempt[] {
    const selected = EVERY_BYTE_TARGETS[phase]
    return flipsOf(selected, sampledOffsets(this.honestFrame(selected)))
  }

  async run(attempts: ReadonlyArray<Attempt>): Promise<CampaignRow[]> {
    const rows: CampaignRow[] = new Array(attempts.length)
    let next = 0
    const worker = async () => {
      while (next < attempts.length) {
        const i = next++
        const attempt = attempts[i]!
        const { what: _, ...selector } = attempt.target
        const result = await runMitmCase(this.server, {
          rule: { ...selector, action: attempt.action },
          upTo: attempt.target.phase,
          names: this.newPair(),
        })
        rows[i] = { attempt, result, problem: verdict(attempt, result) }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, attempts.length) }, worker))
    return rows
  }
}
