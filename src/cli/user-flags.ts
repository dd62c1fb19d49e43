/**
 * The arguments and flags of `onechat user add | list | revoke` and what each does. Light (no
 * PKI code): the handlers are in src/cli/user-command.ts.
 */
import { Argument, type Command, Flag } from "effect/cli"
import { dirFlag } from "./shared-flags.ts"

const nameArgument = Argument.String("name").pipe(
  Argument.withDescription(
    "User name: a-z, 0-9, _ and -, 1 to 32 characters, starting with a letter or digit",
  ),
)

export const userAddFlags = {
  name: nameArgument,
  dir: dirFlag,
  pubkey: Flag.String("pubkey").pipe(
    Flag.optional,
    Flag.withDescription(
      "Register this Ed25519 public key (SPKI PEM file) instead of making a key pair here",
    ),
  ),
}
export type UserAddOptions = Command.Command.Config.Infer<typeof userAddFlags>

export const userListFlags = { dir: dirFlag }
export type UserListOptions = Command.Command.Config.Infer<typeof userListFlags>

export const userRevokeFlags = { name: nameArgument, dir: dirFlag }
export type UserRevokeOptions = Command.Command.Config.Infer<typeof userRevokeFlags>

/** One line each, for help. */
export const userDescriptions = {
  add: "Certify a user through D/ca: a public key made elsewhere (--pubkey), or a key pair made here (development)",
  list: "List the users certified in the server folder, and which are revoked",
  revoke: "Revoke a user through D/ca: refused at the next login, and disconnected by a running server",
} as const
