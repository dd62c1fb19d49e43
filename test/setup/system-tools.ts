/**
 * Vitest global setup, run once in the main process before any test file: installs the missing
 * system programs the tests drive (testkit/system-tools.ts) when it can (root, apt-get), one
 * line per install. After the run it prints one line per program still missing: why, how many tests
 * were skipped for it, and the command that installs it. A missing program never fails the run.
 */
import type { TestProject } from "vitest/node"
import {
  aptInstall,
  findTool,
  installBlocker,
  installInstruction,
  isHidden,
  SYSTEM_TOOLS,
  type SystemTool,
} from "../../testkit/system-tools.ts"

const say = (line: string): void => console.log(`onechat tests: ${line}`)

/** Runs apt-get for `tools`, one line before and one per program installed; returns why it failed. */
const install = async (tools: readonly SystemTool[]): Promise<string | undefined> => {
  const packages = tools.map((tool) => tool.debianPackage)
  say(`installing ${packages.join(", ")} with apt-get for the tests that need it (once; may take minutes)`)
  const started = Date.now()
  const failure = await aptInstall(packages)
  const seconds = Math.round((Date.now() - started) / 1000)
  for (const tool of tools)
    if (findTool(tool.name) !== undefined) say(`installed ${tool.debianPackage} (${seconds} s)`)
  return failure
}

/** Installs the missing programs when it can; returns each one still missing, with why. */
const provideTools = async (): Promise<Map<SystemTool, string>> => {
  const missing = SYSTEM_TOOLS.filter((tool) => findTool(tool.name) === undefined)
  const still = new Map<SystemTool, string>()
  if (missing.length === 0) return still
  const blocker = installBlocker()
  const failure = blocker ?? (await install(missing))
  for (const tool of missing) {
    if (findTool(tool.name) !== undefined) continue
    const hiddenNote = isHidden(tool.name) ? "hidden by ONECHAT_TEST_HIDE_TOOLS" : undefined
    const reasons = [failure, hiddenNote].filter((reason) => reason !== undefined)
    still.set(tool, reasons.length > 0 ? reasons.join("; ") : `${tool.debianPackage} did not provide it`)
  }
  return still
}

const skippedTests = (project: TestProject, tool: SystemTool): number => {
  let count = 0
  for (const module of project.vitest.state.getTestModules())
    for (const test of module.children.allTests("skipped")) if (test.tags.includes(tool.name)) count++
  return count
}

export default async function setup(project: TestProject): Promise<() => void> {
  const missing = await provideTools()
  return () => {
    for (const [tool, why] of missing) {
      const count = skippedTests(project, tool)
      if (count === 0) continue
      const tests = `${count} ${tool.testKind} test${count === 1 ? "" : "s"}`
      say(
        `${tool.name} is not installed (${why}); ${tests} skipped (install it: ${installInstruction(tool)})`,
      )
    }
  }
}
