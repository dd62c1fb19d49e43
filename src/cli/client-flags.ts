/**
 * `onechat client`'s argument and flags: who, which folder, which server, interactive or --json,
 * where the passphrase comes from. Light (no client code): the handler is src/cli/client-command.ts.
 */
import { Config } from "effect"
import { Argument, type Command, Flag } from "effect/cli"
import { DEFAULT_PORT, dirFlag, hostFlag } from "./shared-flags.ts"

export const clientFlags = {
  name: Argument.String("name").pipe(Argument.withDescription("Your user name")),
  dir: dirFlag,
  host: hostFlag,
  port: Flag.Int("port").pipe(
    Flag.withFallbackConfig(Config.Int("ONECHAT_PORT")),
    Flag.withDefault(DEFAULT_PORT),
    Flag.filter(
      (port) => port >= 1 && port <= 65_535,
      () => "a TCP port from 1 to 65535",
    ),
    Flag.withDescription(`Server port (env ONECHAT_PORT, default ${DEFAULT_PORT})`),
  ),
  server: Flag.String("server").pipe(
    Flag.withFallbackConfig(Config.String("ONECHAT_SERVER")),
    Flag.optional,
    Flag.withDescription(
      `The server, HOST[:PORT]: a name or an IP address, IPv6 in brackets before a port (env ONECHAT_SERVER; wins over --host/--port; default 127.0.0.1:${DEFAULT_PORT})`,
    ),
  ),
  serverName: Flag.String("server-name").pipe(
    Flag.optional,
    Flag.withDescription("Name expected in the server certificate (default: the host)"),
  ),
  json: Flag.Boolean("json").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Machine mode: commands on stdin, one JSON event per line on stdout"),
  ),
  passphraseFile: Flag.String("passphrase-file").pipe(
    Flag.optional,
    Flag.withDescription(
      "Read the passphrase from this file's first line (else ONECHAT_PASSPHRASE, meant for scripts: your other processes can read it; else a hidden prompt)",
    ),
  ),
}

export type ClientOptions = Command.Command.Config.Infer<typeof clientFlags>
