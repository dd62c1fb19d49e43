/**
 * The state charts (src/charts): docs/charts matches a fresh rendering byte for byte; every state
 * of every machine (walked from `machine.root` here, independently of the model) appears in the
 * Mermaid text, the DOT, the SVG and the ASCII tree; every targeted transition appears in the DOT
 * with its event; initial, final, parallel, delayed and spawned parts are drawn.
 */
import { readdir, readFile } from "node:fs/promises"
import { beforeAll, describe, expect, it } from "vitest"
import type { AnyStateNode } from "xstate"
import { toDot } from "../../src/charts/dot.ts"
import { chartedMachines } from "../../src/charts/machines.ts"
import { mermaidIds, toMermaid } from "../../src/charts/mermaid.ts"
import { chartModel } from "../../src/charts/model.ts"
import { allChartFiles, asciiChart, type ChartFile, dotToSvg } from "../../src/charts/render.ts"

const CHARTS_DIR = new URL("../../docs/charts/", import.meta.url)

/** Every state node below the root, in definition order. */
const statesBelow = (node: AnyStateNode): AnyStateNode[] =>
  (Object.values(node.states) as AnyStateNode[]).flatMap((child) => [child, ...statesBelow(child)])

interface Edge {
  readonly source: string
  readonly event: string
  readonly target: string
}

/** Every targeted transition, read from the machine: `after NAME` for delays. */
const edgesOf = (root: AnyStateNode): Edge[] =>
  [root, ...statesBelow(root)].flatMap((node) => [
    ...[...node.transitions.entries()]
      .filter(([eventType]) => !eventType.startsWith("xstate.after."))
      .flatMap(([event, definitions]) =>
        definitions.flatMap((definition) =>
          (definition.target ?? []).map((target) => ({ source: node.id, event, target: target.id })),
        ),
      ),
    ...node.after.flatMap((definition) =>
      (definition.target ?? []).map((target) => ({
        source: node.id,
        event: `after ${String(definition.delay)}`,
        target: target.id,
      })),
    ),
  ])

const svgTexts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? "")

/** The DOT line drawing `edge`: its label node (or self-loop) names both states and the event. */
const drawsEdge = (dot: string, { source, event, target }: Edge): boolean =>
  dot.split("\n").some((line) => {
    const names = line.includes(`"${source}->${target}#`) || line.includes(`"${source}" -> "${target}"`)
    const label = /label="([^"]*)"/.exec(line)?.[1] ?? ""
    return names && label.split("\\n").some((part) => part === event || part.startsWith(`${event} [`))
  })

describe("docs/charts", () => {
  let files: ChartFile[] = []
  beforeAll(async () => {
    files = await allChartFiles()
  })

  it("is what `onechat charts` writes now", async () => {
    const committed = (await readdir(CHARTS_DIR).catch(() => [])).sort()
    const stale = files.filter((file) => !committed.includes(file.name)).map((file) => `${file.name} missing`)
    for (const file of files.filter((candidate) => committed.includes(candidate.name))) {
      const text = await readFile(new URL(file.name, CHARTS_DIR), "utf8")
      if (text !== file.content) stale.push(`${file.name} differs`)
    }
    const extra = committed.filter((name) => !files.some((file) => file.name === name))
    stale.push(...extra.map((name) => `${name} is not generated`))
    if (stale.length > 0) expect.fail(`docs/charts is stale: run npx onechat charts (${stale.join("; ")})`)
    expect(files.map((file) => file.name)).toHaveLength(9)
  })
})

