/**
 * onechat command line: one executable, one subcommand per job. Thin: parses flags, hands over to
 * the layers below, and turns failures into one clear sentence on stderr with exit status 1.
 * No protocol logic here.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { caCommand } from "./ca-command.ts"
import { chartsCommand } from "./charts-command.ts"
import { clientCommand } from "./client-command.ts"
import { demoCommand } from "./demo-command.ts"
import { initCommand } from "./init-command.ts"
import { keygenCommand } from "./keygen-command.ts"
import { serverCommand } from "./server-command.ts"
import { userCommand } from "./user-command.ts"

const root = Command.make("onechat").pipe(
  Command.withDescription(
    "Secure one-to-one messaging: an actor server that relays end-to-end encrypted chats it cannot read.",
  ),
  Command.withSubcommands([
    serverCommand,
    clientCommand,
    initCommand,
    keygenCommand,
    caCommand,
    userCommand,
    demoCommand,
    chartsCommand,
  ]),
)

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

Command.run(root, { version: "0.1.0" }).pipe(
  Effect.catch((error) =>
    Console.error(`onechat: ${describe(error)}`).pipe(Effect.andThen(Effect.sync(() => process.exit(1)))),
  ),
  Effect.provide(NodeServices.layer),
  (program) =>
    NodeRuntime.runMain(program, {
      // SIGINT/SIGTERM interrupt the program; its finalizers close everything gracefully, and a
      // graceful stop is a success.
      teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1),
    }),
)
