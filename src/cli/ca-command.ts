/**
 * `onechat ca init | issue | revoke | crl | renew-server`: the offline CA, run on the operator's
 * machine against its folder (--ca-dir). Each command says which file to copy where; the CA key
 * never leaves the folder and the server never needs it. Thin: the work is in src/store/ca.ts and
 * src/store/server-folder.ts. Prints a generated CA passphrase once; keys never. docs/protocol.md §3.2, §8.3.
 */
import { readFile } from "node:fs/promises"
import { Config, Console, Effect, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { importPublicKeyPem, MAX_PEM_CHARS, publicKeyFingerprint } from "../crypto/identity.ts"
import { checkChosenPassphrase } from "../crypto/passphrase.ts"
import { systemRandom } from "../crypto/primitives.ts"
import {
  CRL_VALIDITY_DAYS,
  createCa,
  issueUserInCa,
  listIssued,
  loadCa,
  reissueCrl,
  wipeCa,
} from "../store/ca.ts"
import { generatePassphrase } from "../store/client-folder.ts"
import { caLayout, PUBLIC_FILE_MODE, readSmallFile, serverLayout, writeFileAtomic } from "../store/layout.ts"
import { createServerFolder, parseServerNames, renewServerCertificate } from "../store/server-folder.ts"

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
    Flag.withDescription(`${what} validity in days (default ${fallback})`),
  )

const readPassphraseFile = (path: string) =>
  readSmallFile({ path, subject: "passphrase file" }, 1024).pipe(
    Effect.map((text) => text.split(/\r?\n/, 1)[0] ?? ""),
  )

/** Unlocks the CA with --passphrase-file or its ca.passphrase, runs `use`, wipes the key. */
const withCa = <A, E>(
  caDir: string,
  passphraseFile: Option.Option<string>,
  use: (ca: Effect.Success<ReturnType<typeof loadCa>>) => Effect.Effect<A, E>,
) =>
  Effect.gen(function* () {
    const passphrase = Option.isSome(passphraseFile)
      ? yield* readPassphraseFile(passphraseFile.value)
      : undefined
    const ca = yield* loadCa(caDir, passphrase)
    return yield* use(ca).pipe(Effect.ensuring(Effect.sync(() => wipeCa(ca))))
  })

const init = Command.make(
  "init",
  {
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
  },
  (options) =>
    Effect.gen(function* () {
      const names = yield* parseServerNames(options.serverNames, options.serverIps, true)
      const chosen = Option.isSome(options.passphraseFile)
        ? yield* readPassphraseFile(options.passphraseFile.value)
        : undefined
      if (chosen !== undefined) {
        const checked = checkChosenPassphrase(chosen)
        if (Result.isFailure(checked)) return yield* Effect.fail(checked.failure)
      }
      const now = new Date()
      const ca = yield* createCa({
        caDir: options.caDir,
        commonName: "onechat CA",
        passphrase: chosen ?? generatePassphrase(systemRandom),
        storePassphrase: chosen === undefined,
        now,
        random: systemRandom,
      })
      const layout = caLayout(options.caDir)
      const lines = [
        `Made a CA in ${layout.root}. Keep this folder offline: its key signs every identity.`,
        `  CA certificate  ${layout.certificate}   (public: every server and client needs a copy, as ca.cert.pem)`,
        `  CRL             ${layout.crl}   (valid ${CRL_VALIDITY_DAYS} days: re-issue with "onechat ca crl" before then)`,
        chosen === undefined
          ? `  passphrase      stored in ${layout.passphrase} (0600): move it off this disk for real use`
          : "  passphrase      yours (not stored)",
      ]
      if (Option.isSome(options.serverDir)) {
        const serverDir = options.serverDir.value
        const issued = yield* createServerFolder({
          serverDir,
          caDir: options.caDir,
          ca,
          names,
          passphrase: generatePassphrase(systemRandom),
          now,
          random: systemRandom,
        }).pipe(Effect.ensuring(Effect.sync(() => wipeCa(ca))))
        lines.push(
          `Made the server folder ${serverLayout(serverDir).root} (serial ${issued.serialNumber}, names: ${[...names.dnsNames, ...names.ipAddresses].join(", ")}).`,
          `  Copy it to the server host; run there: onechat server --dir SERVER_FOLDER --host 0.0.0.0`,
        )
      } else wipeCa(ca)
      yield* Console.log(lines.join("\n"))
    }),
).pipe(Command.withDescription("Make a new offline CA (and optionally the server's folder)"))