describe.each(chartedMachines)("the $name chart", (charted) => {
  const model = chartModel(charted.machine)
  const states = statesBelow(charted.machine.root)
  const mermaid = toMermaid(model, charted)
  const dot = toDot(model, charted)
  const ascii = asciiChart(charted)
  let svg = ""
  beforeAll(async () => {
    svg = await dotToSvg(dot)
  })

  it("names every state in the Mermaid text", () => {
    const ids = mermaidIds(model)
    const words = new Set(mermaid.split(/[\s:{}"]+/))
    for (const state of states) {
      const id = ids.get(state.id)
      expect(id, state.id).toBeDefined()
      expect(words.has(id ?? ""), `${state.id} as ${id}`).toBe(true)
      expect(words.has(state.key), state.key).toBe(true)
    }
    expect(mermaid).toMatch(/^stateDiagram-v2$/m)
    expect(mermaid).toMatch(/^ {2}\[\*\] --> \w+$/m)
  })

  it("has every state in the DOT (a node, or a cluster when it has children) and its name as SVG text", () => {
    const texts = svgTexts(svg)
    for (const state of states) {
      const drawn = Object.keys(state.states).length > 0 ? `"cluster_${state.id}"` : `"${state.id}"`
      expect(dot, state.id).toContain(drawn)
      const shown = texts.some((text) => text === state.key || text.startsWith(`${state.key} (`))
      expect(shown, `${state.key} in the SVG`).toBe(true)
    }
  })

  it("draws every targeted transition with its event in the DOT", () => {
    const edges = edgesOf(charted.machine.root)
    expect(edges.length).toBeGreaterThan(0)
    for (const edge of edges) {
      expect(drawsEdge(dot, edge), `${edge.source} --${edge.event}--> ${edge.target}`).toBe(true)
    }
  })

  it("shows every state in the ASCII tree, with initial and final marks", () => {
    for (const state of states) expect(ascii, state.key).toMatch(new RegExp(`(^|\\s)${state.key}( |$)`, "m"))
    const initial = charted.machine.root.initial.target[0]
    expect(ascii).toMatch(new RegExp(`^● ${initial?.key}`, "m"))
    for (const final of states.filter((state) => state.type === "final")) {
      expect(ascii).toMatch(new RegExp(`◎ ${final.key}`))
      expect(mermaid).toContain(`${final.key} --> [*]`)
      expect(dot).toMatch(new RegExp(`"${final.id}" \\[[^\\n]*shape=doubleoctagon`))
    }
  })
})

describe("what the charts show", () => {
  const byName = (name: string) => {
    const charted = chartedMachines.find((candidate) => candidate.name === name)
    if (charted === undefined) throw new Error(name)
    const model = chartModel(charted.machine)
    return { mermaid: toMermaid(model, charted), dot: toDot(model, charted), ascii: asciiChart(charted) }
  }

  it("draws the parallel state's regions, delays, guards and rejections handled in place", () => {
    const { mermaid, dot, ascii } = byName("connection")
    expect(mermaid).toMatch(/state online \{[\s\S]*state session \{[\s\S]*\n {4}--\n {4}state liveness \{/)
    expect(dot).toContain('label="online (parallel)"; labeljust=l; style="rounded,bold"')
    expect(dot).toMatch(
      /subgraph "cluster_connection\.online\.liveness" \{\n\s+label="liveness"; [^\n]*rounded,dashed/,
    )
    expect(dot).toMatch(/label="after requestTimeout\\n[^"]*", fontcolor="#b5651d"/)
    expect(dot).toContain("ACCEPT [namesRequester]")
    expect(dot).toContain("rejectIllegal")
    expect(ascii).toContain("── after requestTimeout / ")
    expect(ascii).toContain(
      "↺ RTT, ACCEPT, REFUSE, MESSAGE, CC_SESSION_ESTABLISHMENT, NOTIFY / rejectIllegal",
    )
  })

  it("shows that the supervisor spawns connection actors", () => {
    const { mermaid, dot, ascii } = byName("supervisor")
    expect(dot).toContain('"actor:connection" [label="connection actor"')
    expect(dot).toMatch(/"supervisor\.running" -> "actor:connection" \[label="spawns\\n\(spawnConnection\)"/)
    expect(mermaid).toContain("spawns connection actor (spawnConnection)")
    expect(ascii).toContain("⇢ spawns connection actor (spawnConnection)")
    expect(ascii).toContain("xstate.error.actor.* / retire")
  })
})
