/**
 * What the compiled CLI in dist/ was built from: one line per input — every .ts file under src/,
 * package.json, package-lock.json and the two build scripts — with its size and modification time
 * ("-" for a missing file). scripts/build.mjs stores it with each build; bin/onechat.mjs runs the
 * build only while the stamp it computes is the same, and the sources otherwise. Stats only, no
 * reads: a few milliseconds for a hundred files.
 */
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"

/** Inputs outside src/ that change what the build produces. */
const BUILD_INPUTS = ["package.json", "package-lock.json", "scripts/build.mjs", "scripts/source-stamp.mjs"]

/** The stamp of the package at `root` (a folder path). */
export const sourceStamp = (root) => {
  const lines = []
  const add = (path) => {
    const stats = statSync(join(root, path), { throwIfNoEntry: false })
    lines.push(stats === undefined ? `${path} -` : `${path} ${stats.size} ${stats.mtimeMs}`)
  }
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".ts")) add(path)
    }
  }
  walk("src")
  for (const path of BUILD_INPUTS) add(path)
  return lines.sort().join("\n")
}
