/**
 * One direction of one proxied connection: cuts the byte stream into length-prefixed frames
 * (docs/protocol.md §2.1), asks the proxy which rule selects each frame, and applies that rule's
 * manipulation (drop, duplicate, swap, delay, truncate, inject, reflect, flip) on the way out.
 * `Outlet` writes to one socket strictly in order. Holds no keys; used by proxy.ts only.
 */
import type { Socket } from "node:net"
import { Result } from "effect"
import { FRAME_HEADER_BYTES, FrameDecoder } from "../../src/protocol/index.ts"
import type { Manipulation, Rule, Way } from "./rules.ts"

/** Counts and records each frame, and returns the unused rule that selects it (`MitmProxy.observe`). */
export interface FrameObserver {
  observe(connection: number, way: Way, bytes: Uint8Array): Rule | undefined
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Bytes going to one socket, strictly in order; a delay holds back everything queued after it. */
export class Outlet {
  #chain: Promise<void> = Promise.resolve()

  constructor(
    readonly socket: Socket,
    private readonly record: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array, afterMs = 0): void {
    this.#chain = this.#chain.then(async () => {
      if (afterMs > 0) await sleep(afterMs)
      if (this.socket.destroyed || !this.socket.writable) return
      this.record(bytes)
      this.socket.write(bytes)
    })
  }

  /** Ends the socket once everything queued before has been written. */
  end(): void {
    this.#chain = this.#chain.then(() => {
      this.socket.end()
    })
  }

  /** Destroys the socket once everything queued before has been written. */
  destroy(): void {
    this.#chain = this.#chain.then(() => {
      this.socket.destroy()
    })
  }
}

/** One direction of one proxied connection: decoder, the rules that apply, and where frames go. */
export class Pipe {
  readonly #decoder = new FrameDecoder()
  #held: Uint8Array | undefined
  #cut = false

  constructor(
    private readonly observer: FrameObserver,
    private readonly connection: number,
    private readonly way: Way,
    private readonly forward: Outlet,
    private readonly back: Outlet,
    private readonly hangUp: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#cut) return
    const bodies = this.#decoder.push(chunk)
    if (Result.isFailure(bodies)) {
      this.hangUp() // an honest endpoint never sends this
      return
    }
    for (const body of bodies.success) {
      const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length)
      new DataView(frame.buffer).setUint32(0, body.length)
      frame.set(body, FRAME_HEADER_BYTES)
      this.#frame(frame)
      if (this.#cut) return
    }
  }

  #frame(frame: Uint8Array): void {
    const rule = this.observer.observe(this.connection, this.way, frame)
    const held = this.#held
    this.#held = undefined
    if (rule === undefined) this.forward.write(frame)
    else this.#apply(rule.action, frame)
    if (held !== undefined && !this.#cut) this.forward.write(held)
  }

  #apply(action: Manipulation, frame: Uint8Array): void {
    switch (action.kind) {
      case "drop":
        return
      case "duplicate":
        this.forward.write(frame)
        this.forward.write(frame)
        return
      case "swap":
        this.#held = frame
        return
      case "delay":
        this.forward.write(frame, action.ms)
        return
      case "truncate":
        return this.#truncate(frame, action.keep, action.close)
      case "inject":
        this.forward.write(action.forge(frame))
        if (action.position === "before") this.forward.write(frame)
        return
      case "reflect":
        this.back.write(frame)
        return
      case "flip": {
        const flipped = Uint8Array.from(frame)
        flipped[Math.min(action.offset, frame.length - 1)]! ^= action.mask
        this.forward.write(flipped)
        return
      }
    }
  }

  #truncate(frame: Uint8Array, wanted: number, close: boolean): void {
    const keep = Math.min(wanted, frame.length - FRAME_HEADER_BYTES - 1)
    const body = frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + keep)
    if (!close) {
      const cut = new Uint8Array(FRAME_HEADER_BYTES + body.length)
      new DataView(cut.buffer).setUint32(0, body.length)
      cut.set(body, FRAME_HEADER_BYTES)
      this.forward.write(cut)
      return
    }
    this.#cut = true
    this.forward.write(frame.subarray(0, FRAME_HEADER_BYTES + keep))
    this.forward.end()
    this.back.end()
  }
}
