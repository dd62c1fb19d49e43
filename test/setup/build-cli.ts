/**
 * Vitest global setup: brings the compiled CLI in dist/ up to date once, before any test runs
 * (scripts/build.mjs; nothing to do when it already is), so the onechat processes the tests start
 * run the build instead of transpiling src/ each time. A failed build fails the run: the launcher
 * would quietly fall back to the sources, but a build error is a bug to see.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const BUILD = fileURLToPath(new URL("../../scripts/build.mjs", import.meta.url))

export default function setup(): void {
  execFileSync(process.execPath, [BUILD, "--quiet"], { stdio: "inherit" })
}
