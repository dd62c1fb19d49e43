/**
 * Debian's Chromium driven by playwright-core, for browser tests. Never lets a package download
 * a browser of its own: the executable must be /usr/bin/chromium, which the test setup installs
 * when it can (testkit/system-tools.ts). A test that launches it declares `needs("chromium")`
 * and is skipped, with one line naming the package, when it is missing.
 */
import { type Browser, chromium } from "playwright-core"
import { requireTool } from "./system-tools.ts"

/** Flags that work on these machines (closed network, running as root, no GPU). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

/** Launches headless Chromium; playwright gives it a fresh, empty profile (--user-data-dir) each time. */
export const launchChromium = async (): Promise<Browser> =>
  chromium.launch({ executablePath: requireTool("chromium"), args: CHROMIUM_ARGS, headless: true })
