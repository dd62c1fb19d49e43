/**
 * The parent ⇄ load-generator protocol: one JSON object per line, commands on the agent's stdin,
 * events on its stdout. Commands that are timed answer `ready` first and start on `go`, so the
 * parent can read server CPU time right before every agent starts.
 */

/** What a load generator talks to: the onechat server or one of the baselines. */
export type Target = "onechat" | "tls" | "plain"

/** One chatting pair: a global id (baselines pair connections by it) and the two user names. */
export interface PairSpec {
  readonly id: number
  readonly a: string
  readonly b: string
}

export type AgentCommand =
  | {
      readonly cmd: "login-load"
      /** "tls": TLS 1.3 with X25519MLKEM768; "tls-x25519": with X25519 only. */
      readonly target: "onechat" | "tls" | "tls-x25519"
      readonly port: number
      readonly users: ReadonlyArray<string>
      readonly durationMs: number
    }
  | {
      readonly cmd: "relay-open"
      readonly target: Target
      readonly port: number
      readonly pairs: ReadonlyArray<PairSpec>
    }
  | {
      readonly cmd: "relay-burst"
      /** The session (opened by relay-open for this target) to send on. */
      readonly target: Target
      readonly size: number
      readonly perLane: number
      readonly windowBytes: number
      /** Messages per second per lane, or undefined: as fast as the window allows. */
      readonly ratePerLane?: number
    }
  | { readonly cmd: "relay-close"; readonly target: Target }
  | {
      readonly cmd: "latency"
      readonly target: Target
      readonly port: number
      readonly pair: PairSpec
      readonly size: number
      readonly rounds: number
      readonly warmup: number
    }
  | {
      readonly cmd: "idle-open"
      readonly port: number
      readonly users: ReadonlyArray<string>
      readonly concurrency: number
    }
  | { readonly cmd: "idle-close" }
  | { readonly cmd: "go" }
  | { readonly cmd: "exit" }

export type AgentEvent =
  | { readonly type: "started" }
  | { readonly type: "ready" }
  | {
      readonly type: "login-result"
      readonly logins: number
      readonly failures: number
      readonly elapsedMs: number
    }
  | { readonly type: "relay-opened"; readonly lanes: number; readonly setupMs: number }
  | {
      readonly type: "relay-delivered"
      readonly delivered: number
      readonly elapsedMs: number
      /** When the last message arrived, in ms since the epoch (comparable across processes). */
      readonly lastArrivalAt: number
    }
  | {
      readonly type: "relay-verified"
      readonly verified: number
      readonly failures: number
      readonly method: string
    }
  | { readonly type: "relay-closed" }
  | {
      readonly type: "latency-result"
      /** Round-trip times in microseconds, in the order measured (warm-up excluded). */
      readonly rttUs: ReadonlyArray<number>
      /** When the last round trip ended, in ms since the epoch. */
      readonly finishedAt: number
      readonly verified: number
      readonly failures: number
    }
  | {
      readonly type: "idle-opened"
      readonly connected: number
      readonly failures: number
      readonly elapsedMs: number
    }
  | { readonly type: "idle-closed"; readonly closed: number }
  | { readonly type: "error"; readonly message: string }

export type AgentEventOf<T extends AgentEvent["type"]> = Extract<AgentEvent, { readonly type: T }>

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null

/** The event on one stdout line, or undefined for a line that is not one (e.g. a stray log). */
export const parseAgentEvent = (line: string): AgentEvent | undefined => {
  try {
    const value: unknown = JSON.parse(line)
    return isRecord(value) && typeof value.type === "string" ? (value as unknown as AgentEvent) : undefined
  } catch {
    return undefined
  }
}

/** The command on one stdin line; throws on anything else (the parent is trusted code). */
export const parseAgentCommand = (line: string): AgentCommand => {
  const value: unknown = JSON.parse(line)
  if (!isRecord(value) || typeof value.cmd !== "string") throw new Error(`not a command: ${line}`)
  return value as unknown as AgentCommand
}