const issue = Command.make(
  "issue",
  {
    name: Argument.String("name").pipe(Argument.withDescription("The user's name")),
    pubkey: Flag.String("pubkey").pipe(
      Flag.withDescription("The user's public key file (NAME.pub.pem from onechat keygen)"),
    ),
    out: Flag.String("out").pipe(Flag.withDescription("Where to write the certificate (e.g. NAME.cert.pem)")),
    caDir: caDirFlag,
    days: daysFlag(365, "Certificate"),
    passphraseFile: caPassphraseFlag,
  },
  (options) =>
    Effect.gen(function* () {
      const pem = yield* Effect.tryPromise({
        try: () => readFile(options.pubkey, "utf8"),
        catch: () => new Error(`Cannot read the public key file ${options.pubkey}.`),
      })
      const key = pem.length > MAX_PEM_CHARS ? undefined : Result.getOrUndefined(importPublicKeyPem(pem))
      if (key === undefined) {
        return yield* Effect.fail(
          new Error(
            `${options.pubkey} does not hold an Ed25519 public key in SPKI PEM form ("-----BEGIN PUBLIC KEY-----").`,
          ),
        )
      }
      const issued = yield* withCa(options.caDir, options.passphraseFile, (ca) =>
        issueUserInCa({
          caDir: options.caDir,
          ca,
          name: options.name,
          publicKey: key,
          now: new Date(),
          days: options.days,
          random: systemRandom,
        }),
      )
      yield* writeFileAtomic({ path: options.out, subject: "user certificate" }, issued.certificatePem, {
        mode: PUBLIC_FILE_MODE,
        exclusive: false,
      })
      yield* Console.log(
        [
          `Issued ${options.name}'s identity certificate (serial ${issued.serialNumber}, ${options.days} days) to ${options.out}.`,
          `  key fingerprint  ${publicKeyFingerprint(key)}   (compare it with the one ${options.name} read to you)`,
          `Copy ${options.out} to the server as users/${options.name}.cert.pem (no restart needed),`,
          `and send ${options.name} the CA certificate ${caLayout(options.caDir).certificate} (as ca.cert.pem in their folder).`,
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Certify a user's public key: writes their identity certificate"))

const revoke = Command.make(
  "revoke",
  {
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
  },
  (options) =>
    Effect.gen(function* () {
      const now = new Date()
      const name = Option.getOrUndefined(options.name)
      const byName =
        name === undefined
          ? []
          : (yield* listIssued(options.caDir))
              .filter((record) => record.isUser && record.commonName === name && record.notAfter > now)
              .map((record) => record.serialNumber)
      const serials = [
        ...byName,
        ...options.serials.map((serial) => serial.toLowerCase().replace(/^0+(?=.)/, "")),
      ]
      if (serials.length === 0 || serials.some((serial) => !/^[0-9a-f]{1,40}$/.test(serial))) {
        return yield* Effect.fail(
          new Error(
            name === undefined
              ? "Give a user NAME or --serial HEX (a serial number in hexadecimal)."
              : `The CA in ${caLayout(options.caDir).root} issued no unexpired certificate to ${name}; nothing was revoked.`,
          ),
        )
      }
      const crl = yield* withCa(options.caDir, options.passphraseFile, (ca) =>
        reissueCrl({ caDir: options.caDir, ca, now, days: options.days, addSerials: serials }),
      )
      yield* Console.log(
        [
          `Revoked serial ${serials.join(", ")}${name === undefined ? "" : ` (${name})`}; the CRL now lists ${crl.serials.length}, valid until ${crl.nextUpdate.toISOString()}.`,
          `Copy ${caLayout(options.caDir).crl} to the server as crl.pem: it picks it up without restart and disconnects the revoked user.`,
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Revoke a user's certificates (or serials) and re-issue the CRL"))

const crl = Command.make(
  "crl",
  {
    caDir: caDirFlag,
    days: daysFlag(CRL_VALIDITY_DAYS, "CRL"),
    serverDir: Flag.String("server-dir").pipe(
      Flag.optional,
      Flag.withDescription("Also copy the new CRL into this server folder"),
    ),
    passphraseFile: caPassphraseFlag,
  },
  (options) =>
    Effect.gen(function* () {
      const issued = yield* withCa(options.caDir, options.passphraseFile, (ca) =>
        reissueCrl({ caDir: options.caDir, ca, now: new Date(), days: options.days }),
      )
      const copied = Option.map(options.serverDir, (dir) => serverLayout(dir).crl)
      if (Option.isSome(copied)) {
        yield* writeFileAtomic(
          { path: copied.value, subject: "certificate revocation list" },
          issued.crlPem,
          {
            mode: PUBLIC_FILE_MODE,
            exclusive: false,
          },
        )
      }
      yield* Console.log(
        [
          `Re-issued the CRL ${caLayout(options.caDir).crl}: ${issued.serials.length} revoked, valid until ${issued.nextUpdate.toISOString()}.`,
          Option.isSome(copied)
            ? `Copied to ${copied.value}; the running server picks it up without restart.`
            : "Copy it to the server as crl.pem before the old one runs out: the server picks it up without restart.",
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Re-issue the CRL (run it before the current one's next update)"))

const renewServer = Command.make(
  "renew-server",
  {
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
  },
  (options) =>
    Effect.gen(function* () {
      const given = options.serverNames.length + options.serverIps.length > 0
      const names = given ? yield* parseServerNames(options.serverNames, options.serverIps, false) : undefined
      const renewed = yield* withCa(options.caDir, options.passphraseFile, (ca) =>
        renewServerCertificate({
          serverDir: options.serverDir,
          caDir: options.caDir,
          ca,
          names,
          now: new Date(),
          random: systemRandom,
          days: options.days,
        }),
      )
      const path = serverLayout(options.serverDir).certificate
      yield* Console.log(
        [
          `Renewed the server certificate ${path} (serial ${renewed.serialNumber}, ${options.days} days, names: ${[...renewed.names.dnsNames, ...renewed.names.ipAddresses].join(", ")}).`,
          `Restart the server to use it (if ${options.serverDir} is a copy, put the file in the server's folder as server.cert.pem first).`,
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Issue a new certificate for the server's key (90 days by default)"))

export const caCommand = Command.make("ca").pipe(
  Command.withDescription(
    "The offline CA: make it, certify users, revoke, re-issue the CRL, renew the server certificate",
  ),
  Command.withSubcommands([init, issue, revoke, crl, renewServer]),
)
