/**
 * The chart model as Graphviz DOT: compound and parallel states are clusters (regions of a
 * parallel state have a dashed border), a small point marks each initial pseudo-state, final
 * states are double octagons, delays are dashed orange edges, actors the machine starts are
 * green boxes, and the events a state handles in place (e.g. ILLEGAL_STATE rejections) are
 * listed inside its box (or in one note per cluster) instead of drawing edges.
 * Pure text: the same model always gives the same bytes.
 */
import {
  type ChartModel,
  type ChartState,
  type ChartTransition,
  eventLabel,
  inPlaceLines,
  isContainer,
  isInPlace,
  stateOf,
  transitionsFrom,
  wrap,
} from "./model.ts"

const q = (text: string): string => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`
const html = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
const BREAK = "\u0000"
/** A multi-line DOT string, centred (`\n` between lines) or left-justified (`\l` after each). */
const lines = (parts: ReadonlyArray<string>, end: "\\n" | "\\l" = "\\n"): string =>
  q(parts.join(BREAK) + (end === "\\l" ? BREAK : "")).replaceAll(BREAK, end)

const COLORS = { state: "#4a6fa5", fill: "#eef3fb", delay: "#b5651d", inPlace: "#777777", actor: "#6a8e3a" }

const cluster = (id: string): string => q(`cluster_${id}`)
/** The node an edge into or out of a cluster attaches to (clipped at the border by lhead/ltail). */
const anchor = (state: ChartState): string =>
  q(`${state.id}#${state.kind === "compound" ? "init" : "anchor"}`)
const anyState = (state: ChartState): string => q(`${state.id}#any`)
const isWithin = (id: string, ancestor: string): boolean => id === ancestor || id.startsWith(`${ancestor}.`)

/** `EVENT [guard]` and, on the next line(s), `/ actions`. */
const edgeLabel = (transition: ChartTransition): string[] =>
  transition.actions.length === 0
    ? [eventLabel(transition)]
    : [eventLabel(transition), ...wrap(`/ ${transition.actions.join(", ")}`)]

const inPlaceText = (model: ChartModel, state: ChartState): string[] =>
  inPlaceLines(transitionsFrom(model, state.id).filter(isInPlace)).flatMap((line) => wrap(line))

const small = (text: string, color: string): string =>
  `<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="${color}">${html(text)}</FONT></TD></TR>`

/**
 * A state box in the UML manner: the name, then a compartment with entry/exit actions and the
 * events handled in place (internal transitions).
 */
const stateNode = (model: ChartModel, state: ChartState): string => {
  const actions = [
    ...(state.entry.length > 0 ? [`entry / ${state.entry.join(", ")}`] : []),
    ...(state.exit.length > 0 ? [`exit / ${state.exit.join(", ")}`] : []),
  ]
  const inPlace = inPlaceText(model, state)
  const shape = state.kind === "final" ? "shape=doubleoctagon" : "shape=box"
  if (actions.length + inPlace.length === 0) return `${q(state.id)} [label=${q(state.key)}, ${shape}]`
  const rows = [
    `<TR><TD><B>${html(state.key)}</B></TD></TR>`,
    "<HR/>",
    ...actions.map((line) => small(line, "#222222")),
    ...inPlace.map((line) => small(line, COLORS.inPlace)),
  ]
  const table = `<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">${rows.join("")}</TABLE>`
  return `${q(state.id)} [label=<${table}>, ${shape}, margin="0.1,0.04"]`
}

/** For a cluster: a note inside it listing the events it handles in place. */
const inPlaceNote = (model: ChartModel, state: ChartState): string[] => {
  const text = inPlaceText(model, state)
  if (text.length === 0) return []
  const note = q(`${state.id}#inPlace`)
  const style = `fontcolor=${q(COLORS.inPlace)}, color=${q(COLORS.inPlace)}`
  // Tied to the cluster's anchor, or an unconnected note would rank first and widen the cluster.
  return [
    `${note} [shape=note, style="", fontsize=8, label=${lines(["handled in place:", ...text], "\\l")}, ${style}]`,
    `${note} -> ${anchor(state)} [style=invis]`,
  ]
}

/** Transitions between the same two states (delays apart) share one edge with a stacked label. */
interface Bundle {
  readonly source: string
  readonly target: string
  readonly delayed: boolean
  readonly transitions: ChartTransition[]
}

const bundles = (model: ChartModel): Bundle[] => {
  const byEnds = new Map<string, Bundle>()
  for (const transition of model.transitions) {
    for (const target of transition.targets) {
      const delayed = transition.trigger.kind === "after"
      const key = [transition.source, target, delayed].join(BREAK)
      const bundle = byEnds.get(key) ?? { source: transition.source, target, delayed, transitions: [] }
      bundle.transitions.push(transition)
      byEnds.set(key, bundle)
    }
  }
  return [...byEnds.values()]
}

