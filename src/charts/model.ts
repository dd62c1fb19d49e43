/**
 * Walks an XState v5 machine definition (`machine.root`) into a neutral graph model shared by the
 * Mermaid, DOT and ASCII renderers: states (kind, initial child, regions), transitions (source,
 * event, targets, guard, action names; `after NAME` for delays; targetless handlers kept with no
 * target) and the actors the machine invokes or spawns. Pure: reads the definition, starts nothing.
 * Order follows the machine's own definition order, so every rendering is deterministic.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate"

export type StateKind = "atomic" | "compound" | "parallel" | "final" | "history"

export interface ChartState {
  /** XState's id, e.g. `connection.online.session.idle` (the root's is the machine id). */
  readonly id: string
  /** The key within its parent, e.g. `idle`. */
  readonly key: string
  /** Keys from the root down; empty for the root. */
  readonly path: ReadonlyArray<string>
  readonly kind: StateKind
  /** Id of the initial child of a compound state. */
  readonly initial: string | undefined
  readonly children: ReadonlyArray<ChartState>
  /** A child of a parallel state: one orthogonal region. */
  readonly isRegion: boolean
  readonly entry: ReadonlyArray<string>
  readonly exit: ReadonlyArray<string>
  /** Names of the actors invoked while in this state. */
  readonly invokes: ReadonlyArray<string>
}

export type Trigger =
  | { readonly kind: "event"; readonly type: string }
  | { readonly kind: "after"; readonly delay: string }
  | { readonly kind: "always" }

export interface ChartTransition {
  readonly source: string
  /** What is shown: `RTT`, `after requestTimeout`, `always`. */
  readonly event: string
  readonly trigger: Trigger
  /** Target state ids; empty when the event is handled in place (actions only). */
  readonly targets: ReadonlyArray<string>
  /** Guard name; `else` for the unguarded last candidate after guarded ones. */
  readonly guard: string | undefined
  readonly actions: ReadonlyArray<string>
}

export interface ChartActor {
  /** The key under `setup({ actors })` (or the invoke's id for inline logic). */
  readonly name: string
  readonly invokedIn: ReadonlyArray<string>
  /** Handlers whose action spawns this actor. */
  readonly spawnedBy: ReadonlyArray<{
    readonly source: string
    readonly event: string
    readonly action: string
  }>
}

export interface ChartModel {
  readonly id: string
  readonly root: ChartState
  /** Every state, root first, in definition order (pre-order). */
  readonly states: ReadonlyArray<ChartState>
  readonly transitions: ReadonlyArray<ChartTransition>
  readonly actors: ReadonlyArray<ChartActor>
}

type Named = { readonly name?: unknown; readonly type?: unknown; readonly guards?: unknown }

const asNamed = (value: unknown): Named | undefined =>
  (typeof value === "object" || typeof value === "function") && value !== null ? (value as Named) : undefined

/** A readable name for an action: its key, its `type`, or the builtin's name. */
export const actionName = (action: unknown): string => {
  if (typeof action === "string") return action
  const named = asNamed(action)
  if (typeof named?.type === "string") return named.type.replace(/^xstate\./, "")
  if (typeof named?.name === "string" && named.name.length > 0) return named.name
  return "inline"
}

/** A readable name for a guard: its key, `and(a, b)`, `not(a)`, or `inline`. */
export const guardName = (guard: unknown): string => {
  if (typeof guard === "string") return guard
  const named = asNamed(guard)
  if (typeof named?.type === "string") return named.type
  const name = typeof named?.name === "string" && named.name.length > 0 ? named.name : "inline"
  return Array.isArray(named?.guards) ? `${name}(${named.guards.map(guardName).join(", ")})` : name
}

const KINDS: ReadonlyArray<StateKind> = ["atomic", "compound", "parallel", "final", "history"]
const stateKind = (node: AnyStateNode): StateKind => KINDS.find((kind) => kind === node.type) ?? "atomic"

const childNodes = (node: AnyStateNode): AnyStateNode[] => Object.values(node.states) as AnyStateNode[]

/**
 * Entry/exit actions as written in the config: XState appends its own raise/cancel actions for
 * delayed transitions to `node.entry`/`node.exit` (and only once `after` has been read).
 */
