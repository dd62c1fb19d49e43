/**
 * Resource attacks by logged-in users, under the harness of attack-harness.ts: a chat peer that
 * floods its partner as fast as the relay lets it, and clients that never read (a chat partner
 * being flooded, and a PING flooder ignoring its PONGs). The reader must keep up without being
 * cut off; the non-readers must be cut off (SLOW_CONSUMER) with bounded server memory and their
 * peer told; the legitimate pair keeps chatting. docs/protocol.md §11. Test-only.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import type { ClientLink } from "../../src/client/link.ts"
import { type ClientMessage, NotifyReason } from "../../src/protocol/index.ts"
import { establishChat, login } from "../chat.ts"
import { ATTACK_LIMITS, type AttackContext, type AttackReport, runAttack } from "./attack-harness.ts"
import { rawLogin } from "./raw-client.ts"
import { waitUntil } from "./runner.ts"

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Ends a link and waits for it (whoever ends first). */
const leave = async (link: ClientLink): Promise<void> => {
  link.close({ quit: true })
  await link.closed
}

/**
 * Mallory floods eve with 1 KiB messages, never more in flight than eve could hold below the
 * outbound bound, so a reader that keeps up must never be cut off.
 */
export const messageFlood = (durationMs: number): Promise<AttackReport> =>
  runAttack("message-flood", durationMs, async (context) => {
    const { server } = context
    const [mallory, eve] = await Promise.all([login(server, "mallory"), login(server, "eve")])
    await establishChat(server, mallory, eve)
    const window = Math.floor((ATTACK_LIMITS.maxOutboundBytes * 3) / 4 / 1024)
    const envelope = new Uint8Array(1024).fill(0x42)
    let received = 0
    let peerLeft = false
    eve.onMessage((message) => {
      if (message.type === "Message") received++
    })
    mallory.onMessage((message) => {
      if (message.type === "Notify") peerLeft = true
    })
    let sent = 0
    while (Date.now() < context.deadline && !peerLeft) {
      while (sent - received < window) {
        mallory.send({ type: "Message", envelope })
        sent++
      }
      await tick()
    }
    await waitUntil(() => received === sent || peerLeft, "the flood drained", 10_000).catch(() => {})
    if (peerLeft) context.broken("the reading peer was cut off during the flood")
    if (received !== sent && !peerLeft) context.broken(`${sent - received} flooded messages lost`)
    await Promise.all([leave(mallory), leave(eve)])
    const seconds = durationMs / 1000
    return {
      cases: sent,
      rejected: sent - received,
      survived: received,
      notes: [
        `${sent} × 1 KiB relayed in ${seconds} s (${Math.round(sent / seconds)} msg/s), window ${window}`,
      ],
    }
  })

/** Mallory floods eve, who never reads: eve must be cut off and mallory told. Returns messages sent. */
const floodNonReader = async (mallory: ClientLink, eve: ClientLink, deadline: number): Promise<number> => {
  eve.stopReading()
  let notified = false
  void mallory
    .next((m) => m.type === "Notify" && m.peer === "eve" && m.reason === NotifyReason.Disconnected, 60_000)
    .then(
      () => {
        notified = true
      },
      () => {},
    )
  const envelope = new Uint8Array(16 * 1024).fill(0x17)
  let sent = 0
  while (!notified && Date.now() < deadline + 20_000) {
    for (let i = 0; i < 16; i++) mallory.send({ type: "Message", envelope })
    sent += 16
    await tick()
  }
  return notified ? sent : -1
}

/**
 * Trudy floods PINGs (full records of them) and never reads her PONGs: the server must cut her off.
 * Her own unsent bytes are kept under 1 MiB, so the memory measured is the server's. Returns PINGs sent.
 */
