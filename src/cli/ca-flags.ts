/**
 * The flags of `onechat ca init | issue | revoke | crl | renew-server` and what each does. The CA
 * folder (--ca-dir, env ONECHAT_CA_DIR) is named on every command. Loaded only when the command
 * line names ca (src/cli/commands.ts); the handlers are in src/cli/ca-command.ts.
 */
import { Config } from "effect"
import { Argument, type Command, Flag } from "effect/cli"
import { CRL_VALIDITY_DAYS } from "../store/ca.ts"
import { serverIpFlag, serverNameFlag } from "./shared-flags.ts"

const caDirFlag = Flag.String("ca-dir").pipe(
  Flag.withFallbackConfig(Config.String("ONECHAT_CA_DIR")),
  Flag.withDescription("The CA folder (env ONECHAT_CA_DIR): keep it offline"),
)
const caPassphraseFlag = Flag.String("passphrase-file").pipe(
  Flag.optional,
  Flag.withDescription(
    "The CA key's passphrase, first line of this file (default: ca.passphrase in the CA folder)",
  ),
)
const daysFlag = (fallback: number, what: string) =>
  Flag.Int("days").pipe(
    Flag.withDefault(fallback),
    Flag.filter(
      (days) => days >= 1 && days <= 3_650,
      () => "a number of days from 1 to 3650",
    ),
    Flag.withDescription(`${what} validity in days (default ${fallback})`),
  )

export const caInitFlags = {
  caDir: caDirFlag,
  serverDir: Flag.String("server-dir").pipe(
    Flag.optional,
    Flag.withDescription("Also make the server's folder here (its key, certificate, CA copy, CRL, users/)"),
  ),
  serverNames: serverNameFlag,
  serverIps: serverIpFlag,
  passphraseFile: Flag.String("passphrase-file").pipe(
    Flag.optional,
    Flag.withDescription(
      "Encrypt the CA key with this file's first line (not stored); default: generated, stored in ca.passphrase",
    ),
  ),
}
export type CaInitOptions = Command.Command.Config.Infer<typeof caInitFlags>

export const caIssueFlags = {
  name: Argument.String("name").pipe(Argument.withDescription("The user's name")),
  pubkey: Flag.String("pubkey").pipe(
    Flag.withDescription("The user's public key file (NAME.pub.pem from onechat keygen)"),
  ),
  out: Flag.String("out").pipe(Flag.withDescription("Where to write the certificate (e.g. NAME.cert.pem)")),
  caDir: caDirFlag,
  days: daysFlag(365, "Certificate"),
  passphraseFile: caPassphraseFlag,
}
export type CaIssueOptions = Command.Command.Config.Infer<typeof caIssueFlags>

export const caRevokeFlags = {
  name: Argument.String("name").pipe(
    Argument.optional,
    Argument.withDescription("Revoke every unexpired certificate issued to this user"),
  ),
  serials: Flag.String("serial").pipe(
    Flag.atLeast(0),
    Flag.withDescription("Revoke this serial number (hex; repeatable)"),
  ),
  caDir: caDirFlag,
  days: daysFlag(CRL_VALIDITY_DAYS, "CRL"),
  passphraseFile: caPassphraseFlag,
}
export type CaRevokeOptions = Command.Command.Config.Infer<typeof caRevokeFlags>

export const caCrlFlags = {
  caDir: caDirFlag,
  days: daysFlag(CRL_VALIDITY_DAYS, "CRL"),
  serverDir: Flag.String("server-dir").pipe(
    Flag.optional,
    Flag.withDescription("Also copy the new CRL into this server folder"),
  ),
  passphraseFile: caPassphraseFlag,
}
export type CaCrlOptions = Command.Command.Config.Infer<typeof caCrlFlags>

export const caRenewServerFlags = {
  caDir: caDirFlag,
  serverDir: Flag.String("server-dir").pipe(
    Flag.withDescription(
      "A folder with the current server.cert.pem (the server folder or a copy of that file)",
    ),
  ),
  serverNames: serverNameFlag,
  serverIps: serverIpFlag,
  days: daysFlag(90, "Server certificate"),
  passphraseFile: caPassphraseFlag,
}
export type CaRenewServerOptions = Command.Command.Config.Infer<typeof caRenewServerFlags>

/** One line each, for help. */
export const caDescriptions = {
  init: "Make a new offline CA (and optionally the server's folder)",
  issue: "Certify a user's public key: writes their identity certificate",
  revoke: "Revoke a user's certificates (or serials) and re-issue the CRL",
  crl: "Re-issue the CRL (run it before the current one's next update)",
  renewServer: "Issue a new certificate for the server's key (90 days by default)",
} as const
