/**
 * `onechat charts`: writes the state charts of the connection, supervisor and session machines
 * (NAME.mmd, NAME.dot, NAME.svg) into a folder, default docs/charts; `--ascii NAME` prints one
 * machine as text instead. Thin: the charts are generated in src/charts from the machines.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Console, Data, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { type ChartName, chartedMachine, chartNames } from "../charts/machines.ts"
import { allChartFiles, asciiChart } from "../charts/render.ts"

export const DEFAULT_CHARTS_DIR = join("docs", "charts")

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

const outFlag = Flag.String("out").pipe(
  Flag.withDefault(DEFAULT_CHARTS_DIR),
  Flag.withDescription(`Folder for NAME.mmd, NAME.dot and NAME.svg (default ${DEFAULT_CHARTS_DIR})`),
)

const asciiFlag = Flag.Literals("ascii", chartNames).pipe(
  Flag.optional,
  Flag.withDescription("Print one machine as text instead of writing files"),
)

const printAscii = (name: ChartName): Effect.Effect<void> => {
  const charted = chartedMachine(name)
  return charted === undefined ? Effect.void : Console.log(asciiChart(charted).trimEnd())
}

export const chartsCommand = Command.make("charts", { out: outFlag, ascii: asciiFlag }, (options) =>
  Option.match(options.ascii, {
    onSome: printAscii,
    onNone: () =>
      writeCharts(options.out).pipe(
        Effect.flatMap((paths) => Console.log(`Wrote ${paths.length} chart files to ${options.out}`)),
      ),
  }),
).pipe(
  Command.withDescription(
    "Draw the state charts of the connection, supervisor and session machines (Mermaid, DOT, SVG), or print one as text",
  ),
)
