/**
 * Debian's Chromium driven by playwright-core, for browser tests. Never lets a package download
 * a browser of its own: the executable must be /usr/bin/chromium (CI installs it; .ci/run).
 * A missing browser is a failure with a clear message, not a skip.
 */
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

export const CHROMIUM_PATH = "/usr/bin/chromium"

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
export const launchChromium = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: install Debian's Chromium (apt-get install -y chromium); .ci/run does it in CI`,
    )
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true })
}
