/**
 * A hostile onechat server for fuzzing the client link, built from the server-side login steps
 * (as test/client/link.test.ts builds its fake): it follows a script per connection that replaces
 * SERVER_HELLO, the authentication record, the 1.3 LIST, or the records after it with hostile
 * bytes — garbage, mutated records, or validly sealed records of arbitrary plaintext — then hangs
 * up. Test-only; real TCP on 127.0.0.1.
 */
import { createServer, type Server, type Socket } from "node:net"
import { Result } from "effect"
import type { LoginIdentity } from "../../src/crypto/handshake-client.ts"
import {
  type ServerAwaitingClientAuth,
  serverOpenClientAuth,
  serverReceiveClientHello,
  serverVerifyClient,
} from "../../src/crypto/handshake-server.ts"
import { makeRecordChannel, type RecordSealer } from "../../src/crypto/record.ts"
import { encodeServerMessage, FrameDecoder, type ServerMessage } from "../../src/protocol/index.ts"
import type { TestPki } from "../pki.ts"
import { seededRandom } from "../random.ts"
import { applyMutations, type Mutation, sameBytes } from "./mutate.ts"

/** One hostile thing the server sends after the login. */
export type HostileItem =
  /** Valid messages in one validly sealed record. */
  | { readonly kind: "messages"; readonly messages: ReadonlyArray<ServerMessage> }
  /** Arbitrary plaintext bytes in one validly sealed record. */
  | { readonly kind: "sealed"; readonly plaintext: Uint8Array }
  /** A validly sealed record of `plaintext`, then mutated (length prefix included). */
  | {
      readonly kind: "mutated"
      readonly plaintext: Uint8Array
      readonly mutations: ReadonlyArray<Mutation>
    }
  /** Raw bytes on the wire. */
  | { readonly kind: "garbage"; readonly bytes: Uint8Array }

/** Where the hostility starts, and what is sent there. */
export type HostileScript =
  | { readonly phase: "hello"; readonly bytes: Uint8Array }
  | {
      readonly phase: "auth"
      readonly item: HostileItem | { readonly kind: "genuine"; readonly mutations: ReadonlyArray<Mutation> }
    }
  | { readonly phase: "welcome"; readonly item: HostileItem }
  | { readonly phase: "app"; readonly items: ReadonlyArray<HostileItem> }

export const WELCOME: ServerMessage = { type: "List", total: 2, names: ["bob", "carol"] }

/** What went on the wire for one item, as the oracle needs it. */
export interface SentItem {
  readonly bytes: Uint8Array
  /** True when the bytes are exactly a genuine record (or nothing at all). */
  readonly genuine: boolean
  /** The plaintext of a genuine record (or of the intact record a mutation left in front). */
  readonly plaintext?: Uint8Array
  /**
   * Not genuine, but the bytes begin with the whole genuine record (the damage comes after it,
   * e.g. a duplicated then flipped copy): the link may deliver that record before it stops.
   */
  readonly intactPrefix?: boolean
}

/** Puts an item on the wire (the sealer's counter advances for the sealed kinds). */
export const itemBytes = (item: HostileItem, sealer: RecordSealer): SentItem => {
  switch (item.kind) {
    case "garbage":
      return { bytes: item.bytes, genuine: item.bytes.length === 0 }
    case "messages": {
      const plaintext = Uint8Array.from(Buffer.concat(item.messages.map(encodeServerMessage)))
      return { bytes: Result.getOrThrow(sealer.seal(plaintext)), genuine: true, plaintext }
    }
    case "sealed":
      return {
        bytes: Result.getOrThrow(sealer.seal(item.plaintext)),
        genuine: true,
        plaintext: item.plaintext,
      }
    case "mutated": {
      const frame = Result.getOrThrow(sealer.seal(item.plaintext))
      const bytes = applyMutations(
        { bytes: frame, lengthFields: [{ offset: 0, width: 4 }] },
        item.mutations,
        frame,
      )
      if (sameBytes(bytes, frame)) return { bytes, genuine: true, plaintext: item.plaintext }
      return bytes.length > frame.length && sameBytes(bytes.subarray(0, frame.length), frame)
        ? { bytes, genuine: false, plaintext: item.plaintext, intactPrefix: true }
        : { bytes, genuine: false }
    }
  }
}