const pingFlood = async (
  context: AttackContext,
): Promise<{ readonly sent: number; readonly stallMs: number }> => {
  const { server } = context
  await waitUntil(
    () => server.server.connectionCount() === context.baseline,
    "the chat flooders left",
    10_000,
  )
  const trudy = await rawLogin({
    port: context.server.port,
    pki: context.server.pki,
    identity: { name: "trudy", key: context.server.users.get("trudy")! },
  })
  trudy.socket.pause()
  const perRecord = Math.floor(65_536 / 11)
  const pings = Array.from(
    { length: perRecord },
    (_, i): ClientMessage => ({ type: "Ping", value: BigInt(i) }),
  )
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  // the server's view decides: a paused socket may not even notice the server hung up
  const cutOff = () => trudy.isClosed || server.server.connectionCount() === context.baseline
  let sent = 0
  while (!cutOff() && Date.now() < context.deadline + 20_000) {
    // bounded: 64 records per turn at most, and only while the socket takes them
    for (let i = 0; i < 64 && trudy.socket.writable && trudy.socket.writableLength < 1_048_576; i++) {
      trudy.send(...pings)
      sent += perRecord
    }
    await tick()
  }
  const cut = cutOff()
  delay.disable()
  trudy.kill()
  return { sent: cut ? sent : -1, stallMs: Math.round(delay.max / 1e6) }
}

/** A chat partner that never reads, and a PING flooder that never reads. */
export const neverReads = (durationMs: number): Promise<AttackReport> =>
  runAttack("never-reads", durationMs, async (context) => {
    const { server } = context
    const [mallory, eve] = await Promise.all([login(server, "mallory"), login(server, "eve")])
    await establishChat(server, mallory, eve)
    const messages = await floodNonReader(mallory, eve, context.deadline)
    if (messages < 0) context.broken("a chat partner that never reads was not cut off")
    await leave(mallory)
    eve.close()
    const { sent: pings, stallMs } = await pingFlood(context)
    if (pings < 0) context.broken("a PING flooder that never reads was not cut off")
    const cut = (messages >= 0 ? 1 : 0) + (pings >= 0 ? 1 : 0)
    return {
      cases: 2,
      rejected: cut,
      survived: 2 - cut,
      notes: [
        `non-reading partner cut after ${messages} × 16 KiB (${Math.round((messages * 16) / 1024)} MiB) sent to it`,
        `${stallMs > 1_000 ? "WARNING: " : ""}PING flooder cut after ${pings} PINGs written; longest event-loop stall ${stallMs} ms`,
      ],
    }
  })

/** Logs `names` in, `batch` at a time (the per-address handshake limit applies to us too). */
const crowd = async (
  context: AttackContext,
  names: ReadonlyArray<string>,
  batch = 6,
): Promise<ClientLink[]> => {
  const links: ClientLink[] = []
  for (let i = 0; i < names.length; i += batch) {
    links.push(...(await Promise.all(names.slice(i, i + batch).map((name) => login(context.server, name)))))
  }
  return links
}

/**
 * Cheap requests with expensive answers: with `online` idle users logged in, trudy sends `records`
 * records packed with LIST requests (21,845 per record). Measures the longest event-loop stall and
 * the RSS growth; trudy must be cut off (her answers far exceed the outbound bound).
 */
export const requestFlood = (online: number, records: number): Promise<AttackReport> => {
  const names = Array.from({ length: online }, (_, i) => `idle-user-${i}`)
  return runAttack(
    "request-flood",
    0,
    async (context) => {
      const links = await crowd(context, names)
      const { server } = context
      const trudy = await rawLogin({
        port: server.port,
        pki: server.pki,
        identity: { name: "trudy", key: server.users.get("trudy")! },
      })
      trudy.socket.pause()
      const rssBefore = process.memoryUsage().rss
      const delay = monitorEventLoopDelay({ resolution: 10 })
      delay.enable()
      const lists = Array.from({ length: Math.floor(65_536 / 3) }, (): ClientMessage => ({ type: "List" }))
      for (let i = 0; i < records; i++) trudy.send(...lists)
      const open = context.baseline + online
      await waitUntil(() => server.server.connectionCount() === open, "trudy cut off", 60_000).catch(() =>
        context.broken("a LIST flooder that never reads was not cut off"),
      )
      delay.disable()
      trudy.kill()
      const stallMs = Math.round(delay.max / 1e6)
      const rssGrowth = Math.round((process.memoryUsage().rss - rssBefore) / 1_048_576)
      await Promise.all(links.map(leave))
      const warning = stallMs > 1_000 ? "WARNING: " : ""
      return {
        cases: records,
        rejected: records,
        survived: 0,
        notes: [
          `${warning}${records} record(s) of 21,845 LISTs with ${online} users online: event loop stalled ${stallMs} ms, RSS +${rssGrowth} MiB before the flooder was cut`,
        ],
      }
    },
    { extraUsers: names },
  )
}
