/**
 * The system programs some tests drive: Debian's Chromium (browser tests) and tmux (tests under a
 * pseudo-terminal). This is the only list of them. vitest.config.ts makes each one a test tag;
 * test/setup/system-tools.ts installs the missing ones before any test runs (only as root, with
 * apt-get); a test that needs one declares it with `needs(name)` and is skipped when it is absent,
 * and the same setup prints one line per missing program naming the package to install.
 *
 * Environment, to try a machine without them and uninstall nothing:
 * - ONECHAT_TEST_NO_INSTALL=1: never run apt-get; the tests that need a missing program are skipped.
 * - ONECHAT_TEST_HIDE_TOOLS=chromium,tmux: treat these programs as missing even when installed (as
 *   root with apt-get the setup still asks apt-get for them, which finds them installed).
 */
import { execFile } from "node:child_process"
import { accessSync, constants } from "node:fs"
import { delimiter, join } from "node:path"
import { promisify } from "node:util"

export type ToolName = "chromium" | "tmux" | "openssl"

export interface SystemTool {
  readonly name: ToolName
  /** The Debian package that provides it. */
  readonly debianPackage: string
  /** What the tests that need it are called in the skip note: "1 browser test skipped". */
  readonly testKind: string
  /** Where to get it when apt-get is not available. */
  readonly elsewhere: string
  /** Its absolute path when installed. */
  readonly locate: () => string | undefined
}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const onPath = (command: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter((folder) => folder !== "")
    .map((folder) => join(folder, command))
    .find(isExecutable)

/** playwright-core is told this path; no package may download a browser of its own. */
export const CHROMIUM_PATH = "/usr/bin/chromium"

export const SYSTEM_TOOLS: readonly SystemTool[] = [
  {
    name: "chromium",
    debianPackage: "chromium",
    testKind: "browser",
    elsewhere: `Chromium at ${CHROMIUM_PATH}`,
    locate: () => (isExecutable(CHROMIUM_PATH) ? CHROMIUM_PATH : undefined),
  },
  {
    name: "tmux",
    debianPackage: "tmux",
    testKind: "pseudo-terminal",
    elsewhere: "tmux from your system's package manager",
    locate: () => onPath("tmux"),
  },
  {
    name: "openssl",
    debianPackage: "openssl",
    testKind: "OpenSSL",
    elsewhere: "the openssl command from your system's package manager",
    locate: () => onPath("openssl"),
  },
]

const hidden = (): Set<string> =>
  new Set((process.env.ONECHAT_TEST_HIDE_TOOLS ?? "").split(",").map((name) => name.trim()))

/** Whether ONECHAT_TEST_HIDE_TOOLS names it. */
export const isHidden = (name: ToolName): boolean => hidden().has(name)

export const toolNamed = (name: ToolName): SystemTool => SYSTEM_TOOLS.find((tool) => tool.name === name)!

/** The program's absolute path, or undefined when it is missing or hidden by ONECHAT_TEST_HIDE_TOOLS. */
export const findTool = (name: ToolName): string | undefined =>
  isHidden(name) ? undefined : toolNamed(name).locate()

/** The path of a program a running test declared with `needs`; a defect if it is missing. */
export const requireTool = (name: ToolName): string => {
  const path = findTool(name)
  if (path === undefined)
    throw new Error(`${name} is missing: declare it with needs("${name}") to skip instead`)
  return path
}

/** Test or suite options for tests that need `name`: tagged with it, and skipped when it is missing. */
export const needs = (name: ToolName): { tags: string[]; skip: boolean } => ({
  tags: [name],
  skip: findTool(name) === undefined,
})

/** Why nothing can be installed here, or undefined when apt-get may be run. */
export const installBlocker = (): string | undefined => {
  if (process.env.ONECHAT_TEST_NO_INSTALL === "1") return "not installing: ONECHAT_TEST_NO_INSTALL=1"
  if (process.getuid?.() !== 0) return "not running as root"
  if (onPath("apt-get") === undefined) return "apt-get is not available"
  return undefined
}

/** The one command a person runs to get `tool`. */
export const installInstruction = (tool: SystemTool): string => {
  if (onPath("apt-get") === undefined) return tool.elsewhere
  return `${process.getuid?.() === 0 ? "" : "sudo "}apt-get install ${tool.debianPackage}`
}

const execFileAsync = promisify(execFile)
/** Downloading Chromium and its libraries over a slow mirror takes minutes. */
const APT_TIMEOUT_MS = 15 * 60_000
const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
/** Waits for another apt-get or dpkg (another test run, unattended upgrades) instead of failing. */
const APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]

const aptGet = (...args: string[]) =>
  execFileAsync("apt-get", [...APT_LOCK_WAIT, ...args], {
    env: APT_ENV,
    timeout: APT_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  })

const lastLine = (error: unknown): string => {
  const stderr = (error as { stderr?: unknown }).stderr
  const text = typeof stderr === "string" && stderr.trim() !== "" ? stderr : String(error)
  return text.trim().split("\n").at(-1)!.trim()
}

/**
 * Installs Debian packages, running `apt-get update` and trying again when the first attempt
 * fails (a fresh container has no package lists). Resolves to undefined, or to why it failed.
 */
export const aptInstall = async (packages: readonly string[]): Promise<string | undefined> => {
  const install = () => aptGet("install", "-y", "--no-install-recommends", ...packages)
  try {
    await install()
    return undefined
  } catch {
    try {
      await aptGet("update")
      await install()
      return undefined
    } catch (error) {
      return `apt-get failed: ${lastLine(error)}`
    }
  }
}