/** One end of an edge: the node, and the cluster it is clipped at when the state is a container. */
interface End {
  readonly node: string
  readonly cluster: string | undefined
}

const endOf = (state: ChartState, other: ChartState): End => {
  if (!isContainer(state)) return { node: q(state.id), cluster: undefined }
  // A container's edge to or from its own descendant has no border to clip at.
  const nested = isWithin(other.id, state.id) || isWithin(state.id, other.id)
  return { node: anchor(state), cluster: nested ? undefined : cluster(state.id) }
}

/** A container's transition into itself or its descendants: it applies in any of its states. */
const appliesInAnyState = (source: ChartState, goal: ChartState): boolean =>
  isContainer(source) && isWithin(goal.id, source.id)

/** What one bundle adds: edge statements, and maybe a label node for the cluster `home`. */
interface Drawn {
  readonly edges: ReadonlyArray<string>
  readonly labelNode?: { readonly home: string; readonly line: string }
}

/** The innermost container holding both states (the root when none other does). */
const homeOf = (model: ChartModel, a: ChartState, b: ChartState): string => {
  const holders = model.states.filter((state) => isWithin(a.id, state.id) && isWithin(b.id, state.id))
  return holders.filter((state) => state.id !== a.id && state.id !== b.id).at(-1)?.id ?? model.root.id
}

/**
 * Bundles that run against the flow. Each bundle is lifted to the two children of the innermost
 * container holding both ends (outgoing → idle becomes requesting → idle); a depth-first walk over
 * those children, from the initial one and in definition order, marks the lifted edges that close
 * a cycle. Drawn reversed, they let Graphviz rank states in the order a session walks them.
 */
const againstFlow = (model: ChartModel, all: ReadonlyArray<Bundle>): Set<Bundle> => {
  const edges = new Map<string, Array<{ readonly to: string; readonly bundle: Bundle }>>()
  for (const bundle of all) {
    if (isWithin(bundle.target, bundle.source)) continue
    const home = stateOf(model, homeOf(model, stateOf(model, bundle.source), stateOf(model, bundle.target)))
    const from = home.children.find((child) => isWithin(bundle.source, child.id))?.id
    const to = home.children.find((child) => isWithin(bundle.target, child.id))?.id
    if (from === undefined || to === undefined || from === to) continue
    edges.set(from, [...(edges.get(from) ?? []), { to, bundle }])
  }
  const back = new Set<Bundle>()
  const visited = new Set<string>()
  const onPath = new Set<string>()
  const visit = (id: string): void => {
    visited.add(id)
    onPath.add(id)
    for (const { to, bundle } of edges.get(id) ?? []) {
      if (onPath.has(to)) back.add(bundle)
      else if (!visited.has(to)) visit(to)
    }
    onPath.delete(id)
  }
  for (const state of model.states) {
    const order = [
      ...(state.initial === undefined ? [] : [state.initial]),
      ...state.children.map((child) => child.id),
    ]
    for (const id of order) if (!visited.has(id)) visit(id)
  }
  return back
}

/**
 * One bundle of transitions, written reversed (`dir=back`) when it runs against the flow.
 * Graphviz may put an edge label on a cluster border it did not account for, so every edge but a
 * self-loop passes through a plain-text node carrying its label, declared in the innermost
 * cluster holding both ends (layout keeps nodes clear of clusters they are not in).
 */
const drawBundle = (model: ChartModel, bundle: Bundle, reversed: boolean): Drawn => {
  const source = stateOf(model, bundle.source)
  const goal = stateOf(model, bundle.target)
  const label = lines(bundle.transitions.flatMap(edgeLabel))
  const style = bundle.delayed ? [`style=dashed, color=${q(COLORS.delay)}, fontcolor=${q(COLORS.delay)}`] : []
  const statement = (from: string, to: string, attributes: ReadonlyArray<string>): string =>
    `${from} -> ${to}${attributes.length === 0 ? "" : ` [${attributes.join(", ")}]`}`
  const fromAny = appliesInAnyState(source, goal)
  if (source.id === goal.id && !fromAny) {
    return { edges: [statement(q(source.id), q(goal.id), [`label=${label}`, ...style])] }
  }
  const tail: End = fromAny ? { node: anyState(source), cluster: undefined } : endOf(source, goal)
  const head = endOf(goal, source)
  const [first, second] = reversed ? [head, tail] : [tail, head]
  const via = q(`${source.id}->${goal.id}#${bundle.delayed ? "after" : "on"}`)
  const color = bundle.delayed ? `, fontcolor=${q(COLORS.delay)}` : ""
  const clip = (name: "ltail" | "lhead", end: End): string[] =>
    end.cluster === undefined ? [] : [`${name}=${end.cluster}`]
  return {
    edges: [
      statement(first.node, via, [
        ...clip("ltail", first),
        reversed ? "dir=back" : "arrowhead=none",
        ...style,
      ]),
      statement(via, second.node, [
        ...clip("lhead", second),
        ...(reversed ? ["arrowhead=none"] : []),
        ...style,
      ]),
    ],
    labelNode: {
      home: fromAny ? source.id : homeOf(model, source, goal),
      line: `${via} [shape=plaintext, style="", margin=0.02, fontsize=8, label=${label}${color}]`,
    },
  }
}

