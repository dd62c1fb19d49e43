/**
 * `onechat charts`'s flags: the folder to write, or one machine to print as text. Loaded only
 * when the command line names charts (the chart names come from the machines, src/charts); the
 * handler is in src/cli/charts-command.ts.
 */
import { join } from "node:path"
import { type Command, Flag } from "effect/cli"
import { chartNames } from "../charts/machines.ts"

export const DEFAULT_CHARTS_DIR = join("docs", "charts")

const outFlag = Flag.String("out").pipe(
  Flag.withDefault(DEFAULT_CHARTS_DIR),
  Flag.withDescription(`Folder for NAME.mmd, NAME.dot and NAME.svg (default ${DEFAULT_CHARTS_DIR})`),
)

const asciiFlag = Flag.Literals("ascii", chartNames).pipe(
  Flag.optional,
  Flag.withDescription("Print one machine as text instead of writing files"),
)

export const chartsFlags = { out: outFlag, ascii: asciiFlag }
export type ChartsOptions = Command.Command.Config.Infer<typeof chartsFlags>
