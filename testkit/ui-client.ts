/**
 * Real clients as a person sees them, for the adversarial suites: a ClientSession (certificate
 * checks, pins, ratchet) over real TCP whose UI events are recorded and awaited one by one, and
 * the steps of a chat as a user types them. Shared by test/adversarial and attack/.
 */
import { KnownPeers } from "../src/client/known-peers.ts"
import { connectLink } from "../src/client/link.ts"
import type { UiEvent } from "../src/client/session.events.ts"
import { ClientSession } from "../src/client/session.ts"
import type { IdentityKeyPair } from "../src/crypto/identity.ts"
import { NOW } from "./pki.ts"
import { type TestServer, userKey } from "./server.ts"

export interface UiTarget {
  readonly port: number
  readonly trust: { readonly caCertificateDer: Uint8Array; readonly localCrlDer?: Uint8Array }
}

/** A ClientSession whose UI events are recorded and can be awaited one by one. */
export class UiClient {
  readonly events: UiEvent[] = []
  readonly session: ClientSession
  readonly #taken = new Set<UiEvent>()
  readonly #waiting = new Set<() => void>()

  constructor(
    readonly name: string,
    readonly knownPeers: KnownPeers,
    server: UiTarget,
    key: IdentityKeyPair,
    /** The clock of peer-certificate checks (the login's is NOW). */
    now: () => Date = () => NOW,
  ) {
    this.session = new ClientSession({
      identity: { name, key },
      knownPeers,
      now,
      connect: () =>
        connectLink({
          host: "127.0.0.1",
          port: server.port,
          serverName: "localhost",
          trust: server.trust,
          identity: { name, key },
          now: () => NOW,
        }),
      onUi: (event) => {
        this.events.push(event)
        for (const wake of this.#waiting) wake()
      },
    })
  }

  command(line: string): void {
    this.session.command(line)
  }

  /** The next event of `type` not yet taken (others stay queued), within a deadline. */
  next<T extends UiEvent["type"]>(type: T, timeoutMs = 5_000): Promise<Extract<UiEvent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(
          (event): event is Extract<UiEvent, { type: T }> => event.type === type && !this.#taken.has(event),
        )
        if (found === undefined) return
        this.#taken.add(found)
        done()
        resolve(found)
      }
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(`${this.name}: no ${type} within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`),
        )
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.#waiting.delete(check)
      }
      this.#waiting.add(check)
      check()
    })
  }

  count(type: UiEvent["type"]): number {
    return this.events.filter((event) => event.type === type).length
  }
}

/** Clients started by `uiUser`, to be ended after each test (`endUiClients`). */
const started: UiClient[] = []

export const endUiClients = (): void => {
  for (const client of started.splice(0)) client.session.exit()
}

/**
 * Logs `name` in to `server` with a ClientSession whose pin list holds `pins`; its key is the one
 * the server has registered for `name` (or `key`).
 */
export const uiUser = async (
  server: TestServer,
  name: string,
  options: {
    readonly pins?: Record<string, Uint8Array>
    readonly key?: IdentityKeyPair
    readonly now?: () => Date
  } = {},
): Promise<UiClient> => {
  const knownPeers = await KnownPeers.open(undefined)
  for (const [peer, key] of Object.entries(options.pins ?? {})) await knownPeers.pin(peer, key)
  const target = { port: server.port, trust: { caCertificateDer: server.pki.caCertificateDer } }
  const key = options.key ?? server.users.get(name) ?? userKey(name)
  const client = new UiClient(name, knownPeers, target, key, options.now)
  started.push(client)
  await client.session.start()
  await client.next("ready")
  return client
}

/** `requester` asks `accepter`, who accepts. */
export const requestAndAccept = async (requester: UiClient, accepter: UiClient): Promise<void> => {
  requester.command(`!request ${accepter.name}`)
  await accepter.next("request")
  accepter.command("!accept")
}

/** Both see the chat start. */
export const chatStarted = async (requester: UiClient, accepter: UiClient): Promise<void> => {
  await requestAndAccept(requester, accepter)
  await requester.next("chat_started")
  await accepter.next("chat_started")
}
