/**
 * Every chart file for every charted machine, in memory: NAME.mmd (Mermaid), NAME.dot (Graphviz)
 * and NAME.svg (the DOT laid out by Graphviz compiled to WebAssembly, @viz-js/viz). Deterministic
 * (no timestamps, definition order throughout), so the committed docs/charts can be compared
 * byte for byte with a fresh rendering. No file I/O here: the command writes.
 */
import { instance, type Viz } from "@viz-js/viz"
import { toAscii } from "./ascii.ts"
import { toDot } from "./dot.ts"
import { type ChartedMachine, chartedMachines } from "./machines.ts"
import { toMermaid } from "./mermaid.ts"
import { chartModel } from "./model.ts"

export interface ChartFile {
  /** File name inside the charts folder, e.g. `connection.svg`. */
  readonly name: string
  readonly content: string
}

let vizInstance: Promise<Viz> | undefined

/** Graphviz, loaded once per process. */
const graphviz = (): Promise<Viz> => {
  vizInstance ??= instance()
  return vizInstance
}

/** DOT laid out as SVG; throws with Graphviz's messages when the DOT is invalid. */
export const dotToSvg = async (dot: string): Promise<string> => {
  const svg = (await graphviz()).renderString(dot, { format: "svg" })
  return svg.endsWith("\n") ? svg : `${svg}\n`
}

/** The three files of one machine: .mmd, .dot, .svg. */
export const chartFiles = async (charted: ChartedMachine): Promise<ChartFile[]> => {
  const model = chartModel(charted.machine)
  const dot = toDot(model, charted)
  return [
    { name: `${charted.name}.mmd`, content: toMermaid(model, charted) },
    { name: `${charted.name}.dot`, content: dot },
    { name: `${charted.name}.svg`, content: await dotToSvg(dot) },
  ]
}

/** All chart files, machine by machine. */
export const allChartFiles = async (
  machines: ReadonlyArray<ChartedMachine> = chartedMachines,
): Promise<ChartFile[]> => {
  const files: ChartFile[] = []
  for (const charted of machines) files.push(...(await chartFiles(charted)))
  return files
}

/** The terminal rendering of one machine. */
export const asciiChart = (charted: ChartedMachine): string =>
  toAscii(chartModel(charted.machine), charted.title)
