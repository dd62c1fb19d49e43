/**
 * The onechat subcommands, loaded only as far as a run needs them, so that help, a mistyped
 * command line and the client's start do not wait for code they never use. The names and
 * descriptions below are all `onechat --help` shows; a subcommand's flags (src/cli/NAME-flags.ts)
 * load only when the command line names it, and its handler (src/cli/NAME-command.ts) only when
 * it runs. No I/O here.
 */
import type { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"

/**
 * A subcommand as the root sees it: any flags and failures, but no service beyond those
 * src/cli/main.ts provides — a handler that needed another would not compile.
 */
export type Subcommand = Command.Command<string, never, unknown, unknown, NodeServices.NodeServices>

interface Entry {
  readonly name: string
  readonly description: string
  /** The subcommand `name` with its flags; its handler loads when it runs. */
  readonly load: (name: string) => Promise<Subcommand>
}

/** A handler whose module is imported when the command runs, not before. */
const later =
  <M, A, E, R>(load: () => Promise<M>, pick: (module: M) => (options: A) => Effect.Effect<void, E, R>) =>
  (options: A): Effect.Effect<void, E, R> =>
    Effect.flatMap(Effect.promise(load), (module) => pick(module)(options))

const describe = Command.withDescription

/** Command `name` with its flags now and its handler (`pick` of the module `load` imports) when it runs. */
const lazy = <const Config extends Command.Command.Config, M, E, R>(
  name: string,
  config: Config,
  load: () => Promise<M>,
  pick: (module: M) => (options: Command.Command.Config.Infer<Config>) => Effect.Effect<void, E, R>,
) => Command.make(name, config, later(load, pick))

const SUBCOMMANDS: ReadonlyArray<Entry> = [
  {
    name: "server",
    description:
      "Run the onechat server from a server folder (creates a development setup in the data folder on first run)",
    load: async (name) => {
      const { serverFlags } = await import("./server-flags.ts")
      return lazy(
        name,
        serverFlags,
        () => import("./server-command.ts"),
        (m) => m.runServer,
      )
    },
  },
  {
    name: "client",
    description: "Chat as NAME (interactive on a terminal; --json for scripts)",
    load: async (name) => {
      const { clientFlags } = await import("./client-flags.ts")
      return lazy(
        name,
        clientFlags,
        () => import("./client-command.ts"),
        (m) => m.runClient,
      )
    },
  },
  {
    name: "init",
    description:
      "Create a development setup in a new folder: ca/ (offline CA), server/, clients/NAME/; prints each user's passphrase once",
    load: async (name) => {
      const { initFlags } = await import("./init-flags.ts")
      return lazy(
        name,
        initFlags,
        () => import("./init-command.ts"),
        (m) => m.runInit,
      )
    },
  },
  {
    name: "keygen",
    description: "Make your key pair on your own machine; send the public key to the CA operator",
    load: async (name) => {
      const { keygenFlags } = await import("./keygen-flags.ts")
      return lazy(
        name,
        keygenFlags,
        () => import("./keygen-command.ts"),
        (m) => m.runKeygen,
      )
    },
  },
  {
    name: "ca",
    description:
      "The offline CA: make it, certify users, revoke, re-issue the CRL, renew the server certificate",
    load: async (name) => {
      const flags = await import("./ca-flags.ts")
      const { caDescriptions: text } = flags
      const handlers = () => import("./ca-command.ts")
      return Command.make(name).pipe(
        Command.withSubcommands([
          lazy("init", flags.caInitFlags, handlers, (m) => m.runCaInit).pipe(describe(text.init)),
          lazy("issue", flags.caIssueFlags, handlers, (m) => m.runCaIssue).pipe(describe(text.issue)),
          lazy("revoke", flags.caRevokeFlags, handlers, (m) => m.runCaRevoke).pipe(describe(text.revoke)),
          lazy("crl", flags.caCrlFlags, handlers, (m) => m.runCaCrl).pipe(describe(text.crl)),
          lazy("renew-server", flags.caRenewServerFlags, handlers, (m) => m.runCaRenewServer).pipe(
            describe(text.renewServer),
          ),
        ]),
      )
    },
  },
  {
    name: "user",
    description: "Manage the users of a development folder through its CA folder (add, list, revoke)",
    load: async (name) => {
      const flags = await import("./user-flags.ts")
      const { userDescriptions: text } = flags
      const handlers = () => import("./user-command.ts")
      return Command.make(name).pipe(
        Command.withSubcommands([
          lazy("add", flags.userAddFlags, handlers, (m) => m.runUserAdd).pipe(describe(text.add)),
          lazy("list", flags.userListFlags, handlers, (m) => m.runUserList).pipe(describe(text.list)),
          lazy("revoke", flags.userRevokeFlags, handlers, (m) => m.runUserRevoke).pipe(describe(text.revoke)),
        ]),
      )
    },
  },
  {
    name: "demo",
    description: "Run a server and two scripted clients and show their conversation",
    load: async (name) => {
      return lazy(
        name,
        {},
        () => import("./demo-command.ts"),
        (m) => m.runDemo,
      )
    },
  },
  {
    name: "charts",
    description:
      "Draw the state charts of the connection, supervisor and session machines (Mermaid, DOT, SVG), or print one as text",
    load: async (name) => {
      const { chartsFlags } = await import("./charts-flags.ts")
      return lazy(
        name,
        chartsFlags,
        () => import("./charts-command.ts"),
        (m) => m.runCharts,
      )
    },
  },
]

/** Whether a run walks the whole command tree: shell completions and the wizard do. */
const walksTree = (args: ReadonlyArray<string>): boolean =>
  args.some((arg) => arg === "--wizard" || arg === "--completions" || arg.startsWith("--completions="))

/**
 * The subcommands for a run with these arguments, in help order. Complete (flags, handler) for
 * each one an argument names — effect/cli picks a subcommand by its exact name among the
 * arguments, so the one it picks is always complete — and for all of them with --completions or
 * --wizard; the others as name and description only, which is all the top-level help and the
 * suggestions for a mistyped command use.
 */
export const subcommandsFor = (args: ReadonlyArray<string>): Promise<ReadonlyArray<Subcommand>> => {
  const all = walksTree(args)
  return Promise.all(
    SUBCOMMANDS.map(async ({ name, description, load }) =>
      (all || args.includes(name) ? await load(name) : Command.make(name)).pipe(describe(description)),
    ),
  )
}

/** effect/cli's global flags that take a value: the next argument is theirs. */
const VALUE_FLAGS = new Set(["--log-level", "--completions"])

/**
 * The first argument that names no command where the tree expects one — with the path of the
 * commands before it — or undefined. effect/cli reports such a command itself, except next to
 * --help or --version, which it answers first (with exit status 0), as if the mistyped command
 * had not been there.
 */
export const unknownCommandIn = (
  root: Command.Command.Any,
  args: ReadonlyArray<string>,
): { readonly path: ReadonlyArray<string>; readonly name: string } | undefined => {
  const path = [root.name]
  let level = root
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!
    if (arg === "--") return undefined
    if (arg.startsWith("-")) {
      if (VALUE_FLAGS.has(arg)) index++
      continue
    }
    const below = level.subcommands.flatMap((group) => group.commands)
    if (below.length === 0) return undefined
    const next = below.find((command) => command.name === arg || command.alias === arg)
    if (next === undefined) return { path, name: arg }
    path.push(next.name)
    level = next
  }
  return undefined
}
