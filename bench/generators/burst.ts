/**
 * Drives bursts over lanes: each lane sends its prepared payloads within a window of messages in
 * flight (sent, not yet received), topping the window up when half of it has arrived; or, paced,
 * at a fixed rate per lane. Every arrival is checked (length, counter in order) on the spot; the
 * payloads are kept for the lane's verification when it needs them.
 */
import { envelopeBytes, type Lane, readCounter } from "./lanes.ts"

interface LaneRun {
  readonly lane: Lane
  readonly payloads: ReadonlyArray<Uint8Array>
  readonly kept: Uint8Array[]
  sent: number
  received: number
  expected: number
}

export interface BurstResult {
  readonly delivered: number
  /** From the first send to the last arrival. */
  readonly elapsedMs: number
  /** The last arrival, in ms since the epoch. */
  readonly lastArrivalAt: number
  /** Arrivals with a wrong length or out-of-order counter. */
  readonly orderFailures: number
  readonly runs: ReadonlyArray<{ readonly lane: Lane; readonly kept: ReadonlyArray<Uint8Array> }>
}

export interface BurstOptions {
  readonly size: number
  /** Messages in flight per lane at most. */
  readonly window: number
  /** Messages per second per lane; undefined: as fast as the window allows. */
  readonly ratePerLane?: number
  /** Fails the burst when nothing arrives for this long. */
  readonly stallMs?: number
}

/** The window in messages for a byte budget per lane. */
export const windowFor = (size: number, windowBytes: number): number =>
  Math.max(2, Math.floor(windowBytes / envelopeBytes(size)))

export const runBurst = (
  lanes: ReadonlyArray<{ readonly lane: Lane; readonly payloads: ReadonlyArray<Uint8Array> }>,
  options: BurstOptions,
): Promise<BurstResult> =>
  new Promise((resolve, reject) => {
    const { window, ratePerLane } = options
    const length = envelopeBytes(options.size)
    const runs: LaneRun[] = lanes.map(({ lane, payloads }) => ({
      lane,
      payloads,
      kept: [],
      sent: 0,
      received: 0,
      expected: payloads.length > 0 ? readCounter(payloads[0]!) : 0,
    }))
    let remaining = runs.reduce((sum, run) => sum + run.payloads.length, 0)
    const total = remaining
    let orderFailures = 0
    let lastArrival = performance.now()
    const start = performance.now()
    const due = (run: LaneRun): number =>
      ratePerLane === undefined
        ? run.payloads.length
        : Math.min(run.payloads.length, Math.floor((ratePerLane * (performance.now() - start)) / 1000))
    const pump = (run: LaneRun): void => {
      const cap = Math.min(due(run), run.received + window)
      const minimum =
        ratePerLane === undefined ? Math.min(Math.max(1, window >> 1), run.payloads.length - run.sent) : 1
      if (cap - run.sent < minimum || cap <= run.sent) return
      run.lane.sender.send(run.payloads.slice(run.sent, cap))
      run.sent = cap
    }
    const finish = (): void => {
      clearInterval(ticker)
      resolve({
        delivered: total,
        elapsedMs: lastArrival - start,
        lastArrivalAt: performance.timeOrigin + lastArrival,
        orderFailures,
        runs,
      })
    }
    for (const run of runs) {
      const keep = run.lane.verifiesPayloads
      run.lane.receiver.onPayload((payload) => {
        if (payload.length !== length || readCounter(payload) !== run.expected) orderFailures++
        run.expected++
        run.received++
        if (keep) run.kept.push(payload)
        lastArrival = performance.now()
        if (--remaining === 0) finish()
        else pump(run)
      })
    }
    const stallMs = options.stallMs ?? 30_000
    const ticker = setInterval(
      () => {
        if (ratePerLane !== undefined) for (const run of runs) pump(run)
        if (performance.now() - lastArrival > stallMs) {
          clearInterval(ticker)
          reject(new Error(`burst stalled: ${total - remaining} of ${total} arrived`))
        }
      },
      ratePerLane === undefined ? 1_000 : 2,
    )
    if (total === 0) finish()
    else for (const run of runs) pump(run)
  })

/** Runs each lane's verification over what it kept; returns the failures. */
export const verifyBurst = (result: BurstResult, size: number): number =>
  result.runs.reduce(
    (failures, run) => failures + (run.lane.verifiesPayloads ? run.lane.verify(run.kept, size) : 0),
    0,
  )
