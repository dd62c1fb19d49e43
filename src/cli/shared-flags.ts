/**
 * Flags that several commands take: the data folder (--dir), the server's address (--host and the
 * default port) and the names a server certificate carries (--server-name, --server-ip). Light on
 * purpose — effect/cli and constants only — so that parsing and help for the client, keygen and
 * user commands load no crypto and no actors (src/cli/commands.ts).
 */
import { Config } from "effect"
import { Flag } from "effect/cli"
import { DEFAULT_DATA_DIR } from "../store/layout.ts"

export const DEFAULT_PORT = 7707

export const dirFlag = Flag.String("dir").pipe(
  Flag.withFallbackConfig(Config.String("ONECHAT_DIR")),
  Flag.withDefault(DEFAULT_DATA_DIR),
  Flag.withDescription(
    `Data folder made by init (the server uses its server/), or a server folder (env ONECHAT_DIR, default ${DEFAULT_DATA_DIR})`,
  ),
)

export const hostFlag = Flag.String("host").pipe(
  Flag.withFallbackConfig(Config.String("ONECHAT_HOST")),
  Flag.withDefault("127.0.0.1"),
  Flag.withDescription("Address (env ONECHAT_HOST, default 127.0.0.1)"),
)

/** `--server-name NAME`, repeatable: DNS names (or IPs) for the server certificate. */
export const serverNameFlag = Flag.String("server-name").pipe(
  Flag.atLeast(0),
  Flag.withDescription("A DNS name of the server for its certificate (repeatable)"),
)

/** `--server-ip ADDR`, repeatable: IP addresses for the server certificate. */
export const serverIpFlag = Flag.String("server-ip").pipe(
  Flag.atLeast(0),
  Flag.withDescription("An IP address of the server for its certificate (repeatable)"),
)
