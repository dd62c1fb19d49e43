/**
 * Names for the anonymous functions of a CPU profile taken under tsx. tsx compiles each source
 * file with esbuild onto one line and names functions through `__name(fn, "name")` wrappers, which
 * V8's profiler does not see; recompiling the file the same way (esbuild, as tsx calls it) gives
 * the code the profile's columns point into. Falls back to a code snippet, or to nothing when
 * esbuild (a dependency of tsx) cannot be loaded.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

interface Transformer {
  transformSync(code: string, options: Record<string, string | boolean>): { readonly code: string }
}

const loadEsbuild = (): Transformer | undefined => {
  try {
    const tsxRequire = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"))
    return tsxRequire("esbuild") as Transformer
  } catch {
    return undefined
  }
}

let esbuild: Transformer | undefined | null = null
const compiled = new Map<string, string | undefined>()

/** The one-line code tsx ran for a file:// URL of a .ts file, or undefined. */
const compiledCode = (url: string): string | undefined => {
  if (!url.startsWith("file://") || !url.endsWith(".ts")) return undefined
  if (compiled.has(url)) return compiled.get(url)
  if (esbuild === null) esbuild = loadEsbuild()
  let code: string | undefined
  try {
    const path = fileURLToPath(url)
    code = esbuild?.transformSync(readFileSync(path, "utf8"), {
      loader: "ts",
      format: "esm",
      minifyWhitespace: true,
      keepNames: true,
      target: `node${process.versions.node}`,
      sourcefile: path,
    }).code
  } catch {
    code = undefined
  }
  compiled.set(url, code)
  return code
}

/** The name (or a short code excerpt) of the function starting at `column` of line 0 of `url`. */
export const anonymousFunctionName = (
  url: string,
  lineNumber: number,
  column: number,
): string | undefined => {
  const code = lineNumber === 0 ? compiledCode(url) : undefined
  if (code === undefined || column <= 0 || column >= code.length) return undefined
  const before = code.slice(Math.max(0, column - 120), column)
  const named = /([\w$#]+)[=:]__name\($/.exec(before)?.[1]
  if (named !== undefined) return named
  const callee = /([\w$#]+)\($/.exec(before)?.[1]
  if (callee !== undefined && callee !== "__name") return `(callback of ${callee})`
  return `(anonymous) ${code.slice(column, column + 32).replace(/\|/g, "\\|")}…`
}
