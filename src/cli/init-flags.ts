/**
 * `onechat init`'s flags: the new data folder, its users, and the names for the server
 * certificate. It takes the default users from src/store/dev-pki.ts, so it loads only when the
 * command line names init (src/cli/commands.ts); the handler is src/cli/init-command.ts.
 */
import { type Command, Flag } from "effect/cli"
import { DEFAULT_DEVELOPMENT_USERS } from "../store/dev-pki.ts"
import { dirFlag, serverIpFlag, serverNameFlag } from "./shared-flags.ts"

const usersFlag = Flag.String("users").pipe(
  Flag.optional,
  Flag.withDescription(
    `Comma-separated user names to create (default ${DEFAULT_DEVELOPMENT_USERS.join(",")}); a-z, 0-9, _ and -, 1 to 32 characters, starting with a letter or digit`,
  ),
)

export const initFlags = {
  dir: dirFlag,
  users: usersFlag,
  serverNames: serverNameFlag,
  serverIps: serverIpFlag,
}

export type InitOptions = Command.Command.Config.Infer<typeof initFlags>
