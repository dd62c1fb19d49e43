#!/usr/bin/env node
/**
 * `npm run build`, also run by `npm ci` and `npm install` (the `prepare` script): compiles the CLI
 * (src/cli/main.ts) with esbuild into dist/<id>/ — one ESM bundle split into chunks, so each
 * subcommand's code loads only when it runs (src/cli/commands.ts) — and publishes it in
 * dist/current.json with the stamp of the sources it came from (scripts/source-stamp.mjs).
 * bin/onechat.mjs runs that build while the stamp still matches and the sources through tsx
 * otherwise, so a stale build is never run and editing src/ needs no rebuild.
 *
 * Safe beside running onechat processes and other builds (parallel test runs build too): each
 * build is written to its own temporary folder, renamed into place, then published by renaming a
 * new current.json over the old; the previous build, and any made in the last ten minutes, are
 * kept for processes still loading from them.
 * Nothing to do when the current build has the sources' stamp. `--quiet` prints only errors.
 */
import { createHash } from "node:crypto"
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { sourceStamp } from "./source-stamp.mjs"

const root = fileURLToPath(new URL("..", import.meta.url))
const dist = join(root, "dist")
const currentFile = join(dist, "current.json")
const quiet = process.argv.includes("--quiet")
/**
 * Builds and temporary folders younger than this may be in use — a process loading its chunks, a
 * build in progress — and are left for a later build to remove.
 */
const IN_USE_MS = 10 * 60_000

const readCurrent = () => {
  try {
    return JSON.parse(readFileSync(currentFile, "utf8"))
  } catch {
    return undefined
  }
}

/**
 * The output sits two folders below the package root, as src/net/ does: the inspector reads
 * ../../docs/charts/NAME.svg relative to its own module. Everything but sodium-native (a native
 * addon found through node_modules at run time) is bundled: loading effect as hundreds of small
 * files costs more than the whole bundle. Bundled CommonJS (@peculiar/x509 and its helpers)
 * calls require, which an ES module lacks: each chunk gets one from createRequire.
 */
const compile = async (outdir) => {
  const { build } = await import("esbuild")
  await build({
    entryPoints: { main: join(root, "src/cli/main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: ["sodium-native"],
    chunkNames: "[name]-[hash]",
    banner: {
      js: 'import { createRequire as onechatCreateRequire } from "node:module"; const require = onechatCreateRequire(import.meta.url);',
    },
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "warning",
  })
}

/** Removes the builds other than `keep` and the temporary folders that are no longer in use. */
const prune = (keep) => {
  for (const entry of readdirSync(dist)) {
    const path = join(dist, entry)
    if (entry === "current.json" || keep.includes(entry)) continue
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats === undefined || Date.now() - stats.mtimeMs < IN_USE_MS) continue
    rmSync(path, { recursive: true, force: true })
  }
}

const stamp = sourceStamp(root)
const id = createHash("sha256").update(stamp).digest("hex").slice(0, 16)
const previous = readCurrent()
if (previous?.stamp === stamp && existsSync(join(dist, previous.build, "main.js"))) {
  if (!quiet) console.log(`onechat: dist/${previous.build} is up to date`)
} else {
  const started = performance.now()
  mkdirSync(dist, { recursive: true })
  const temporary = join(dist, `.${id}-${process.pid}`)
  rmSync(temporary, { recursive: true, force: true })
  await compile(temporary)
  try {
    renameSync(temporary, join(dist, id))
  } catch (error) {
    // Another build of the same sources got there first: its output is the same.
    if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error
    rmSync(temporary, { recursive: true, force: true })
  }
  const next = join(dist, `.current-${process.pid}.json`)
  writeFileSync(next, `${JSON.stringify({ build: id, stamp })}\n`)
  renameSync(next, currentFile)
  prune([id, ...(previous?.build === undefined ? [] : [previous.build])])
  if (!quiet) console.log(`onechat: built dist/${id} in ${Math.round(performance.now() - started)} ms`)
}
