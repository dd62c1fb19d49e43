/**
 * What the numbers were measured on: CPU model and count, memory, OS, Node, the open-files limit,
 * the load average when the run began (other processes on the machine), and the git commit read
 * from .git/HEAD (no git command is run).
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import os from "node:os"
import { join } from "node:path"

export interface MachineDescription {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly loadAverageAtStart: ReadonlyArray<number>
  readonly commit: string | undefined
}

/** The commit HEAD points to: a detached hash, a loose ref, or an entry in packed-refs. */
export const gitCommit = (repo: string): string | undefined => {
  const gitPath = join(repo, ".git")
  if (!existsSync(gitPath)) return undefined
  const gitDir = statSync(gitPath).isDirectory()
    ? gitPath
    : join(
        repo,
        readFileSync(gitPath, "utf8")
          .replace(/^gitdir:\s*/, "")
          .trim(),
      )
  const head = readFileSync(join(gitDir, "HEAD"), "utf8").trim()
  if (!head.startsWith("ref: ")) return head
  const ref = head.slice("ref: ".length)
  const loose = join(gitDir, ref)
  if (existsSync(loose)) return readFileSync(loose, "utf8").trim()
  const packed = join(gitDir, "packed-refs")
  if (!existsSync(packed)) return undefined
  const line = readFileSync(packed, "utf8")
    .split("\n")
    .find((l) => l.endsWith(` ${ref}`))
  return line?.split(" ")[0]
}

export const describeMachine = (repo: string): MachineDescription => {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    commit: gitCommit(repo),
  }
}
