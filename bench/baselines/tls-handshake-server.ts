/**
 * Baseline for logins/s: a Node `tls` server (TLS 1.3 only, Ed25519 certificate from the dev PKI)
 * that completes full handshakes and answers each one with a single byte once the handshake is
 * done on its side, so the client counts a handshake only after the server has finished it (as
 * onechat's 1.3 arrives after the server verified 1.2). Clients never resume sessions. `--groups`
 * sets the only key-exchange group offered (X25519MLKEM768 or X25519).
 * Usage: node --import tsx bench/baselines/tls-handshake-server.ts --dir D [--port 0] [--groups G]
 */
import { createServer } from "node:tls"
import { flag, tlsServerCredentials } from "./tls-credentials.ts"

const groups = flag("groups", "X25519MLKEM768")
const options = { ...tlsServerCredentials(flag("dir")), minVersion: "TLSv1.3", ecdhCurve: groups } as const
const server = createServer(options, (socket) => {
  socket.setNoDelay(true)
  socket.on("error", () => {})
  socket.on("end", () => socket.end())
  socket.write(Buffer.of(1))
})
server.on("tlsClientError", () => {})
server.listen({ host: "127.0.0.1", port: Number(flag("port", "0")) }, () => {
  const address = server.address()
  if (address !== null && typeof address === "object")
    console.log(`tls handshake server (${groups}) listening on 127.0.0.1:${address.port}`)
})
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0))
