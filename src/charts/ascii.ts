/**
 * The chart model as plain text for a terminal: an indented tree of states, each followed by its
 * outgoing transitions (`── EVENT [guard] / actions → target`, targets relative to the nearest
 * common ancestor), the events it handles in place (`↺`), its entry/exit actions (`»`) and the
 * actors it starts (`⇢`). ● marks an initial state, ◎ a final one. Pure text, deterministic.
 */
import {
  type ChartModel,
  type ChartState,
  type ChartTransition,
  eventLabel,
  inPlaceLines,
  isInPlace,
  stateOf,
  transitionsFrom,
  wrap,
} from "./model.ts"

/** The target's path below the deepest state it shares with the source (its key if none). */
const relativeTarget = (model: ChartModel, source: ChartState, targetId: string): string => {
  const target = stateOf(model, targetId)
  let shared = 0
  while (
    shared < source.path.length &&
    shared < target.path.length &&
    source.path[shared] === target.path[shared]
  )
    shared++
  // Staying inside the source's own parent: name the target from that parent down.
  const below = target.path.slice(Math.min(shared, Math.max(0, source.path.length - 1)))
  return below.length === 0 ? target.key : below.join(".")
}

const transitionText = (model: ChartModel, source: ChartState, transition: ChartTransition): string => {
  const actions = transition.actions.length === 0 ? "" : ` / ${transition.actions.join(", ")}`
  const targets = transition.targets.map((target) => relativeTarget(model, source, target)).join(", ")
  return `── ${eventLabel(transition)}${actions} → ${targets}`
}

const actorLines = (model: ChartModel, state: ChartState): string[] =>
  model.actors.flatMap((actor) => [
    ...(actor.invokedIn.includes(state.id) ? [`⇢ invokes ${actor.name} actor`] : []),
    ...[
      ...new Set(actor.spawnedBy.filter((spawn) => spawn.source === state.id).map((spawn) => spawn.action)),
    ].map((action) => `⇢ spawns ${actor.name} actor (${action})`),
  ])

/** The lines shown beside and under a state's name. */
const detailLines = (model: ChartModel, state: ChartState): string[] => {
  const transitions = transitionsFrom(model, state.id)
  return [
    ...(state.entry.length > 0 ? [`» entry / ${state.entry.join(", ")}`] : []),
    ...(state.exit.length > 0 ? [`» exit / ${state.exit.join(", ")}`] : []),
    ...transitions
      .filter((transition) => !isInPlace(transition))
      .map((transition) => transitionText(model, state, transition)),
    ...inPlaceLines(transitions.filter(isInPlace)).flatMap((line) =>
      wrap(line, 90).map((part, index) => (index === 0 ? `↺ ${part}` : `  ${part}`)),
    ),
    ...actorLines(model, state),
  ]
}

const kindSuffix = (state: ChartState): string =>
  state.kind === "parallel" ? " (parallel)" : state.isRegion ? " (region)" : ""

const stateLines = (model: ChartModel, state: ChartState, initial: boolean, depth: number): string[] => {
  const mark = initial ? "● " : state.kind === "final" ? "◎ " : "  "
  const head = `${"    ".repeat(depth)}${mark}${state.key}${kindSuffix(state)}`
  const [first, ...rest] = detailLines(model, state)
  const continuation = " ".repeat(head.length + 1)
  return [
    first === undefined ? head : `${head} ${first}`,
    ...rest.map((line) => `${continuation}${line}`),
    ...state.children.flatMap((child) => stateLines(model, child, child.id === state.initial, depth + 1)),
  ]
}

/** The whole chart as text, titled `title`, ending with a newline. */
export const toAscii = (model: ChartModel, title: string): string => {
  const root = model.root
  const [first, ...rest] = detailLines(model, root)
  const anyState =
    first === undefined ? [] : [`  any state ${first}`, ...rest.map((line) => `            ${line}`)]
  return [
    title,
    ...anyState,
    ...root.children.flatMap((child) => stateLines(model, child, child.id === root.initial, 0)),
    "",
  ].join("\n")
}
