/**
 * `onechat charts`: writes the state charts of the connection, supervisor and session machines
 * (NAME.mmd, NAME.dot, NAME.svg) into a folder, default docs/charts; `--ascii NAME` prints one
 * machine as text instead. Thin: the charts are generated in src/charts from the machines.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Console, Data, Effect, Option } from "effect"
import { type ChartName, chartedMachine } from "../charts/machines.ts"
import { allChartFiles, asciiChart } from "../charts/render.ts"
import type { ChartsOptions } from "./charts-flags.ts"

/** Why no charts were written: the folder or a file could not be written, or Graphviz failed. */
export class ChartsError extends Data.TaggedError("ChartsError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `could not write the charts to ${this.path}: ${reason}`
  }
}

/** Writes every chart file into `dir` (created if missing); returns the paths written. */
export const writeCharts = (dir: string): Effect.Effect<ReadonlyArray<string>, ChartsError> =>
  Effect.tryPromise({
    try: async () => {
      const files = await allChartFiles()
      await mkdir(dir, { recursive: true })
      for (const file of files) await writeFile(join(dir, file.name), file.content)
      return files.map((file) => join(dir, file.name))
    },
    catch: (cause) => new ChartsError({ path: dir, cause }),
  })

const printAscii = (name: ChartName): Effect.Effect<void> => {
  const charted = chartedMachine(name)
  return charted === undefined ? Effect.void : Console.log(asciiChart(charted).trimEnd())
}

/** Runs `onechat charts` (flags: src/cli/charts-flags.ts). */
export const runCharts = (options: ChartsOptions) =>
  Option.match(options.ascii, {
    onSome: printAscii,
    onNone: () =>
      writeCharts(options.out).pipe(
        Effect.flatMap((paths) => Console.log(`Wrote ${paths.length} chart files to ${options.out}`)),
      ),
  })
