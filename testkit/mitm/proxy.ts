/**
 * A man-in-the-middle TCP proxy for adversarial tests: listens on 127.0.0.1, forwards every
 * accepted connection to a real server, and acts on single frames of the length-prefixed stream in
 * each direction (docs/protocol.md §2.1) as its rules say (rules.ts, applied by pipe.ts). It
 * records every byte both ways. It has no keys: it can only do what a network attacker can.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net"
import { Outlet, Pipe } from "./pipe.ts"
import type { FrameSelector, Phase, Rule, SeenFrame, Way } from "./rules.ts"

/**
 * The proxy: every accepted connection is forwarded to the target through two `Pipe`s, one per
 * direction; frames are counted per connection, direction and phase so a rule can select one.
 */
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
