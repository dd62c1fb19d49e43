/**
 * The login load: one loop per user, each completing full logins back to back for the duration —
 * onechat: `connectLink` resolving (1.0–1.3), then close and wait for the socket to close; TLS
 * baselines: a full TLS 1.3 handshake (no session resumption; X25519MLKEM768 or X25519, offered
 * alone) plus the server's first byte, then close. Counts completed logins and the time from the
 * first start to the last completion.
 */
import { connect, createSecureContext, type SecureContext } from "node:tls"
import { TLS_LOGIN_GROUPS, type TlsLoginTarget } from "../baselines/tls-credentials.ts"
import type { AgentCommand } from "../lib/wire.ts"
import { type CommandQueue, emit } from "./io.ts"
import { closeLink, loginUser } from "./onechat-pair.ts"
import type { TargetContext } from "./relay.ts"

type LoginCommand = Extract<AgentCommand, { readonly cmd: "login-load" }>

/** A client context offering only the target's key-exchange group (so it makes one key share). */
const clientContext = (ca: string, target: TlsLoginTarget): SecureContext =>
  createSecureContext({ ca, minVersion: "TLSv1.3", ecdhCurve: TLS_LOGIN_GROUPS[target] })

/** One TLS handshake to completion on both sides (the server's byte), then a clean close. */
const tlsHandshake = (port: number, secureContext: SecureContext): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", secureContext })
    socket.setNoDelay(true)
    socket.once("error", reject)
    socket.once("data", () => {
      socket.once("close", () => resolve())
      socket.end()
    })
  })

export const runLoginLoad = async (command: LoginCommand, context: TargetContext, commands: CommandQueue) => {
  const target = command.target
  const secure = target === "onechat" ? undefined : clientContext(context.caPem, target)
  const once =
    secure === undefined
      ? async (user: string) => closeLink(await loginUser(command.port, context.trust, user))
      : () => tlsHandshake(command.port, secure)
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
