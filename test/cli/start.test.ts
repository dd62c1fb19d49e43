/**
 * How `onechat` starts, as real processes: the top-level help lists every command and each
 * command's help its flags (they load lazily, src/cli/commands.ts); a command line that cannot be
 * parsed exits 2 with the error as the first line on stderr and no help; and the launcher
 * (bin/onechat.mjs) runs the compiled build while it matches the sources, the sources when they
 * changed or ONECHAT_NO_DIST=1 says so, and never builds. Behaviour only: timing is in
 * bench/startup.ts.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cleanUpRuns, runOnechat, temporaryFolder } from "../../testkit/processes.ts"

afterEach(cleanUpRuns)

const ROOT = new URL("../../", import.meta.url).pathname
const COMMANDS = ["server", "client", "init", "keygen", "ca", "user", "demo", "charts"]
const HELP_HEADINGS = /^(DESCRIPTION|USAGE|FLAGS|ARGUMENTS|SUBCOMMANDS|GLOBAL FLAGS)$/m

/** Each command path's help, and flags it must list (one per flags module at least). */
const FLAGS_IN_HELP: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
  [["server"], ["--dir", "--host", "--port", "--max-connections", "--inspect", "--log-format"]],
  [["client"], ["--dir", "--host", "--port", "--server", "--server-name", "--json", "--passphrase-file"]],
  [["init"], ["--dir", "--users", "--server-name", "--server-ip"]],
  [["keygen"], ["--dir", "--passphrase-file"]],
  [
    ["ca", "init"],
    ["--ca-dir", "--server-dir", "--server-name", "--server-ip", "--passphrase-file"],
  ],
  [
    ["ca", "issue"],
    ["--pubkey", "--out", "--ca-dir", "--days"],
  ],
  [
    ["ca", "revoke"],
    ["--serial", "--ca-dir", "--days"],
  ],
  [
    ["ca", "crl"],
    ["--ca-dir", "--days", "--server-dir"],
  ],
  [
    ["ca", "renew-server"],
    ["--ca-dir", "--server-dir", "--server-name", "--days"],
  ],
  [
    ["user", "add"],
    ["--dir", "--pubkey"],
  ],
  [["user", "list"], ["--dir"]],
  [["user", "revoke"], ["--dir"]],
  [["charts"], ["--out", "--ascii"]],
]

describe("onechat help and command-line errors", () => {
  it("--help exits 0 and lists every command; --version prints the version", async () => {
    const cwd = await temporaryFolder("onechat-start-")
    const [help, version] = await Promise.all([runOnechat(cwd, ["--help"]), runOnechat(cwd, ["--version"])])
    expect(help).toMatchObject({ code: 0, stderr: "" })
    const listed = help.stdout.split("SUBCOMMANDS\n")[1] ?? ""
    expect(listed.split("\n").flatMap((line) => /^ {2}(\S+) {2,}\S/.exec(line)?.[1] ?? [])).toEqual(COMMANDS)
    expect(version).toEqual({ code: 0, stdout: "onechat v0.1.0\n", stderr: "" })
  })

  it("each command's --help exits 0 and lists its flags", async () => {
    const cwd = await temporaryFolder("onechat-start-")
    const runs = await Promise.all(FLAGS_IN_HELP.map(([path]) => runOnechat(cwd, [...path, "--help"])))
    FLAGS_IN_HELP.forEach(([path, flags], index) => {
      const run = runs[index]!
      expect({ path, code: run.code, stderr: run.stderr }).toEqual({ path, code: 0, stderr: "" })
      expect(run.stdout).toContain(`onechat ${path.join(" ")} [flags]`)
      for (const flag of flags) expect(run.stdout).toMatch(new RegExp(`^ {2}${flag}\\b`, "m"))
    })
  })

  it.each([
    [["foo"], ['onechat: unknown command "foo"', 'Run "onechat --help" for the commands.']],
    [
      ["serve"],
      ['onechat: unknown command "serve" (did you mean "server"?)', 'Run "onechat --help" for the commands.'],
    ],
    [
      ["ca", "sign"],
      ['onechat ca: unknown command "sign"', 'Run "onechat ca --help" for the commands.'],
    ],
    [
      ["keygenx", "--help"],
      ['onechat: unknown command "keygenx"', 'Run "onechat --help" for the commands.'],
    ],
    [
      ["ca", "sign", "-h"],
      ['onechat ca: unknown command "sign"', 'Run "onechat ca --help" for the commands.'],
    ],
    [
      ["client", "alice", "--bogus"],
      ["onechat client: unknown flag --bogus", 'Run "onechat client --help" for the flags.'],
    ],
    [
      ["client"],
      ["onechat client: missing the argument <name>", 'Run "onechat client --help" for the usage.'],
    ],
    [
      ["keygen", "alice"],
      ["onechat keygen: missing the flag --dir", 'Run "onechat keygen --help" for the flags.'],
    ],
    [
      ["server", "--port", "1.5"],
      [
        'onechat server: --port cannot be "1.5" (expected an integer)',
        'Run "onechat server --help" for the flags.',
      ],
    ],
    [
      ["server", "--port", "-1"],
      [
        'onechat server: --port cannot be "-1" (expected a TCP port from 0 to 65535)',
        'Run "onechat server --help" for the flags.',
      ],
    ],
    [
      ["server", "--port", "65536"],
      [
        'onechat server: --port cannot be "65536" (expected a TCP port from 0 to 65535)',
        'Run "onechat server --help" for the flags.',
      ],
    ],
    [
      ["server", "--max-connections", "0"],
      [
        'onechat server: --max-connections cannot be "0" (expected a whole number of at least 1)',
        'Run "onechat server --help" for the flags.',
      ],
    ],
    [
      ["client", "alice", "--port", "0"],
      [
        'onechat client: --port cannot be "0" (expected a TCP port from 1 to 65535)',
        'Run "onechat client --help" for the flags.',
      ],
    ],
    [
      ["ca", "crl", "--ca-dir", "ca", "--days", "0"],
      [
        'onechat ca crl: --days cannot be "0" (expected a number of days from 1 to 3650)',
        'Run "onechat ca crl --help" for the flags.',
      ],
    ],
  ])("onechat %j exits 2 with the error first on stderr and no help", async (args, lines) => {
    const cwd = await temporaryFolder("onechat-start-")
    const run = await runOnechat(cwd, args)
    expect(run).toEqual({ code: 2, stdout: "", stderr: `${lines.join("\n")}\n` })
    expect(run.stderr).not.toMatch(HELP_HEADINGS)
  })

  it("a command group run without its command shows the group's help and exits 2", async () => {
    const run = await runOnechat(await temporaryFolder("onechat-start-"), ["ca"])
    expect(run.code).toBe(2)
    expect(run.stdout).toContain("onechat ca <subcommand> [flags]")
    expect(run.stdout).toMatch(/^ {2}renew-server {2,}/m)
  })
})

