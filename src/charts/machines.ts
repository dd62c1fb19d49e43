/**
 * The machines whose charts are drawn (`onechat charts`, docs/charts/*): the server's connection
 * and supervisor actors and the client's session. The charts are generated from these definitions,
 * never drawn by hand. docs/protocol.md §11.
 */
import type { AnyStateMachine } from "xstate"
import { connectionMachine } from "../actors/connection.machine.ts"
import { supervisorMachine } from "../actors/supervisor.machine.ts"
import { sessionMachine } from "../client/session.machine.ts"

export type ChartName = "connection" | "supervisor" | "session"

export interface ChartedMachine {
  /** Also the file name: docs/charts/NAME.{mmd,dot,svg}. */
  readonly name: ChartName
  readonly machine: AnyStateMachine
  readonly title: string
  /** Graphviz rank direction: left to right suits long flows, top to bottom wide ones. */
  readonly direction: "LR" | "TB"
}

export const chartedMachines: ReadonlyArray<ChartedMachine> = [
  {
    name: "connection",
    machine: connectionMachine,
    title: "connection actor: one per socket (src/actors/connection.machine.ts)",
    direction: "LR",
  },
  {
    name: "supervisor",
    machine: supervisorMachine,
    title: "supervisor actor: spawns and routes (src/actors/supervisor.machine.ts)",
    direction: "LR",
  },
  {
    name: "session",
    machine: sessionMachine,
    title: "client session (src/client/session.machine.ts)",
    direction: "TB",
  },
]

export const chartNames: ReadonlyArray<ChartName> = chartedMachines.map((charted) => charted.name)

/** The charted machine called `name`, or undefined. */
export const chartedMachine = (name: string): ChartedMachine | undefined =>
  chartedMachines.find((charted) => charted.name === name)
