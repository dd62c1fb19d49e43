/**
 * Resource attacks on admission and framing, each under the harness of attack-harness.ts:
 * slowloris (one byte of the hello every 100 ms), half-open connections (connect, send nothing),
 * declared lengths at the maximum and beyond, and a flood of concurrent hellos. Each checks that
 * the configured limit holds (per-address handshakes, connection cap, handshake timeout, frame
 * size) while the legitimate pair keeps chatting. docs/protocol.md §2.1, §11. Test-only.
 */
import { startClientHandshake } from "../../src/crypto/handshake-client.ts"
import { systemRandom } from "../../src/crypto/primitives.ts"
import { ErrorCode, MAX_FRAME_BODY, MAX_RECORD_PLAINTEXT } from "../../src/protocol/index.ts"
import {
  ATTACK_LIMITS,
  type AttackContext,
  type AttackReport,
  type AttackTally,
  attackerAddress,
  attackSocket,
  handshakesInFlight,
  runAttack,
} from "./attack-harness.ts"
import { rawLogin } from "./raw-client.ts"
import { sleep } from "./runner.ts"

/** How long a server may take past the handshake timeout to close a connection (loaded machine). */
const SLACK_MS = 1_500
const REFUSED: ReadonlySet<number | undefined> = new Set([ErrorCode.RateLimited, ErrorCode.ServerBusy])

class Counter {
  cases = 0
  rejected = 0
  survived = 0
  readonly notes: string[] = []
  tally(): AttackTally {
    return { cases: this.cases, rejected: this.rejected, survived: this.survived, notes: this.notes }
  }
}

const header = (length: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}

/** Many sockets sending one byte of a valid hello every 100 ms, reconnecting when closed. */
export const slowloris = (durationMs: number): Promise<AttackReport> =>
  runAttack("slowloris", durationMs, async (context) => {
    const counter = new Counter()
    const addresses = 2
    const perAddress = ATTACK_LIMITS.maxHandshakesPerAddress * 2
    const attacker = async (address: string): Promise<void> => {
      while (Date.now() < context.deadline) {
        const attack = attackSocket(context.server.port, address)
        const hello = startClientHandshake(systemRandom).frame
        let sent = 0
        const trickle = setInterval(() => {
          if (sent < hello.length && attack.socket.writable) attack.socket.write(hello.subarray(sent, ++sent))
        }, 100)
        const ended = await attack.ended
        clearInterval(trickle)
        counter.cases++
        if (ended.hello) context.broken("a slowloris connection got its hello answered")
        if (ended.alert === ErrorCode.Timeout || REFUSED.has(ended.alert)) counter.rejected++
        else if (ended.connected) context.broken(`a slowloris connection closed with alert ${ended.alert}`)
        if (ended.alert === ErrorCode.Timeout && ended.ms > ATTACK_LIMITS.handshakeTimeoutMs + SLACK_MS) {
          context.broken(`a slowloris connection lived ${ended.ms} ms`)
        }
        if (ended.alert !== ErrorCode.Timeout) await sleep(50)
      }
    }
    const limit = addresses * ATTACK_LIMITS.maxHandshakesPerAddress
    let peak = 0
    const watch = setInterval(() => {
      const inFlight = handshakesInFlight(context.server)
      peak = Math.max(peak, inFlight)
      if (inFlight > limit) context.broken(`${inFlight} handshakes in flight from ${addresses} addresses`)
    }, 10)
    await Promise.all(
      Array.from({ length: addresses * perAddress }, (_, i) => attacker(attackerAddress(i % addresses))),
    )
    clearInterval(watch)
    counter.notes.push(
      `${addresses} addresses × ${perAddress} sockets; peak ${peak} handshakes in flight (limit ${limit})`,
    )
    return counter.tally()
  })

/** Waves of connections that send nothing, more than the connection cap, from many addresses. */
export const halfOpen = (durationMs: number): Promise<AttackReport> =>
  runAttack("half-open", durationMs, async (context) => {
    const counter = new Counter()
    const sockets = ATTACK_LIMITS.maxConnections + 16
    let wavesAtCap = 0
    while (Date.now() < context.deadline) {
      const wave = Array.from({ length: sockets }, (_, i) =>
        attackSocket(context.server.port, attackerAddress(i % 16)),
      )
      const results = Promise.all(wave.map((attack) => attack.ended))
      const ended = await results
      for (const result of ended) {
        counter.cases++
        if (result.alert === ErrorCode.Timeout || REFUSED.has(result.alert)) counter.rejected++
        else context.broken(`a half-open connection ended with alert ${result.alert}`)
        if (result.ms > ATTACK_LIMITS.handshakeTimeoutMs + SLACK_MS)
          context.broken(`a half-open connection lived ${result.ms} ms`)
      }
      if (ended.some((r) => r.alert === ErrorCode.ServerBusy)) wavesAtCap++
    }
    counter.notes.push(
      `${sockets} sockets per wave against a cap of ${ATTACK_LIMITS.maxConnections}; ${wavesAtCap} waves hit the cap (SERVER_BUSY)`,
    )
    return counter.tally()
  })

