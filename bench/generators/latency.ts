/**
 * Ping-pong through a relay: A sends one message, B answers it as soon as it arrives, A measures
 * the round trip and sends the next. Both directions' payloads are prepared before `ready` (onechat:
 * sealed envelopes) and verified after the measurement (onechat: opened with ChatChannel).
 */
import type { AgentCommand } from "../lib/wire.ts"
import { type CommandQueue, emit } from "./io.ts"
import { envelopeBytes, readCounter } from "./lanes.ts"
import { openPair, type TargetContext } from "./relay.ts"

type LatencyCommand = Extract<AgentCommand, { readonly cmd: "latency" }>

export const runLatency = async (command: LatencyCommand, context: TargetContext, commands: CommandQueue) => {
  const pair = await openPair(command.target, command.port, context, command.pair)
  const [forward, backward] = pair.lanes
  const count = command.warmup + command.rounds
  const pings = forward.prepare(count, command.size)
  const pongs = backward.prepare(count, command.size)
  const receivedPings: Uint8Array[] = []
  const receivedPongs: Uint8Array[] = []
  const rttUs: number[] = []
  let orderFailures = 0
  const length = envelopeBytes(command.size)
  const firstPing = readCounter(pings[0]!)
  const firstPong = readCounter(pongs[0]!)
  await commands.readyThenGo()
  await new Promise<void>((resolve) => {
    let sentAt = 0
    forward.receiver.onPayload((ping) => {
      const i = receivedPings.length
      if (ping.length !== length || readCounter(ping) !== firstPing + i) orderFailures++
      receivedPings.push(ping)
      backward.sender.send([pongs[i]!])
    })
    backward.receiver.onPayload((pong) => {
      const i = receivedPongs.length
      const rtt = (performance.now() - sentAt) * 1000
      if (pong.length !== length || readCounter(pong) !== firstPong + i) orderFailures++
      receivedPongs.push(pong)
      if (i >= command.warmup) rttUs.push(rtt)
      if (i + 1 === count) resolve()
      else {
        sentAt = performance.now()
        forward.sender.send([pings[i + 1]!])
      }
    })
    sentAt = performance.now()
    forward.sender.send([pings[0]!])
  })
  const finishedAt = performance.timeOrigin + performance.now()
  const failures =
    orderFailures +
    (forward.verifiesPayloads ? forward.verify(receivedPings, command.size) : 0) +
    (backward.verifiesPayloads ? backward.verify(receivedPongs, command.size) : 0)
  await pair.close()
  emit({ type: "latency-result", rttUs, finishedAt, verified: 2 * count - failures, failures })
}
