/**
 * `onechat charts` as a real process (bin/onechat.mjs): writes NAME.mmd, NAME.dot and NAME.svg
 * for the three machines into --out and exits 0, the same bytes as docs/charts; `--ascii NAME`
 * prints one machine as text and writes nothing.
 */
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cleanUpRuns, runOnechat, temporaryFolder } from "../../testkit/processes.ts"

const CHARTS_DIR = new URL("../../docs/charts/", import.meta.url)

afterEach(cleanUpRuns)

const freshDir = (): Promise<string> => temporaryFolder("onechat-charts-")

const EXPECTED = ["connection", "session", "supervisor"].flatMap((name) =>
  ["dot", "mmd", "svg"].map((extension) => `${name}.${extension}`),
)

describe("onechat charts", () => {
  it("writes the nine chart files into --out, the same bytes as docs/charts, and exits 0", async () => {
    const cwd = await freshDir()
    const run = await runOnechat(cwd, ["charts", "--out", "out/charts"])

    expect(run).toMatchObject({ code: 0, stderr: "" })
    expect(run.stdout).toBe("Wrote 9 chart files to out/charts\n")
    const out = join(cwd, "out", "charts")
    expect((await readdir(out)).sort()).toEqual(EXPECTED)
    for (const name of EXPECTED) {
      const written = await readFile(join(out, name), "utf8")
      expect(written, `${name}: docs/charts is stale: run npx onechat charts`).toBe(
        await readFile(new URL(name, CHARTS_DIR), "utf8"),
      )
    }
    expect(await readFile(join(out, "connection.svg"), "utf8")).toMatch(/^<\?xml[\s\S]*<\/svg>\n$/)
  })

  it("prints one machine as text with --ascii and writes nothing", async () => {
    const cwd = await freshDir()
    const run = await runOnechat(cwd, ["charts", "--ascii", "connection"])

    expect(run).toMatchObject({ code: 0, stderr: "" })
    expect(run.stdout).toContain("● authenticating ── LOGIN_VERIFIED")
    expect(run.stdout).toContain("◎ closing")
    expect(run.stdout).toMatch(/idle ── RTT [^\n]*→ requesting\.outgoing/)
    expect(await readdir(cwd)).toEqual([])
  })
})
