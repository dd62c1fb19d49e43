/**
 * Readers for /proc/<pid>: CPU time (utime + stime, in clock ticks) and resident memory (VmRSS),
 * and the open-files limit a process actually got. Linux only; reads files, never signals anyone.
 */
import { readFileSync } from "node:fs"

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat. 100 on every Linux x86-64 kernel. */
export const CLOCK_TICKS_PER_SECOND = 100

/** utime + stime of all threads of `pid`, in clock ticks. */
export const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may contain spaces; fields after its closing paren are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return Number(fields[11]) + Number(fields[12]) // fields 14 and 15 of proc(5)
}

/** CPU seconds used by `pid` so far. */
export const cpuSeconds = (pid: number): number => cpuTicks(pid) / CLOCK_TICKS_PER_SECOND

const statusField = (pid: number, field: string): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const line = status.split("\n").find((l) => l.startsWith(`${field}:`))
  if (line === undefined) throw new Error(`/proc/${pid}/status has no ${field}`)
  return Number(line.split(/\s+/)[1]) // "VmRSS:    123456 kB"
}

/** Resident set size of `pid`, in KiB. */
export const rssKiB = (pid: number): number => statusField(pid, "VmRSS")

/** Peak resident set size of `pid`, in KiB. */
export const peakRssKiB = (pid: number): number => statusField(pid, "VmHWM")

/** The soft "Max open files" limit of `pid`. */
export const openFilesLimit = (pid: number): number => {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8")
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"))
  return Number(line?.split(/\s{2,}/)[1] ?? Number.NaN)
}

/** Busy CPU ticks of the whole machine, all cores (user, nice, system, irq, softirq, steal). */
export const systemBusyTicks = (): number => {
  const fields = readFileSync("/proc/stat", "utf8")
    .split("\n", 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + fields[7]!
}

/**
 * A CPU meter over a set of processes: call `start()`, do the work, then `stop()`. Also measures the
 * whole machine, so what other processes used meanwhile is known (`others`, in cores).
 */
export class CpuMeter {
  readonly #pids: ReadonlyArray<number>
  #startTicks: number[] = []
  #startSystem = 0
  #startMs = 0

  constructor(pids: ReadonlyArray<number>) {
    this.#pids = pids
  }

  start(): void {
    this.#startTicks = this.#pids.map(cpuTicks)
    this.#startSystem = systemBusyTicks()
    this.#startMs = performance.now()
  }

  /**
   * CPU seconds per process since `start()`, the wall time in seconds, and the cores' worth of CPU
   * that processes other than the metered ones used meanwhile.
   */
  stop(): { readonly cpu: number[]; readonly wall: number; readonly others: number } {
    const wall = (performance.now() - this.#startMs) / 1000
    const cpu = this.#pids.map((pid, i) => (cpuTicks(pid) - this.#startTicks[i]!) / CLOCK_TICKS_PER_SECOND)
    const system = (systemBusyTicks() - this.#startSystem) / CLOCK_TICKS_PER_SECOND
    const others = Math.max(0, system - cpu.reduce((a, b) => a + b, 0)) / wall
    return { cpu, wall, others }
  }
}
