/**
 * The shape of a benchmark run's results, as written to bench/results/<timestamp>.json and rendered
 * by ./report.ts. Every measured figure keeps its 3 (or --runs) raw values beside the median.
 */
import type { MachineDescription } from "./machine.ts"
import type { LatencySummary } from "./stats.ts"
import type { Target } from "./wire.ts"

/** A figure measured over several runs: the raw values and their median. */
export interface Measured {
  readonly median: number
  readonly runs: ReadonlyArray<number>
}

/** One signature scheme's cost per login (one sign, one verify) and sizes. */
export interface SignatureCost {
  readonly name: string
  readonly signUs: Measured
  readonly verifyUs: Measured
  readonly signatureBytes: number
  readonly publicKeyBytes: number
}

/** The login's primitives measured in one process (bench/scenarios/login-crypto.ts). */
export interface LoginCryptoCost {
  readonly mlkem: {
    readonly keyGenerationUs: Measured
    readonly importKeyUs: Measured
    readonly encapsulationUs: Measured
    readonly decapsulationUs: Measured
  }
  readonly x25519: { readonly keyPairUs: Measured; readonly sharedSecretUs: Measured }
  readonly wire: {
    readonly clientHelloBytes: number
    readonly serverHelloBytes: number
    /** ML-KEM-768 encapsulation key + ciphertext: what the hybrid adds to the two hellos. */
    readonly addedBytes: number
  }
  /** Ed25519 (what logins use) beside ML-DSA-65 (what a post-quantum signature would cost). */
  readonly signatures: ReadonlyArray<SignatureCost>
}

export interface LoginResult {
  /** "tls": Node TLS 1.3 with X25519MLKEM768; "tls-x25519": with X25519 only. */
  readonly target: "onechat" | "tls" | "tls-x25519"
  /** On the onechat row: the hybrid's cost per login, measured in the bench process. */
  readonly crypto?: LoginCryptoCost
  readonly loginsPerSecond: Measured
  /** Server CPU milliseconds per completed login (user + system, all threads). */
  readonly serverCpuMsPerLogin: Measured
  /** Fraction of one core the server used during the runs. */
  readonly serverCpuUtilisation: Measured
  /** Cores' worth of CPU the load generators used. */
  readonly generatorCores: Measured
  /** Cores' worth of CPU other processes on the machine used meanwhile (noise). */
  readonly otherCores: Measured
  readonly failures: number
}

export interface RelayResult {
  readonly target: Target
  readonly pairs: number
  readonly size: number
  readonly messagesPerRun: number
  readonly messagesPerSecond: Measured
  /** Server CPU microseconds per delivered message. */
  readonly serverCpuUsPerMessage: Measured
  readonly serverCpuUtilisation: Measured
  readonly generatorCores: Measured
  /** Cores' worth of CPU other processes on the machine used meanwhile (noise). */
  readonly otherCores: Measured
  readonly verified: number
  readonly failures: number
  readonly verification: string
}

export interface LatencyResult {
  readonly target: Target
  readonly load: "idle" | "loaded"
  /** Relay load in messages/s offered while measuring (0 when idle). */
  readonly offeredLoad: number
  readonly p50Us: Measured
  readonly p99Us: Measured
  readonly samples: ReadonlyArray<LatencySummary>
  readonly serverCpuUtilisation: Measured
  /** Idle runs: server CPU microseconds per round trip (two relayed messages). */
  readonly serverCpuUsPerRoundTrip: Measured
  readonly otherCores: Measured
  /** True when the load ended before the ping-pong did (the tail then ran unloaded). */
  readonly loadEndedEarly: boolean
  readonly failures: number
}

/** One step of the memory scenario: this many idle clients logged in at once. */
export interface ScaleLevel {
  readonly clients: number
  readonly connected: number
  readonly failures: number
  /** Logins per second while going from the previous level to this one. */
  readonly loginsPerSecond: number
  /** Server RSS with them connected (no GC forced), and its growth per connection since the start. */
  readonly rssKiB: number
  readonly rssKiBPerConnection: number
  /** Open file descriptors of the server (sockets + a few). */
  readonly serverFds: number
}

/** RSS and JS heap of the server right after a forced full GC (via the inspector). */
export interface AfterGc {
  readonly rssKiB: number
  readonly heapUsedKiB: number
}

export interface ScaleResult {
  /** The server just started, and after a warm-up of a few hundred logins (no GC forced). */
  readonly freshRssKiB: number
  readonly warmRssKiB: number
  readonly warmUpLogins: number
  /** RSS right before the clients connect (after the warm-up and one forced GC): the start. */
  readonly startRssKiB: number
  readonly levels: ReadonlyArray<ScaleLevel>
  /**
   * All clients disconnected and the server closed their sockets, then `secondsWaitedAfterDisconnect`
   * more (no GC forced since the top level).
   */
  readonly afterRssKiB: number
  readonly afterToStart: number
  readonly secondsWaitedAfterDisconnect: number
  /** From the clients having closed to the server having closed every socket (fd count back). */
  readonly serverCloseSeconds: number
  readonly serverFdsAfter: number
  readonly forcedGc: {
    readonly start: AfterGc
    readonly top: AfterGc
    readonly after: AfterGc
    /** (top − start) / connected, both after a forced GC: what a connection really keeps. */
    readonly liveKiBPerConnection: number
    readonly liveHeapKiBPerConnection: number
  }
  readonly openFilesLimit: { readonly server: number; readonly generators: ReadonlyArray<number> }
}

export interface ProfileEntry {
  readonly functionName: string
  readonly location: string
  readonly selfMs: number
  readonly selfPercent: number
}

export interface ProfileResult {
  /** What the server was doing (set by the profile scenario). */
  readonly scenario?: string
  readonly file: string
  readonly windowMs: number
  /** Sampled time not idle (CPU), and idle time (excluded from the percentages). */
  readonly sampledMs: number
  readonly idleMs: number
  readonly top: ReadonlyArray<ProfileEntry>
  /** Named functions under src/ by inclusive time (selfMs/selfPercent then hold the totals). */
  readonly inclusiveSrc: ReadonlyArray<ProfileEntry>
  /** Self time grouped by where the code lives (src/…, effect, xstate, node internals, GC, …). */
  readonly byArea: ReadonlyArray<{ readonly area: string; readonly selfPercent: number }>
}

export interface BenchResults {
  readonly startedAt: string
  readonly finishedAt: string
  readonly mode: "quick" | "full"
  readonly runsPerFigure: number
  readonly machine: MachineDescription
  readonly notes: ReadonlyArray<string>
  readonly logins: ReadonlyArray<LoginResult>
  readonly relay: ReadonlyArray<RelayResult>
  readonly latency: ReadonlyArray<LatencyResult>
  readonly scale: ScaleResult | undefined
  readonly profiles: ReadonlyArray<ProfileResult>
}
