/**
 * onechat command line: one executable, one subcommand per job. Thin: parses flags, hands over to
 * the layers below, and turns failures into one clear sentence on stderr — exit status 2 for a
 * command line it cannot parse (the error first, then where to look; src/cli/usage-errors.ts), 1
 * when the command fails. Help and --version exit 0; a command group run without its subcommand
 * shows its help and exits 2. Subcommands load lazily (src/cli/commands.ts). No protocol logic here.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import { subcommandsFor, unknownCommandIn } from "./commands.ts"
import { usageErrorLines } from "./usage-errors.ts"

const args = process.argv.slice(2)

const root = Command.make("onechat").pipe(
  Command.withDescription(
    "Secure one-to-one messaging: an actor server that relays end-to-end encrypted chats it cannot read.",
  ),
  Command.withSubcommands(await subcommandsFor(args)),
)

/** `onechat nosuch --help` is a mistake to report, not a request for the top-level help. */
const mistyped = args.some((arg) => ["--help", "-h", "--version", "-v"].includes(arg))
  ? unknownCommandIn(root, args)
  : undefined
if (mistyped !== undefined) {
  const error = new CliError.UnknownSubcommand({
    subcommand: mistyped.name,
    parent: mistyped.path,
    suggestions: [],
  })
  process.stderr.write(`${usageErrorLines(mistyped.path, [error]).join("\n")}\n`)
  process.exit(2)
}

/** Help and --version as effect/cli shows them; a command line it cannot parse as our lines. */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(usageErrorLines(event.commandPath, event.errors).join("\n"))
      : CliOutput.defaultPresenter.present(event),
})

const describe = (error: unknown): string => {
  if (
    typeof error === "object" &&
    error !== null &&
    "message" in error &&
    typeof error.message === "string"
  ) {
    return error.message
  }
  return String(error)
}

const leave = (code: number) => Effect.sync(() => process.exit(code))

Command.runWith(root, { version: "0.1.0" })(args).pipe(
  Effect.catch((error) =>
    CliError.isCliError(error) && error._tag === "ShowHelp"
      ? leave(2) // already presented: the usage error lines, or the help of a group run bare
      : Console.error(`onechat: ${describe(error)}`).pipe(Effect.andThen(leave(1))),
  ),
  Effect.provide(Layer.merge(NodeServices.layer, presenter)),
  (program) =>
    NodeRuntime.runMain(program, {
      // SIGINT/SIGTERM interrupt the program; its finalizers close everything gracefully, and a
      // graceful stop is a success.
      teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1),
    }),
)