export interface HostileServer {
  readonly port: number
  /** The script for the next connection. */
  script: HostileScript
  /** What the latest connection was sent after the login (or in place of its steps). */
  readonly sent: SentItem[]
  stop(): Promise<void>
}

/** The genuine authentication record (1.1), mutated; genuine when the mutations changed nothing. */
const mutatedAuth = (genuine: Uint8Array, mutations: ReadonlyArray<Mutation>): SentItem => {
  const bytes = applyMutations(
    { bytes: genuine, lengthFields: [{ offset: 0, width: 4 }] },
    mutations,
    genuine,
  )
  return { bytes, genuine: sameBytes(bytes, genuine) }
}

/** A sealer with the handshake keys at counter 0: hostile records in place of the genuine 1.1. */
const freshHandshakeSealer = (awaiting: ServerAwaitingClientAuth): RecordSealer =>
  makeRecordChannel("server", awaiting.secrets.clientToServer, awaiting.secrets.serverToClient).sealer

const serve = (
  socket: Socket,
  script: HostileScript,
  sent: SentItem[],
  pki: TestPki,
  user: LoginIdentity,
): void => {
  const decoder = new FrameDecoder()
  let awaiting: ServerAwaitingClientAuth | undefined
  let phase: "hello" | "auth" | "app" = "hello"
  const hangUp = (items: ReadonlyArray<SentItem>): void => {
    sent.push(...items)
    socket.end(Buffer.concat(items.map((item) => item.bytes)))
  }
  const receive = (body: Uint8Array): void => {
    if (phase === "hello") {
      if (script.phase === "hello") return hangUp([{ bytes: script.bytes, genuine: false }])
      awaiting = Result.getOrThrow(serverReceiveClientHello(body, pki.server, seededRandom("hostile")))
      const [hello, auth] = awaiting.frames
      if (script.phase === "auth") {
        const item =
          script.item.kind === "genuine"
            ? mutatedAuth(auth!, script.item.mutations)
            : itemBytes(script.item, freshHandshakeSealer(awaiting))
        return hangUp([{ bytes: hello!, genuine: true }, item])
      }
      socket.write(Buffer.concat(awaiting.frames))
      phase = "auth"
    } else if (phase === "auth") {
      phase = "app"
      const pending = serverOpenClientAuth(awaiting!, body)
      if (Result.isFailure(pending)) return void socket.destroy()
      Result.getOrThrow(serverVerifyClient(pending.success, user.key.publicKey))
      const { sealer } = pending.success.channel
      if (script.phase === "welcome") return hangUp([itemBytes(script.item, sealer)])
      if (script.phase === "app") {
        const welcome = itemBytes({ kind: "messages", messages: [WELCOME] }, sealer)
        hangUp([welcome, ...script.items.map((item) => itemBytes(item, sealer))])
      }
    }
    // after the login: whatever the client sends (PONGs) is read and ignored
  }
  socket.on("data", (chunk: Buffer) => {
    const frames = decoder.push(chunk)
    if (Result.isFailure(frames)) return void socket.destroy()
    for (const body of frames.success) if (!socket.destroyed && socket.writable) receive(body)
  })
}

/** Starts a hostile server that logs `user` in (when its script gets that far). */
export const startHostileServer = async (pki: TestPki, user: LoginIdentity): Promise<HostileServer> => {
  const sockets = new Set<Socket>()
  const sent: SentItem[] = []
  const state: { script: HostileScript } = { script: { phase: "app", items: [] } }
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
    sent.length = 0
    serve(socket, state.script, sent, pki, user)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    port,
    get script() {
      return state.script
    },
    set script(script: HostileScript) {
      state.script = script
    },
    sent,
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
