/**
 * onechat command line: one executable, one subcommand per job (server, client, init, user,
 * charts, demo). Thin: parses flags, then hands over to the layers below. No protocol logic here.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"

const root = Command.make("onechat").pipe(
  Command.withDescription(
    "Secure one-to-one messaging: an actor server that relays end-to-end encrypted chats it cannot read.",
  ),
)

Command.run(root, { version: "0.1.0" }).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
