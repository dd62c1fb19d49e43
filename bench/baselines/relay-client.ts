/**
 * The baseline relays' client side (bench/baselines/relay-server.ts): connects both sides of a pair
 * over TLS 1.3 (trusting the dev CA, full handshake) or plain TCP, sends the hello, waits for the
 * pairing, and exposes the pair's lanes. Payloads are filler with the length of the onechat e2e
 * envelope of the same chat text and a u64 counter where the envelope has its message number
 * (lanes.ts, `writeCounter`); a batch of payloads leaves in one write.
 */
import { connect as connectTcp, type Socket } from "node:net"
import { connect as connectTls, createSecureContext, type SecureContext } from "node:tls"
import { envelopeBytes, type Lane, type OpenPair, type PairSide, writeCounter } from "../generators/lanes.ts"
import { encodeFrames, FrameSplitter } from "./framing.ts"

export type FramedTransport = { readonly kind: "tls"; readonly ca: string } | { readonly kind: "plain" }

const contexts = new Map<string, SecureContext>()

/** One client context per CA, as a real client keeps it (not re-parsed per connection). */
export const tlsClientContext = (ca: string): SecureContext => {
  let context = contexts.get(ca)
  if (context === undefined) {
    context = createSecureContext({ ca, minVersion: "TLSv1.3" })
    contexts.set(ca, context)
  }
  return context
}

/** Connects; resolves once the transport is up (TLS: handshake complete). */
export const connectFramed = (port: number, transport: FramedTransport): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket =
      transport.kind === "tls"
        ? connectTls({
            host: "127.0.0.1",
            port,
            servername: "localhost",
            ca: transport.ca,
            minVersion: "TLSv1.3",
          })
        : connectTcp({ host: "127.0.0.1", port })
    socket.setNoDelay(true)
    socket.once("error", reject)
    socket.once(transport.kind === "tls" ? "secureConnect" : "connect", () => {
      socket.off("error", reject)
      socket.on("error", () => {})
      resolve(socket)
    })
  })

const hello = (pairId: number, side: number): Buffer => {
  const payload = Buffer.alloc(8)
  payload.writeUInt32BE(pairId, 0)
  payload.writeUInt32BE(side, 4)
  return encodeFrames([payload])
}

/** A connected, paired side: the first (empty) frame is the pairing; later frames are payloads. */
const pairedSide = (socket: Socket): Promise<PairSide> =>
  new Promise((resolve, reject) => {
    const splitter = new FrameSplitter()
    let handler: (payload: Uint8Array) => void = () => {}
    let paired = false
    const side: PairSide = {
      send: (payloads) => {
        socket.write(encodeFrames(payloads))
      },
      onPayload: (next) => {
        handler = next
      },
    }
    socket.once("close", () => reject(new Error("closed before pairing")))
    socket.on("data", (chunk: Buffer) =>
      splitter.push(chunk, (payload) => {
        if (paired) handler(payload)
        else {
          paired = true
          resolve(side)
        }
      }),
    )
  })

let fillerByte = 0

const lane = (sender: PairSide, receiver: PairSide): Lane => {
  let counter = 0
  return {
    sender,
    receiver,
    verifiesPayloads: false,
    verification: "counter order and length checked on arrival (no crypto)",
    prepare: (count, size) =>
      Array.from({ length: count }, () => {
        const payload = Buffer.alloc(envelopeBytes(size), ++fillerByte & 0xff)
        writeCounter(payload, counter)
        counter++
        return payload
      }),
    verify: () => 0,
  }
}

const closeSocket = (socket: Socket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.destroyed) resolve()
    else {
      socket.once("close", () => resolve())
      socket.end()
      setTimeout(() => socket.destroy(), 2_000).unref()
    }
  })

/** Connects and pairs both sides of pair `pairId` on a baseline relay. */
export const openFramedPair = async (
  port: number,
  transport: FramedTransport,
  pairId: number,
): Promise<OpenPair> => {
  const [a, b] = await Promise.all([connectFramed(port, transport), connectFramed(port, transport)])
  const sides = Promise.all([pairedSide(a), pairedSide(b)])
  a.write(hello(pairId, 0))
  b.write(hello(pairId, 1))
  const [sideA, sideB] = await sides
  return {
    lanes: [lane(sideA, sideB), lane(sideB, sideA)],
    close: async () => {
      await Promise.all([closeSocket(a), closeSocket(b)])
    },
  }
}
