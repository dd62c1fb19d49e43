/**
 * Fault: a connection actor failing inside (an exception injected on a poisoned envelope, the
 * pattern of test/net/isolation.test.ts), repeated as a scenario: each time the failing user's
 * peer gets NOTIFY "failed", its socket is closed, LIST shows no ghost, the failed user can log in
 * again, and the legitimate pair keeps chatting throughout. Test-only.
 */
import { Result } from "effect"
import { MIN_ENVELOPE_BYTES, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, expectMessage, login } from "../chat.ts"
import { POISON, poisonedSupervisor } from "../supervisors.ts"
import { type AttackContext, type AttackReport, runAttack } from "./attack-harness.ts"
import { waitUntil } from "./runner.ts"

const fail = (what: string): never => {
  throw new Error(what)
}

const oneFailure = async (context: AttackContext, victimName: string, peerName: string): Promise<void> => {
  const { server } = context
  const [victim, peer] = await Promise.all([login(server, victimName), login(server, peerName)])
  const chat = await establishChat(server, victim, peer)
  victim.send({ type: "Message", envelope: Result.getOrThrow(chat.requester.seal("fine")) })
  const fine = await expectMessage(peer, "Message")
  const opened = Result.getOrThrow(chat.accepter.open(fine.envelope))
  if (opened.kind !== "text" || opened.text !== "fine") fail("the chat did not work before the fault")
  victim.send({ type: "Message", envelope: new Uint8Array(MIN_ENVELOPE_BYTES).fill(POISON) })
  const notify = await expectMessage(peer, "Notify", 5_000)
  if (notify.peer !== victimName || notify.reason !== NotifyReason.Failed)
    fail(`peer told ${JSON.stringify(notify)}`)
  const closed = await victim.closed
  if (closed.reason === "local") fail("the failed connection was not closed by the server")
  await waitUntil(
    () => server.server.connectionCount() === context.baseline + 1,
    "the failed connection is gone",
  )
  const again = await login(server, victimName)
  if (again.welcome.names.join() !== peerName) fail(`LIST after the fault: ${again.welcome.names.join(", ")}`)
  again.close({ quit: true })
  peer.close({ quit: true })
  await Promise.all([again.closed, peer.closed])
}

/** `rounds` injected actor failures, alternating which side fails. */
export const actorFailures = (rounds: number): Promise<AttackReport> =>
  runAttack(
    "actor-failures",
    0,
    async (context) => {
      for (let round = 0; round < rounds; round++) {
        if (round % 2 === 0) await oneFailure(context, "mallory", "eve")
        else await oneFailure(context, "eve", "mallory")
      }
      return {
        cases: rounds,
        rejected: 0,
        survived: rounds,
        notes: [`${rounds} injected actor failures: peer told "failed", no ghost, re-login works`],
      }
    },
    { machine: poisonedSupervisor },
  )