/** Node declarations inside one cluster (or the graph, for the root), not indented. */
const body = (model: ChartModel, state: ChartState, labelNodes: ReadonlyMap<string, string[]>): string[] => {
  const inner: string[] = []
  if (state.kind === "compound") inner.push(`${anchor(state)} [shape=point, width=0.1, label=""]`)
  if (state.kind === "parallel")
    inner.push(`${anchor(state)} [shape=point, width=0.01, style=invis, label=""]`)
  if (state.initial !== undefined) inner.push(`${anchor(state)} -> ${q(state.initial)} [weight=8]`)
  for (const child of state.children) {
    inner.push(...(isContainer(child) ? subgraph(model, child, labelNodes) : [stateNode(model, child)]))
  }
  const fromAny = transitionsFrom(model, state.id).some((transition) =>
    transition.targets.some((target) => appliesInAnyState(state, stateOf(model, target))),
  )
  if (fromAny)
    inner.push(`${anyState(state)} [label="any state", shape=plaintext, style="", fontcolor="#777777"]`)
  return [...inner, ...inPlaceNote(model, state), ...(labelNodes.get(state.id) ?? [])]
}

function subgraph(model: ChartModel, state: ChartState, labelNodes: ReadonlyMap<string, string[]>): string[] {
  const style = state.isRegion ? "rounded,dashed" : state.kind === "parallel" ? "rounded,bold" : "rounded"
  const label = q(state.kind === "parallel" ? `${state.key} (parallel)` : state.key)
  const inner = [
    `label=${label}; labeljust=l; style=${q(style)}; color=${q(COLORS.state)}`,
    ...body(model, state, labelNodes),
  ]
  return [`subgraph ${cluster(state.id)} {`, ...inner.map((line) => `  ${line}`), "}"]
}

/** A green box per actor the machine starts, with dashed edges from the states that start it. */
const actorLines = (model: ChartModel): string[] =>
  model.actors.flatMap((actor) => {
    const box = q(`actor:${actor.name}`)
    const style = `style=dashed, color=${q(COLORS.actor)}, fontcolor=${q(COLORS.actor)}`
    const spawners = [...new Set(actor.spawnedBy.map((spawn) => `${spawn.source}${BREAK}${spawn.action}`))]
    const from = (id: string): string => {
      const state = stateOf(model, id)
      return isContainer(state)
        ? `${anchor(state)} -> ${box} [ltail=${cluster(id)}, `
        : `${q(id)} -> ${box} [`
    }
    return [
      `${box} [label=${q(`${actor.name} actor`)}, shape=component, style="filled", fillcolor="#f3f8ec", color=${q(COLORS.actor)}]`,
      ...actor.invokedIn.map((source) => `${from(source)}label="invokes", ${style}]`),
      ...spawners.map((key) => {
        const [source = "", action = ""] = key.split(BREAK)
        return `${from(source)}label=${lines(["spawns", `(${action})`])}, ${style}]`
      }),
    ]
  })

export interface DotOptions {
  readonly title: string
  readonly direction: "LR" | "TB"
}

/** The whole chart as a DOT digraph. */
export const toDot = (model: ChartModel, { title, direction }: DotOptions): string => {
  const root = model.root
  const all = bundles(model)
  const back = againstFlow(model, all)
  const drawn = all.map((bundle) => drawBundle(model, bundle, back.has(bundle)))
  const labelNodes = new Map<string, string[]>()
  for (const { labelNode } of drawn) {
    if (labelNode !== undefined)
      labelNodes.set(labelNode.home, [...(labelNodes.get(labelNode.home) ?? []), labelNode.line])
  }
  return [
    `digraph ${q(model.id)} {`,
    `  graph [rankdir=${direction}, compound=true, newrank=true, fontname="Arial", fontsize=12, labelloc=t, label=${q(title)}, nodesep=0.25, ranksep=0.45]`,
    `  node [fontname="Arial", fontsize=10, shape=box, style="rounded,filled", fillcolor=${q(COLORS.fill)}, color=${q(COLORS.state)}]`,
    `  edge [fontname="Arial", fontsize=8, color="#444444", arrowsize=0.7]`,
    ...body(model, root, labelNodes).map((line) => `  ${line}`),
    ...drawn.flatMap(({ edges }) => edges).map((line) => `  ${line}`),
    ...actorLines(model).map((line) => `  ${line}`),
    "}",
    "",
  ].join("\n")
}
