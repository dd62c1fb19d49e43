/**
 * The `npm run attack` row "malicious-server": our own server with a supervisor that flips one bit
 * of one relayed end-to-end value per chat (certificate, nonce, ephemeral key or ML-KEM value in RTT
 * or ACCEPT; signature or confirmation in ACCEPT or CC_SESSION_ESTABLISHMENT), with no pin to help (first
 * contact), and servers presenting certificates the client must refuse. A case is rejected when the
 * client's own check refuses it (docs/protocol.md §3.2, §8); healthy means every case was refused
 * and an honest chat still works on the same server afterwards. The user-facing side (UI events,
 * pinning, replays, misrouting, substituted identities) is test/adversarial/malicious-server.test.ts
 * and malicious-identity.test.ts.
 */
import { Effect, Exit, Scope } from "effect"
import type { SupervisorEvent } from "../../src/actors/connection.events.ts"
import type { SupervisorContext, SupervisorInputEvent } from "../../src/actors/supervisor.machine.ts"
import { connectLink, LinkError } from "../../src/client/link.ts"
import { silentLogger } from "../../src/net/log.ts"
import { serve } from "../../src/net/server.ts"
import { type CertificateCase, certificateCases } from "../../testkit/certificate-cases.ts"
import { chatSteps, expectMessage, login } from "../../testkit/chat.ts"
import { NOW } from "../../testkit/pki.ts"
import { startTestServer, type TestServer, testServerConfig, userKey } from "../../testkit/server.ts"
import { lyingSupervisor } from "../../testkit/supervisors.ts"
import type { AttackCategory } from "../categories.ts"

type Relay = "REQUEST_INCOMING" | "REQUEST_ACCEPTED" | "CHAT_ESTABLISHED"

/** One bit flipped in one field of one relayed message, for the chat requested by `requester`. */
interface Corruption {
  readonly relay: Relay
  readonly field:
    | "certificate"
    | "nonce"
    | "ephemeralKey"
    | "kemKey"
    | "kemCiphertext"
    | "signature"
    | "confirmation"
  readonly offset: number
}

const FIELDS: ReadonlyArray<Omit<Corruption, "offset"> & { readonly size: number }> = [
  // Certificates are ~330 bytes: offsets past the end wrap around (see `flip`).
  { relay: "REQUEST_INCOMING", field: "certificate", size: 330 },
  { relay: "REQUEST_INCOMING", field: "nonce", size: 32 },
  { relay: "REQUEST_INCOMING", field: "ephemeralKey", size: 32 },
  { relay: "REQUEST_INCOMING", field: "kemKey", size: 1_184 },
  { relay: "REQUEST_ACCEPTED", field: "certificate", size: 330 },
  { relay: "REQUEST_ACCEPTED", field: "nonce", size: 32 },
  { relay: "REQUEST_ACCEPTED", field: "ephemeralKey", size: 32 },
  { relay: "REQUEST_ACCEPTED", field: "kemCiphertext", size: 1_088 },
  { relay: "REQUEST_ACCEPTED", field: "signature", size: 64 },
  { relay: "REQUEST_ACCEPTED", field: "confirmation", size: 32 },
  { relay: "CHAT_ESTABLISHED", field: "signature", size: 64 },
  { relay: "CHAT_ESTABLISHED", field: "confirmation", size: 32 },
]

const flip = (bytes: Uint8Array, offset: number): Uint8Array => {
  const flipped = Uint8Array.from(bytes)
  const at = offset % flipped.length
  flipped[at] = flipped[at]! ^ 0x01
  return flipped
}

/** Applies the plan of `requester`'s chat, if any, to one relayed message. */
const corrupt = <E extends SupervisorEvent>(message: E, plan: Corruption | undefined): E => {
  if (plan === undefined || plan.relay !== message.type) return message
  if (plan.field === "certificate" && "from" in message && typeof message.from === "object") {
    return { ...message, from: { ...message.from, certificate: flip(message.from.certificate, plan.offset) } }
  }
  const value = (message as unknown as Record<string, Uint8Array>)[plan.field]
  return value === undefined ? message : { ...message, [plan.field]: flip(value, plan.offset) }
}

/** Our supervisor, relaying RTT, ACCEPT and CC_SESSION_ESTABLISHMENT through `corrupt`. */
const corruptingSupervisor = (plans: ReadonlyMap<string, Corruption>) =>
  lyingSupervisor(({ context, event, tell }) => relayCorrupted(context, event, tell, plans))

