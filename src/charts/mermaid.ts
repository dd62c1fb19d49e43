/**
 * The chart model as Mermaid `stateDiagram-v2` text: composite states, `[*] -->` for initial
 * states, `--` between the regions of a parallel state, `--> [*]` after final states, transition
 * labels `EVENT [guard]`. Entry/exit actions, events handled in place (↺) and spawned actors (⇢)
 * are description lines of a simple state; a composite's in-place events are a note (top level)
 * or a self-transition (nested: Mermaid moves a nested state that has a note out of its parent).
 * Transitions come first: Mermaid places a state in the block that mentions it last.
 * Pure text: the same model always gives the same bytes.
 */
import {
  type ChartModel,
  type ChartState,
  eventLabel,
  inPlaceLines,
  isContainer,
  isInPlace,
  transitionsFrom,
  wrap,
} from "./model.ts"

/** Stands for the machine itself as a source: its transitions apply in any state. */
const ANY_STATE = "any_state"

/**
 * Mermaid ids of every state but the root (the diagram itself): a state's key when no other
 * state has it (readable text), else its path joined with `_`; other characters become `_`.
 */
export const mermaidIds = (model: ChartModel): ReadonlyMap<string, string> => {
  const clean = (text: string): string => text.replace(/\W/g, "_")
  const keys = new Map<string, number>()
  for (const state of model.states) keys.set(state.key, (keys.get(state.key) ?? 0) + 1)
  return new Map(
    model.states
      .slice(1)
      .map((state) => [
        state.id,
        clean(keys.get(state.key) === 1 ? state.key : [model.id, ...state.path].join("_")),
      ]),
  )
}

/** Events handled in place and actors started, one line each. */
const extraLines = (model: ChartModel, state: ChartState): string[] => [
  ...inPlaceLines(transitionsFrom(model, state.id).filter(isInPlace)).map((line) => `↺ ${line}`),
  ...model.actors.flatMap((actor) => [
    ...(actor.invokedIn.includes(state.id) ? [`⇢ invokes ${actor.name} actor`] : []),
    ...[
      ...new Set(actor.spawnedBy.filter((spawn) => spawn.source === state.id).map((spawn) => spawn.action)),
    ].map((action) => `⇢ spawns ${actor.name} actor (${action})`),
  ]),
]

const actionLines = (state: ChartState): string[] => [
  ...(state.entry.length > 0 ? [`entry / ${state.entry.join(", ")}`] : []),
  ...(state.exit.length > 0 ? [`exit / ${state.exit.join(", ")}`] : []),
]

type Ids = ReadonlyMap<string, string>
const idOf = (ids: Ids, stateId: string): string => ids.get(stateId) ?? stateId

/** One state's declaration: a block for a composite, description lines for a simple state. */
function declaration(model: ChartModel, ids: Ids, state: ChartState, pad: string): string[] {
  const id = idOf(ids, state.id)
  const out = id === state.key ? [] : [`${pad}state "${state.key}" as ${id}`]
  if (isContainer(state)) {
    out.push(`${pad}state ${id} {`, ...children(model, ids, state, `${pad}  `), `${pad}}`)
    const notes = [...actionLines(state), ...extraLines(model, state)]
    // Only a top-level composite may carry a note (see the header).
    if (notes.length > 0 && state.path.length === 1) {
      out.push(`${pad}note right of ${id}`, ...notes.map((line) => `${pad}  ${line}`), `${pad}end note`)
    }
  } else {
    const details = [...actionLines(state), ...extraLines(model, state)]
    // With details, Mermaid shows the first description as the title: make it the name.
    if (out.length === 0)
      out.push(details.length === 0 ? `${pad}${id}` : `${pad}state "${state.key}" as ${id}`)
    for (const line of details) out.push(`${pad}${id} : ${line}`)
  }
  if (state.kind === "final") out.push(`${pad}${id} --> [*]`)
  return out
}

/** The inside of a composite (or of the diagram, for the root). */
function children(model: ChartModel, ids: Ids, state: ChartState, pad: string): string[] {
  const out: string[] = []
  if (state.initial !== undefined) out.push(`${pad}[*] --> ${idOf(ids, state.initial)}`)
  state.children.forEach((child, index) => {
    if (state.kind === "parallel" && index > 0) out.push(`${pad}--`)
    out.push(...declaration(model, ids, child, pad))
  })
  return out
}

/** Every transition, then the in-place events of nested composites as self-transitions. */
const transitionLines = (model: ChartModel, ids: Ids): string[] => {
  const sourceOf = (id: string): string => (id === model.root.id ? ANY_STATE : idOf(ids, id))
  const targeted = model.transitions.flatMap((transition) =>
    transition.targets.map(
      (target) => `${sourceOf(transition.source)} --> ${idOf(ids, target)} : ${eventLabel(transition)}`,
    ),
  )
  const nested = model.states.filter((state) => isContainer(state) && state.path.length > 1)
  const selfLoops = nested.flatMap((state) =>
    [...actionLines(state), ...extraLines(model, state)].map(
      (line) => `${idOf(ids, state.id)} --> ${idOf(ids, state.id)} : ${line}`,
    ),
  )
  return [...targeted, ...selfLoops]
}

/** The whole chart as Mermaid text. */
export const toMermaid = (
  model: ChartModel,
  options: { readonly title: string; readonly direction: "LR" | "TB" },
): string => {
  const ids = mermaidIds(model)
  const rootLines = extraLines(model, model.root).flatMap((line) => wrap(line, 100))
  const fromAnyState = model.transitions.some(
    (transition) => transition.source === model.root.id && !isInPlace(transition),
  )
  return [
    "---",
    `title: ${JSON.stringify(options.title)}`,
    "---",
    "stateDiagram-v2",
    `  direction ${options.direction}`,
    ...rootLines.map((line) => `  %% in any state: ${line}`),
    ...(fromAnyState ? [`  state "any state" as ${ANY_STATE}`] : []),
    ...transitionLines(model, ids).map((line) => `  ${line}`),
    ...children(model, ids, model.root, "  "),
    "",
  ].join("\n")
}
