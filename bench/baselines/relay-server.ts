/**
 * Baseline relays: pairs connections and forwards length-prefixed frames between them, over Node
 * `tls` (TLS 1.3, the dev PKI's Ed25519 certificate) with `--tls`, or over plain TCP without. Each
 * connection first sends a hello frame (u32 pair id ‖ u32 side); once both sides are there each gets
 * an empty frame. Then every chunk's complete frames go to the peer in ONE write (coalesced), the
 * rest waits for the next chunk; a peer that does not drain pauses the sender.
 * Usage: node --import tsx bench/baselines/relay-server.ts --dir D [--tls] [--port 0]
 */
import { createServer as createTcpServer, type Socket } from "node:net"
import { createServer as createTlsServer } from "node:tls"
import { FrameSplitter } from "./framing.ts"
import { flag, tlsServerCredentials } from "./tls-credentials.ts"

const useTls = process.argv.includes("--tls")
const waiting = new Map<number, Socket>()
const PAIRED = Buffer.alloc(4) // an empty frame

const forward = (from: Socket, to: Socket, splitter: FrameSplitter): void => {
  from.on("data", (chunk: Buffer) => {
    const frames = splitter.completeFrames(chunk)
    if (frames.length > 0 && !to.write(frames)) {
      from.pause()
      to.once("drain", () => from.resume())
    }
  })
  from.on("end", () => to.end())
}

const onConnection = (socket: Socket): void => {
  socket.setNoDelay(true)
  socket.on("error", () => socket.destroy())
  const splitter = new FrameSplitter()
  const onHello = (chunk: Buffer): void => {
    let hello: Buffer | undefined
    splitter.push(chunk, (payload) => {
      hello ??= payload
    })
    if (hello === undefined) return
    socket.off("data", onHello)
    const pairId = hello.readUInt32BE(0)
    const peer = waiting.get(pairId)
    if (peer === undefined) {
      waiting.set(pairId, socket)
      return
    }
    waiting.delete(pairId)
    forward(socket, peer, splitter)
    forward(peer, socket, new FrameSplitter())
    socket.write(PAIRED)
    peer.write(PAIRED)
  }
  socket.on("data", onHello)
  socket.on("close", () => {
    for (const [id, s] of waiting) if (s === socket) waiting.delete(id)
  })
}

const server = useTls
  ? createTlsServer({ ...tlsServerCredentials(flag("dir")), minVersion: "TLSv1.3" }, onConnection)
  : createTcpServer({ noDelay: true }, onConnection)
server.on("tlsClientError", () => {})
server.listen({ host: "127.0.0.1", port: Number(flag("port", "0")) }, () => {
  const address = server.address()
  if (address !== null && typeof address === "object") {
    console.log(`${useTls ? "tls" : "plain"} relay listening on 127.0.0.1:${address.port}`)
  }
})
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0))