/** One stalled maximum-length first frame, one complete one, two beyond the maximum. */
const lengthWave = async (context: AttackContext, counter: Counter, index: number): Promise<void> => {
  const port = context.server.port
  const stalled = attackSocket(port, attackerAddress(index * 4))
  stalled.socket.write(
    Buffer.concat([header(MAX_FRAME_BODY), new Uint8Array(MAX_FRAME_BODY >> 1).fill(0x01)]),
  )
  const complete = attackSocket(port, attackerAddress(index * 4 + 1))
  complete.socket.write(Buffer.concat([header(MAX_FRAME_BODY), new Uint8Array(MAX_FRAME_BODY).fill(0x42)]))
  const beyond = [MAX_FRAME_BODY + 1, 0xffffffff].map((length, i) => {
    const attack = attackSocket(port, attackerAddress(index * 4 + 2 + i))
    attack.socket.write(header(length))
    return attack
  })
  const expectations: Array<[typeof stalled, number, number]> = [
    [stalled, ErrorCode.Timeout, ATTACK_LIMITS.handshakeTimeoutMs + SLACK_MS],
    [complete, ErrorCode.UnsupportedVersion, SLACK_MS],
    [beyond[0]!, ErrorCode.FrameTooLarge, SLACK_MS],
    [beyond[1]!, ErrorCode.FrameTooLarge, SLACK_MS],
  ]
  for (const [attack, code, withinMs] of expectations) {
    const ended = await attack.ended
    counter.cases++
    if (ended.alert === code || REFUSED.has(ended.alert)) counter.rejected++
    else context.broken(`declared length: alert ${ended.alert}, expected ${code}`)
    if (ended.alert === code && ended.ms > withinMs)
      context.broken(`declared length: closed after ${ended.ms} ms`)
  }
}

/**
 * After login: the largest legal record (65,536 bytes of plaintext: one MESSAGE outside a chat)
 * is accepted and answered ILLEGAL_STATE, the connection stays up; then a declared 65,564 closes
 * it with FRAME_TOO_LARGE before any body byte.
 */
const loggedInLengths = async (context: AttackContext, counter: Counter): Promise<void> => {
  const { server } = context
  const client = await rawLogin({
    port: server.port,
    pki: server.pki,
    identity: { name: "mallory", key: server.users.get("mallory")! },
  })
  const envelope = new Uint8Array(MAX_RECORD_PLAINTEXT - 3).fill(0x33)
  client.send({ type: "Message", envelope })
  const answer = await client.next((m) => m.type === "Error")
  counter.cases++
  if (answer.type === "Error" && answer.code === ErrorCode.IllegalState && !answer.fatal) counter.survived++
  else context.broken(`the largest legal record got ${JSON.stringify(answer)}`)
  client.write(header(MAX_FRAME_BODY + 1))
  await client.awaitServerClose(SLACK_MS)
  const last = client.messages.at(-1)
  counter.cases++
  if (last?.type === "Error" && last.code === ErrorCode.FrameTooLarge) counter.rejected++
  else context.broken(`a declared 65,564 after login got ${JSON.stringify(last)}`)
}

/** Declared lengths at 65,563 (stalled and complete) and beyond, in parallel waves, and after login. */
export const maxLength = (durationMs: number): Promise<AttackReport> =>
  runAttack("max-length", durationMs, async (context) => {
    const counter = new Counter()
    const parallel = 12
    while (Date.now() < context.deadline) {
      await Promise.all([
        ...Array.from({ length: parallel }, (_, i) => lengthWave(context, counter, i)),
        loggedInLengths(context, counter),
      ])
    }
    counter.notes.push(
      `${parallel} × (stalled 65,563, complete 65,563, 65,564, 2^32-1) per wave; after login: a 65,563-byte record accepted, 65,564 refused`,
    )
    return counter.tally()
  })

/**
 * Waves of 500 concurrent valid hellos from 10 addresses, each holding its handshake open (never
 * sending 1.2) until the server times it out: at most 8 per address and 64 in all may be served.
 */
export const handshakeFlood = (durationMs: number, perWave = 500): Promise<AttackReport> =>
  runAttack("handshake-flood", durationMs, async (context) => {
    const counter = new Counter()
    const addresses = 10
    let peak = 0
    const watch = setInterval(() => {
      const inFlight = handshakesInFlight(context.server)
      peak = Math.max(peak, inFlight)
      if (inFlight > addresses * ATTACK_LIMITS.maxHandshakesPerAddress)
        context.broken(`${inFlight} handshakes in flight`)
    }, 10)
    const one = async (i: number): Promise<void> => {
      const attack = attackSocket(context.server.port, attackerAddress(i % addresses))
      attack.socket.on("connect", () => attack.socket.write(startClientHandshake(systemRandom).frame))
      const ended = await attack.ended
      counter.cases++
      if (ended.hello) counter.survived++
      else counter.rejected++
      if (ended.alert !== undefined && !REFUSED.has(ended.alert))
        context.broken(`a hello got alert ${ended.alert}`)
      if (ended.hello && ended.ms > ATTACK_LIMITS.handshakeTimeoutMs + SLACK_MS)
        context.broken(`a held handshake lived ${ended.ms} ms`)
    }
    let waves = 0
    while (Date.now() < context.deadline) {
      await Promise.all(Array.from({ length: perWave }, (_, i) => one(i)))
      waves++
    }
    clearInterval(watch)
    counter.notes.push(
      `${waves} waves of ${perWave} concurrent hellos held open from ${addresses} addresses; peak ${peak} handshakes in flight`,
    )
    return counter.tally()
  })
