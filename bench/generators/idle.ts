/**
 * The scale load: logs users in and keeps them connected and idle (the link answers the server's
 * PINGs by itself). `idle-open` adds clients to those already held; `idle-close` closes them all
 * and waits for their sockets to close.
 */
import type { ClientLink } from "../../src/client/link.ts"
import type { AgentCommand } from "../lib/wire.ts"
import { emit } from "./io.ts"
import { closeLink, loginUser } from "./onechat-pair.ts"
import { mapLimited, type TargetContext } from "./relay.ts"

type IdleCommand = Extract<AgentCommand, { readonly cmd: "idle-open" }>

const held: ClientLink[] = []

export const openIdleClients = async (command: IdleCommand, context: TargetContext) => {
  const started = performance.now()
  let failures = 0
  const links = await mapLimited(
    command.users,
    command.concurrency,
    async (user): Promise<ClientLink | undefined> => {
      try {
        return await loginUser(command.port, context.trust, user)
      } catch {
        failures++
        return undefined
      }
    },
  )
  const open = links.filter((link): link is ClientLink => link !== undefined)
  held.push(...open)
  emit({ type: "idle-opened", connected: open.length, failures, elapsedMs: performance.now() - started })
}

export const closeIdleClients = async () => {
  const links = held.splice(0)
  await mapLimited(links, 256, closeLink)
  emit({ type: "idle-closed", closed: links.length })
}