const asList = (actions: unknown): unknown[] =>
  actions === undefined ? [] : Array.isArray(actions) ? actions : [actions]

/** An invoked actor's name: its `src` key, or the invoke's id for inline logic. */
const invokeName = (definition: { readonly id: string; readonly src: unknown }): string =>
  typeof definition.src === "string" ? definition.src : definition.id

const walkState = (node: AnyStateNode, isRegion: boolean): ChartState => {
  const kind = stateKind(node)
  const initialTarget = kind === "compound" ? node.initial?.target[0] : undefined
  return {
    id: node.id,
    key: node.key,
    path: node.path,
    kind,
    initial: initialTarget?.id,
    children: childNodes(node).map((child) => walkState(child, kind === "parallel")),
    isRegion,
    entry: asList(node.config.entry).map(actionName),
    exit: asList(node.config.exit).map(actionName),
    invokes: node.invoke.map(invokeName),
  }
}

const flatten = (state: ChartState): ChartState[] => [state, ...state.children.flatMap(flatten)]

const describeTrigger = (trigger: Trigger): string =>
  trigger.kind === "event" ? trigger.type : trigger.kind === "after" ? `after ${trigger.delay}` : "always"

const delayName = (delay: unknown): string =>
  typeof delay === "number" ? `${delay}ms` : typeof delay === "string" ? delay : "delay"

/** One event's candidate list: the unguarded last candidate after guarded ones reads `else`. */
const candidates = (
  source: string,
  trigger: Trigger,
  definitions: ReadonlyArray<AnyTransitionDefinition>,
): ChartTransition[] =>
  definitions.map((definition, index) => {
    const guarded = definitions.slice(0, index).some((earlier) => earlier.guard !== undefined)
    return {
      source,
      event: describeTrigger(trigger),
      trigger,
      targets: (definition.target ?? []).map((target) => target.id),
      guard: definition.guard !== undefined ? guardName(definition.guard) : guarded ? "else" : undefined,
      actions: definition.actions.map(actionName),
    }
  })

/** How XState names the completion and failure of an invoked actor; shown as `onDone NAME`. */
const INVOKE_EVENT = /^xstate\.(done|error)\.actor\.(.+)$/

/** Every trigger of a node's transitions with its candidate definitions, in definition order. */
const triggersOf = (
  node: AnyStateNode,
): Array<{ readonly trigger: Trigger; readonly definitions: ReadonlyArray<AnyTransitionDefinition> }> => {
  const invoked = new Map(node.invoke.map((definition) => [definition.id, invokeName(definition)]))
  const eventTrigger = (type: string): Trigger => {
    const [, outcome, id = ""] = INVOKE_EVENT.exec(type) ?? []
    const actor = invoked.get(id)
    return actor === undefined
      ? { kind: "event", type }
      : { kind: "event", type: `${outcome === "done" ? "onDone" : "onError"} ${actor}` }
  }
  return [
    ...[...node.transitions]
      .filter(([type]) => !type.startsWith("xstate.after."))
      .map(([type, definitions]) => ({ trigger: eventTrigger(type), definitions })),
    ...node.after.map((definition) => ({
      trigger: { kind: "after", delay: delayName(definition.delay) } as const,
      definitions: [definition],
    })),
    ...(node.always === undefined
      ? []
      : [{ trigger: { kind: "always" } as const, definitions: node.always }]),
  ]
}

const transitionsOf = (node: AnyStateNode): ChartTransition[] =>
  triggersOf(node).flatMap(({ trigger, definitions }) => candidates(node.id, trigger, definitions))

/** Where an action runs: a transition's event, or `entry` / `exit`. */
interface ActionUse {
  readonly source: string
  readonly event: string
  readonly action: unknown
}

const actionUses = (node: AnyStateNode): ActionUse[] => [
  ...asList(node.config.entry).map((action) => ({ source: node.id, event: "entry", action })),
  ...asList(node.config.exit).map((action) => ({ source: node.id, event: "exit", action })),
  ...triggersOf(node).flatMap(({ trigger, definitions }) =>
    definitions.flatMap((definition) =>
      definition.actions.map((action) => ({ source: node.id, event: describeTrigger(trigger), action })),
    ),
  ),
]

/**
 * Whether an action spawns `actor`: a `spawnChild(actor)` action, or (heuristic, for
 * `assign(({ spawn }) => spawn("actor", …))`) an assignment whose source text calls spawn on it.
 */
