/**
 * `onechat ca init | issue | revoke | crl | renew-server`: the offline CA, run on the operator's
 * machine against its folder (--ca-dir; the flags are in src/cli/ca-flags.ts). Each command says
 * which file to copy where; the CA key never leaves the folder and the server never needs it.
 * Thin: the work is in src/store/ca.ts and src/store/server-folder.ts. Prints a generated CA
 * passphrase once; keys never. docs/protocol.md §3.2, §8.3.
 */
import { readFile } from "node:fs/promises"
import { Console, Effect, Option, Result } from "effect"
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
import type {
  CaCrlOptions,
  CaInitOptions,
  CaIssueOptions,
  CaRenewServerOptions,
  CaRevokeOptions,
} from "./ca-flags.ts"

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

/** Runs `onechat ca init` (flags: src/cli/ca-flags.ts). */
export const runCaInit = (options: CaInitOptions) =>
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
  })

/** Runs `onechat ca issue` (flags: src/cli/ca-flags.ts). */
export const runCaIssue = (options: CaIssueOptions) =>
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
  })

/** Runs `onechat ca revoke` (flags: src/cli/ca-flags.ts). */
export const runCaRevoke = (options: CaRevokeOptions) =>
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
  })

/** Runs `onechat ca crl` (flags: src/cli/ca-flags.ts). */
export const runCaCrl = (options: CaCrlOptions) =>
  Effect.gen(function* () {
    const issued = yield* withCa(options.caDir, options.passphraseFile, (ca) =>
      reissueCrl({ caDir: options.caDir, ca, now: new Date(), days: options.days }),
    )
    const copied = Option.map(options.serverDir, (dir) => serverLayout(dir).crl)
    if (Option.isSome(copied)) {
      yield* writeFileAtomic({ path: copied.value, subject: "certificate revocation list" }, issued.crlPem, {
        mode: PUBLIC_FILE_MODE,
        exclusive: false,
      })
    }
    yield* Console.log(
      [
        `Re-issued the CRL ${caLayout(options.caDir).crl}: ${issued.serials.length} revoked, valid until ${issued.nextUpdate.toISOString()}.`,
        Option.isSome(copied)
          ? `Copied to ${copied.value}; the running server picks it up without restart.`
          : "Copy it to the server as crl.pem before the old one runs out: the server picks it up without restart.",
      ].join("\n"),
    )
  })

/** Runs `onechat ca renew-server` (flags: src/cli/ca-flags.ts). */
export const runCaRenewServer = (options: CaRenewServerOptions) =>
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
  })