/** A copy of the package (sources, scripts, launcher; node_modules linked) with its own build. */
const builtCopy = async (): Promise<{ root: string; build: string; run: (env?: object) => string }> => {
  const root = await temporaryFolder("onechat-launcher-")
  for (const path of ["bin", "scripts", "src", "package.json", "package-lock.json", "tsconfig.json"]) {
    cpSync(join(ROOT, path), join(root, path), { recursive: true })
  }
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"))
  execFileSync(process.execPath, [join(root, "scripts/build.mjs"), "--quiet"])
  const { build } = JSON.parse(readFileSync(join(root, "dist/current.json"), "utf8")) as { build: string }
  const run = (env: object = {}) => {
    const result = spawnSync(process.execPath, [join(root, "bin/onechat.mjs"), "--help"], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    })
    expect({ code: result.status, stderr: result.stderr }).toEqual({ code: 0, stderr: "" })
    return result.stdout.split("\n")[1] ?? ""
  }
  return { root, build, run }
}

const DESCRIPTION =
  "  Secure one-to-one messaging: an actor server that relays end-to-end encrypted chats it cannot read."

/** A `node` older than 22 on PATH outside node_modules (the system's), if there is one. */
const findOldNode = (): { readonly path: string; readonly version: string } | undefined => {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir.includes("node_modules")) continue
    const version = spawnSync(join(dir, "node"), ["--version"], { encoding: "utf8" }).stdout?.trim()
    const major = Number(/^v(\d+)\./.exec(version ?? "")?.[1])
    if (major < 22) return { path: join(dir, "node"), version: version! }
  }
  return undefined
}

const OLD_NODE = findOldNode()

describe("bin/onechat.mjs", () => {
  it("runs the build while it matches the sources, the sources when they change or ONECHAT_NO_DIST=1", async () => {
    const { root, build, run } = await builtCopy()
    expect(run()).toBe(DESCRIPTION)
    // Mark the build's own text, so the output says which of the two ran.
    const main = join(root, "dist", build, "main.js")
    writeFileSync(main, readFileSync(main, "utf8").replace("Secure one-to-one", "Built one-to-one"))
    expect(run()).toBe(DESCRIPTION.replace("Secure", "Built"))
    expect(run({ ONECHAT_NO_DIST: "1" })).toBe(DESCRIPTION)

    const current = readFileSync(join(root, "dist/current.json"), "utf8")
    const source = join(root, "src/cli/main.ts")
    writeFileSync(source, readFileSync(source, "utf8").replace("Secure one-to-one", "Edited one-to-one"))
    expect(run()).toBe(DESCRIPTION.replace("Secure", "Edited"))
    expect(readFileSync(join(root, "dist/current.json"), "utf8")).toBe(current) // it never builds
  }, 90_000)

  // These two need a Node < 22 to start the launcher with (the system's, when it is that old).
  it.skipIf(OLD_NODE === undefined)(
    "on a Node older than 22 it re-runs itself on the bundled runtime",
    () => {
      const run = spawnSync(OLD_NODE!.path, [join(ROOT, "bin/onechat.mjs"), "client", "--bogus"], {
        encoding: "utf8",
      })
      expect({ code: run.status, stderr: run.stderr.split("\n")[0] }).toEqual({
        code: 2,
        stderr: "onechat client: unknown flag --bogus",
      })
    },
  )

  it.skipIf(OLD_NODE === undefined)(
    "on a Node older than 22 without the bundled runtime, says so in one line and exits 1",
    async () => {
      const root = await temporaryFolder("onechat-old-node-")
      mkdirSync(join(root, "bin"))
      cpSync(join(ROOT, "bin/onechat.mjs"), join(root, "bin/onechat.mjs"))
      const run = spawnSync(OLD_NODE!.path, [join(root, "bin/onechat.mjs"), "--help"], { encoding: "utf8" })
      expect({ code: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
        code: 1,
        stdout: "",
        stderr: `onechat needs Node 22 or newer (this is ${OLD_NODE!.version}); install it, or on Linux x64 run "npm ci" for the bundled one.\n`,
      })
    },
  )
})
