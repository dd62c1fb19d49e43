/**
 * The login load: one loop per user, each completing full logins back to back for the duration —
 * onechat: `connectLink` resolving (1.0–1.3), then close and wait for the socket to close; TLS
 * baseline: a full TLS 1.3 handshake (no session resumption) plus the server's first byte, then
 * close. Counts completed logins and the time from the first start to the last completion.
 */
import { connect } from "node:tls"
import { tlsClientContext } from "../baselines/relay-client.ts"
import type { AgentCommand } from "../lib/wire.ts"
import { type CommandQueue, emit } from "./io.ts"
import { closeLink, loginUser } from "./onechat-pair.ts"
import type { TargetContext } from "./relay.ts"

type LoginCommand = Extract<AgentCommand, { readonly cmd: "login-load" }>

/** One TLS handshake to completion on both sides (the server's byte), then a clean close. */
const tlsHandshake = (port: number, ca: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      secureContext: tlsClientContext(ca),
    })
    socket.setNoDelay(true)
    socket.once("error", reject)
    socket.once("data", () => {
      socket.once("close", () => resolve())
      socket.end()
    })
  })

export const runLoginLoad = async (command: LoginCommand, context: TargetContext, commands: CommandQueue) => {
  const once =
    command.target === "onechat"
      ? async (user: string) => closeLink(await loginUser(command.port, context.trust, user))
      : () => tlsHandshake(command.port, context.caPem)
  await commands.readyThenGo()
  const start = performance.now()
  const deadline = start + command.durationMs
  let logins = 0
  let failures = 0
  let last = start
  await Promise.all(
    command.users.map(async (user) => {
      while (performance.now() < deadline) {
        try {
          await once(user)
          logins++
          last = performance.now()
        } catch {
          failures++
        }
      }
    }),
  )
  emit({ type: "login-result", logins, failures, elapsedMs: last - start })
}