const relayCorrupted = (
  { directory }: SupervisorContext,
  event: SupervisorInputEvent,
  tell: (connectionId: string | undefined, message: SupervisorEvent) => void,
  plans: ReadonlyMap<string, Corruption>,
): boolean => {
  if (!("connectionId" in event)) return false
  const name = directory.nameOf(event.connectionId)
  const user = name === undefined ? undefined : directory.userOf(name)
  if (user === undefined) return false
  switch (event.type) {
    case "CHAT_REQUESTED": {
      const outcome = directory.request(user.name, event.to)
      if ("refused" in outcome) return false
      const { nonce, ephemeralKey, kemKey } = event
      const message = { type: "REQUEST_INCOMING" as const, from: user, nonce, ephemeralKey, kemKey }
      tell(outcome.target.connectionId, corrupt(message, plans.get(user.name)))
      return true
    }
    case "CHAT_ACCEPTED": {
      const peer = directory.advance(user.name, "accepter", event.requester, "requested", "establishing")
      const { nonce, ephemeralKey, kemCiphertext, signature, confirmation } = event
      const message = {
        type: "REQUEST_ACCEPTED" as const,
        from: user,
        nonce,
        ephemeralKey,
        kemCiphertext,
        signature,
        confirmation,
      }
      tell(peer?.connectionId, corrupt(message, plans.get(event.requester)))
      return true
    }
    case "CHAT_ESTABLISHING": {
      const peer = directory.advance(user.name, "requester", event.accepter, "establishing", "chatting")
      const { signature, confirmation } = event
      const message = { type: "CHAT_ESTABLISHED" as const, from: user.name, signature, confirmation }
      tell(peer?.connectionId, corrupt(message, plans.get(user.name)))
      return true
    }
    default:
      return false
  }
}

/**
 * One end-to-end agreement between fresh users through the corrupting server. Returns who refused
 * it and why, or undefined when both sides completed (the corruption went unnoticed).
 */
const agree = async (server: TestServer, names: readonly [string, string]): Promise<string | undefined> => {
  for (const name of names) server.users.set(name, userKey(name))
  const [a, b] = await Promise.all(names.map((name) => login(server, name)))
  try {
    // chatSteps throws "<user>: <reason>" at the first check that refuses.
    const steps = chatSteps(server)
    const request = steps.request(a!, names[1])
    const acceptance = steps.accept(b!, await expectMessage(b!, "Rtt"))
    steps.complete(a!, request, await expectMessage(a!, "Accept"))
    steps.finish(b!, acceptance, await expectMessage(b!, "CcSessionEstablishment"))
    return undefined
  } catch (error) {
    if (error instanceof LinkError) throw error
    return error instanceof Error ? error.message : String(error)
  } finally {
    a!.close({ quit: true })
    b!.close({ quit: true })
  }
}

/**
 * Serves the case's credentials for one login attempt; true when the client refused the server
 * with the sentence the case names.
 */
const refusesCertificate = async ({ setUp, refusal }: CertificateCase): Promise<boolean> => {
  const { credentials, trust } = await setUp()
  const scope = await Effect.runPromise(Scope.make())
  try {
    const running = await Effect.runPromise(
      serve(testServerConfig(), {
        credentials,
        log: silentLogger,
        // alice talks to nobody here: her certificate is never relayed.
        lookupUser: async () => ({
          status: "registered",
          publicKey: userKey("alice").publicKey,
          certificateDer: Uint8Array.of(0x30),
        }),
      }).pipe(Scope.provide(scope)),
    )
    const link = await connectLink({
      host: "127.0.0.1",
      port: running.port,
      serverName: "localhost",
      trust,
      identity: { name: "alice", key: userKey("alice") },
      now: () => NOW,
    })
    link.close()
    return false
  } catch (error) {
    return error instanceof LinkError && error.reason === "Handshake" && refusal.test(error.message)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export const maliciousServerCategory: AttackCategory = {
  name: "malicious-server",
  run: async (budget) => {
    const plans = new Map<string, Corruption>()
    const server = await startTestServer({ users: [], machine: corruptingSupervisor(plans) })
    const missed: string[] = []
    let cases = 0
    let rejected = 0
    try {
      const corruptions = FIELDS.flatMap((field) =>
        (budget === "long" ? Array.from({ length: field.size }, (_, i) => i) : [0, field.size - 1]).map(
          (offset): Corruption => ({ relay: field.relay, field: field.field, offset }),
        ),
      )
      for (const [i, corruption] of corruptions.entries()) {
        const names = [`v${i}a`, `v${i}b`] as const
        plans.set(names[0], corruption)
        const what = `${corruption.relay}.${corruption.field}[${corruption.offset}]`
        cases++
        try {
          if ((await agree(server, names)) === undefined) missed.push(`${what} accepted`)
          else rejected++
        } catch (error) {
          missed.push(
            `${what} ended without a verdict: ${error instanceof Error ? error.message : String(error)}`,
          )
        }
      }
      for (const certificateCase of certificateCases) {
        const { what } = certificateCase
        cases++
        if (await refusesCertificate(certificateCase)) rejected++
        else missed.push(`certificate: ${what}`)
      }
      const honest = await agree(server, ["honest-a", "honest-b"]).catch((error: unknown) => String(error))
      const notes = [
        `${corruptions.length} one-bit corruptions of relayed e2e values, ${cases - corruptions.length} refused certificates`,
        ...(missed.length === 0 ? [] : [`not rejected: ${missed.slice(0, 5).join(", ")}`]),
        ...(honest === undefined ? [] : [`honest chat failed afterwards: ${honest}`]),
      ]
      return {
        cases,
        rejected,
        serverHealthy: honest === undefined && missed.length === 0,
        notes: notes.join("\n"),
      }
    } finally {
      await server.stop()
    }
  },
}