const spawns = (implementation: unknown, actor: string): boolean => {
  const named = asNamed(implementation) as (Named & { src?: unknown; assignment?: unknown }) | undefined
  if (named === undefined) return false
  if (named.type === "xstate.spawnChild") return named.src === actor
  const text = typeof named.assignment === "function" ? named.assignment.toString() : ""
  return [`"${actor}"`, `'${actor}'`, `\`${actor}\``].some((quoted) => text.includes(`spawn(${quoted}`))
}

const actorsOf = (
  machine: AnyStateMachine,
  states: ReadonlyArray<ChartState>,
  uses: ReadonlyArray<ActionUse>,
): ChartActor[] => {
  const implementations = machine.implementations as {
    readonly actors: Record<string, unknown>
    readonly actions: Record<string, unknown>
  }
  const resolve = (action: unknown): unknown =>
    typeof action === "string" ? implementations.actions[action] : action
  const invoked = states.flatMap((state) => state.invokes)
  const names = [...new Set([...Object.keys(implementations.actors), ...invoked])]
  return names.map((name) => ({
    name,
    invokedIn: states.filter((state) => state.invokes.includes(name)).map((state) => state.id),
    spawnedBy: uses
      .filter((use) => spawns(resolve(use.action), name))
      .map((use) => ({ source: use.source, event: use.event, action: actionName(use.action) })),
  }))
}

/** The graph model of `machine`, read from its definition. */
export const chartModel = (machine: AnyStateMachine): ChartModel => {
  const nodes: AnyStateNode[] = []
  const collect = (node: AnyStateNode): void => {
    nodes.push(node)
    for (const child of childNodes(node)) collect(child)
  }
  collect(machine.root)
  const root = walkState(machine.root, false)
  const states = flatten(root)
  const transitions = nodes.flatMap(transitionsOf)
  const actors = actorsOf(machine, states, nodes.flatMap(actionUses))
  return { id: machine.id, root, states, transitions, actors }
}

/** The state with this id; throws for an id the model does not hold (a bug in a renderer). */
export const stateOf = (model: ChartModel, id: string): ChartState => {
  const state = model.states.find((candidate) => candidate.id === id)
  if (state === undefined) throw new Error(`no state ${id} in chart ${model.id}`)
  return state
}

/** Handled in place: actions only, no state change. */
export const isInPlace = (transition: ChartTransition): boolean => transition.targets.length === 0

/** A state drawn as a container (cluster, composite): it has children. */
export const isContainer = (state: ChartState): boolean => state.children.length > 0

/** `EVENT [guard]`, the label every renderer starts from. */
export const eventLabel = (transition: ChartTransition): string =>
  transition.guard === undefined ? transition.event : `${transition.event} [${transition.guard}]`

/** Transitions grouped by the state that handles them, in definition order. */
export const transitionsFrom = (model: ChartModel, source: string): ChartTransition[] =>
  model.transitions.filter((transition) => transition.source === source)

/** Events handled in place, grouped by identical guard and actions: `RTT, ACCEPT / rejectIllegal`. */
export const inPlaceLines = (handlers: ReadonlyArray<ChartTransition>): string[] => {
  const groups = new Map<string, { guard: string | undefined; actions: string; events: string[] }>()
  for (const handler of handlers) {
    const actions = handler.actions.length === 0 ? "(ignored)" : `/ ${handler.actions.join(", ")}`
    const key = `${handler.guard ?? ""}\u0000${actions}`
    const group = groups.get(key) ?? { guard: handler.guard, actions, events: [] }
    group.events.push(handler.event)
    groups.set(key, group)
  }
  return [...groups.values()].map(
    (group) =>
      `${group.events.join(", ")}${group.guard === undefined ? "" : ` [${group.guard}]`} ${group.actions}`,
  )
}

/** Long text broken at spaces so no line passes `width` characters; later lines are indented. */
export const wrap = (text: string, width = 48): string[] => {
  const out: string[] = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line.length > 0 && line.length + word.length + 1 > width) {
      out.push(line)
      line = `   ${word}`
    } else line = line.length === 0 ? word : `${line} ${word}`
  }
  return line.length === 0 ? out : [...out, line]
}
