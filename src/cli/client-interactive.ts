/**
 * The interactive face of `onechat client`: a prompt that shows where you are, incoming lines
 * printed above what you are typing, peer text sanitised, colours only on a terminal, and every
 * event as one readable sentence. The session logic lives in src/client/session.ts.
 */

import { isIP } from "node:net"
import type { KnownPeers } from "../client/known-peers.ts"
import type { NotFoundReason, ServerIdentity, UiEvent } from "../client/session.events.ts"
import type { ClientSession } from "../client/session.ts"
import type { IdentityKeyPair } from "../crypto/identity.ts"
import { sanitizeForTerminal } from "./sanitize.ts"
import type { Style, Terminal } from "./terminal.ts"

interface Prepared {
  readonly key: IdentityKeyPair
  readonly trust: { readonly caCertificateDer: Uint8Array; readonly localCrlDer?: Uint8Array }
  readonly knownPeers: KnownPeers
}

interface Steps<P extends Prepared> {
  readonly prepare: (ask: (question: string) => Promise<string>) => Promise<P>
  readonly start: (prepared: P, onUi: (event: UiEvent) => void) => ClientSession
  readonly exitCodeFor: (reason: string) => number
}

const names = (online: ReadonlyArray<string>): string => online.map(sanitizeForTerminal).join(", ")

/** "Connected to NAME (DNS a, IP b), certificate SHA-256 AB:CD:…": the server as its certificate says. */
const serverLine = (server: ServerIdentity): string => {
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(server.subject)?.[1] ?? server.subject
  const hosts = server.names.map((name) => `${isIP(name) === 0 ? "DNS" : "IP"} ${name}`).join(", ")
  return sanitizeForTerminal(
    `Connected to ${commonName}${hosts === "" ? "" : ` (${hosts})`}, certificate SHA-256 ${server.fingerprint}`,
  )
}

const notFoundSentences: Record<NotFoundReason, (user: string) => string> = {
  busy: (user) => `${user} is busy in another chat.`,
  not_online: (user) => `${user} is not online.`,
  yourself: () => "You cannot request a chat with yourself.",
}

const peerLeftSentence = (event: Extract<UiEvent, { type: "peer_left" }>): string => {
  switch (event.reason) {
    case "left":
      return `${event.peer} left the chat.`
    case "disconnected":
      return `${event.peer} was disconnected.`
    case "failed":
      return `${event.peer}'s connection failed.`
    case "withdrawn":
      return `${event.peer} withdrew the request.`
    case "expired":
      return `The request ${event.direction === "outgoing" ? "to" : "from"} ${event.peer} expired (no answer within ${event.seconds} s).`
  }
}

const closedSentence = (reason: string): string =>
  reason === "quit"
    ? "Bye."
    : reason === "server_stopping"
      ? "The server is shutting down."
      : `Disconnected (${reason}).`

/** One event → the lines a person reads. */
export const formatUiEvent = (event: UiEvent, style: Style): ReadonlyArray<string> => {
  const peer = (name: string) => style.peer(sanitizeForTerminal(name))
  switch (event.type) {
    case "ready":
      return [
        style.info(serverLine(event.server)),
        style.info(
          `Logged in as ${event.user}. ${event.online.length === 0 ? "No one else is available yet." : `Available: ${names(event.online)}`}`,
        ),
        style.info("Type !help for the commands."),
      ]
    case "list":
      return [
        style.info(
          event.online.length === 0 ? "No one else is available." : `Available: ${names(event.online)}`,
        ),
      ]
    case "request_sent":
      return [style.info(`Asked ${event.to} to chat; waiting for an answer (!cancel to withdraw).`)]
    case "request":
      return [`${peer(event.from)} ${style.info("wants to chat with you: !accept or !refuse")}`]
    case "request_cancelled":
      return [style.info(`Request to ${event.to} withdrawn.`)]
    case "refused":
      return [style.info(`${event.by} refused the chat.`)]
    case "request_declined":
      return [style.info(`You declined ${event.from}'s request.`)]
    case "not_found":
      return [style.info(notFoundSentences[event.reason](sanitizeForTerminal(event.user)))]
    case "chat_started":
      return [
        style.info(
          `Chat with ${event.peer} started, end-to-end encrypted. Type to send; !quit leaves the chat.`,
        ),
        style.info(`Safety number: ${event.safety} (compare it with ${event.peer} to be sure: !verify)`),
      ]
    case "message":
      return [`${peer(event.from)}: ${sanitizeForTerminal(event.text)}`]
    case "peer_left":
      return [style.info(peerLeftSentence(event))]
    case "chat_ended":
      return [style.info(`You left the chat with ${event.peer}.`)]
    case "key_changed":
      return [
        style.error(`WARNING: ${event.peer}'s key is not the one you trusted before.`),
        style.error(
          `New safety number: ${event.safety}. Compare it with ${event.peer} over another channel;`,
        ),
        style.error("Only if it matches, type !trust followed by that number. Until then no chat starts."),
      ]
    case "safety":
      return [
        style.info(
          `Safety number with ${event.peer}: ${event.safety} (${event.verified ? "verified" : event.trusted ? "pinned, not verified: compare it, then !verify <number>" : "key NOT trusted yet"})`,
        ),
      ]
    case "trusted":
      return [style.info(`${event.peer}'s new key is trusted; it is pinned once the chat is secured.`)]
    case "verified":
      return [style.info(`${event.peer}'s key is marked verified: the numbers matched.`)]
    case "request_rejected":
    case "request_ignored":
      return [style.error(sanitizeForTerminal(event.message))]
    case "messages_lost":
      return [style.error(`WARNING: ${event.message}`)]
    case "help":
      return event.commands.map((line) => style.info(`  ${line}`))
    case "error":
      return [style.error(`error: ${event.message}`)]
    case "closed":
      return [style.info(closedSentence(event.reason))]
  }
}

const promptFor = (user: string, session: ClientSession | undefined): string => {
  const peer = session?.peer
  const state = JSON.stringify(session?.state ?? "")
  if (peer !== undefined && state.includes("active")) return `${user} → ${peer}> `
  return `${user}> `
}

/** Runs the interactive client until it closes; returns the exit status. */
export const runInteractive = async <P extends Prepared>(
  options: { readonly name: string },
  terminal: Terminal,
  steps: Steps<P>,
): Promise<number> => {
  let prepared: P
  try {
    prepared = await steps.prepare((question) => {
      if (!terminal.isInteractive) {
        throw new Error(
          "No passphrase: set ONECHAT_PASSPHRASE or use --passphrase-file (no terminal to ask on).",
        )
      }
      return terminal.readHidden(question)
    })
  } catch (error) {
    terminal.println(
      terminal.style.error(`onechat: ${error instanceof Error ? error.message : String(error)}`),
    )
    terminal.close()
    return 2
  }
  let session: ClientSession | undefined
  const show = (event: UiEvent) => {
    for (const line of formatUiEvent(event, terminal.style)) terminal.println(line)
    terminal.setPrompt(promptFor(options.name, session))
  }
  session = steps.start(prepared, show)
  terminal.setPrompt(promptFor(options.name, session))
  const active = session
  terminal.start({
    onLine: (line) => {
      active.command(line)
      terminal.setPrompt(promptFor(options.name, active))
    },
    onEnd: () => active.exit(),
    onInterrupt: () => active.exit(),
  })
  const { reason } = await active.done
  terminal.close()
  return steps.exitCodeFor(reason)
}
