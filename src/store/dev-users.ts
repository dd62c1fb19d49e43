/**
 * Users of a one-machine development folder D, managed through its CA folder D/ca (`onechat user
 * add|revoke|list --dir D`): certify a public key (or a key pair made here, development only),
 * revoke by name (the CRL re-issued and copied to D/server and the client folders), list. Without
 * D/ca these fail NotFound: the CA lives elsewhere, use `onechat ca`. Never returns key material.
 * docs/protocol.md §8.3 (user identity certificates), §3.2 (CRL).
 */

import { X509Certificate } from "node:crypto"
import type { Dirent } from "node:fs"
import { readdir } from "node:fs/promises"
import { Effect, Result } from "effect"
import { importPublicKeyPem, type KeyFileWriteOptions, publicKeyFingerprint } from "../crypto/identity.ts"
import { certificatePemToDer, derToPem } from "../crypto/pki.ts"
import { type Random, systemRandom } from "../crypto/primitives.ts"
import { isValidUserName } from "../protocol/names.ts"
import { issueUserInCa, type LoadedCa, listIssued, loadCa, reissueCrl, wipeCa } from "./ca.ts"
import { createClientKey, givenOrGenerated, writeClientTrust } from "./client-folder.ts"
import { readCrlFile, saveClientCrl } from "./crl.ts"
import { fromFsError, StoreError, storeError } from "./errors.ts"
import {
  type DataLayout,
  dataLayout,
  PUBLIC_FILE_MODE,
  pathExists,
  readSmallFile,
  writeFileAtomic,
} from "./layout.ts"

export interface AddedUser {
  readonly name: string
  readonly fingerprint: string
  /** Present when a key pair was made here: show it to the person once. */
  readonly passphrase?: string
  readonly generated: boolean
  /** D/server/users/<name>.cert.pem */
  readonly certificatePath: string
  readonly serialNumber: string
}

/**
 * Registers user `name` in D through D/ca: with `publicKeyPem` (an Ed25519 SPKI PEM) only that key
 * is certified; otherwise a key pair is made in D/clients/<name> (development). The certificate goes
 * to D/server/users/<name>.cert.pem. AlreadyExists while a certificate not revoked is there.
 */
export const addUser = Effect.fn("Store.addUser")(function* (options: {
  readonly dir: string
  readonly name: string
  readonly passphrase?: string
  readonly publicKeyPem?: string
  readonly random?: Random
  readonly now?: Date
  readonly keyFile?: KeyFileWriteOptions
}): Effect.fn.Return<AddedUser, StoreError> {
  const { name } = options
  const layout = dataLayout(options.dir)
  const random = options.random ?? systemRandom
  const now = options.now ?? new Date()
  const certificatePath = yield* Effect.fromResult(layout.server.userCertificatePath(name))
  if (!(yield* pathExists(layout.usersDir, "users folder"))) {
    return yield* storeError("NotFound", { path: layout.usersDir, subject: "users folder" })
  }
  const existing = yield* currentSerial(certificatePath, name)
  if (existing !== undefined && !(yield* revokedSerials(layout)).includes(existing)) {
    return yield* storeError("AlreadyExists", {
      path: certificatePath,
      subject: "user certificate",
      userName: name,
    })
  }
  let publicKey: Uint8Array
  let made: { passphrase: string; generated: boolean } | undefined
  if (options.publicKeyPem !== undefined) {
    const imported = importPublicKeyPem(options.publicKeyPem)
    if (Result.isFailure(imported)) {
      const detail =
        imported.failure.reason === "NotEd25519" ? "not an Ed25519 key" : "not an SPKI PEM public key"
      return yield* new StoreError({
        reason: "Malformed",
        subject: "public key given",
        userName: name,
        detail,
      })
    }
    publicKey = imported.success
  } else {
    made = givenOrGenerated(options.passphrase, random)
    const clientDir = yield* Effect.fromResult(layout.clientDir(name))
    const key = yield* createClientKey({
      clientDir,
      name,
      passphrase: made.passphrase,
      random,
      ...(options.keyFile === undefined ? {} : { keyFile: options.keyFile }),
    })
    publicKey = key.publicKey
  }
  const ca = yield* loadCa(layout.ca.root)
  const serialNumber = yield* certifyUser(layout, ca, name, publicKey, now, random).pipe(
    Effect.ensuring(Effect.sync(() => wipeCa(ca))),
  )
  return {
    name,
    fingerprint: publicKeyFingerprint(publicKey),
    generated: made?.generated ?? false,
    ...(made === undefined ? {} : { passphrase: made.passphrase }),
    certificatePath,
    serialNumber,
  }
})

/**
 * Revokes user `name` through D/ca: every unexpired certificate the CA issued for the name is added
 * to the CRL, which is re-issued (7 days) and copied to D/server/crl.pem and to each client folder.
 * NotFound when D/server/users/<name>.cert.pem is missing; `newlyRevoked` false when all were already.
 */
export const revokeUser = Effect.fn("Store.revokeUser")(function* (options: {
  readonly dir: string
  readonly name: string
  readonly now?: Date
}): Effect.fn.Return<
  { readonly serials: ReadonlyArray<string>; readonly newlyRevoked: boolean },
  StoreError
> {
  const { name } = options
  const layout = dataLayout(options.dir)
  const now = options.now ?? new Date()
  const certificatePath = yield* Effect.fromResult(layout.server.userCertificatePath(name))
  const serial = yield* currentSerial(certificatePath, name)
  if (serial === undefined) {
    return yield* storeError("NotFound", {
      path: certificatePath,
      subject: "user certificate",
      userName: name,
    })
  }
  const issued = yield* listIssued(layout.ca.root)
  const serials = [
    serial,
    ...issued.filter((r) => r.isUser && r.commonName === name && r.notAfter > now).map((r) => r.serialNumber),
  ]
  const already = yield* revokedSerials(layout)
  const toAdd = [...new Set(serials)].filter((s) => !already.includes(s))
  if (toAdd.length === 0) return { serials: [...new Set(serials)], newlyRevoked: false }
  const ca = yield* loadCa(layout.ca.root)
  const crl = yield* reissueCrl({ caDir: layout.ca.root, ca, now, addSerials: toAdd }).pipe(
    Effect.ensuring(Effect.sync(() => wipeCa(ca))),
  )
  yield* publishCrl(layout, crl.crlPem, crl.crlDer)
  return { serials: [...new Set(serials)], newlyRevoked: true }
})

/** Copies a new CRL from D/ca to D/server/crl.pem and to every client folder that has a CA copy. */
export const publishCrl = Effect.fn("Store.publishCrl")(function* (
  layout: DataLayout,
  crlPem: string,
  crlDer: Uint8Array,
): Effect.fn.Return<void, StoreError> {
  yield* writeFileAtomic({ path: layout.crl, subject: "certificate revocation list" }, crlPem, {
    mode: PUBLIC_FILE_MODE,
    exclusive: false,
  })
  for (const name of yield* namesIn(layout.clientsDir, (entry) => entry.isDirectory())) {
    const client = yield* Effect.fromResult(layout.clientDir(name))
    yield* saveClientCrl(client, crlDer).pipe(
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        () => Effect.void,
      ),
    )
  }
})

/** Users with a certificate in D/server/users, sorted, with whether the CA's CRL lists it. */
export const listUsers = Effect.fn("Store.listUsers")(function* (
  dir: string,
): Effect.fn.Return<{ readonly registered: string[]; readonly revoked: string[] }, StoreError> {
  const layout = dataLayout(dir)
  const files = yield* namesIn(layout.usersDir, (entry) => entry.isFile() && entry.name.endsWith(".cert.pem"))
  const names = files.map((file) => file.slice(0, -".cert.pem".length)).filter(isValidUserName)
  const revoked = yield* serverRevokedSerials(layout)
  const registered: string[] = []
  const refused: string[] = []
  for (const name of names) {
    const serial = yield* currentSerial(Result.getOrThrow(layout.server.userCertificatePath(name)), name)
    ;(serial !== undefined && revoked.includes(serial) ? refused : registered).push(name)
  }
  return { registered, revoked: refused }
})

/** Issues `name`'s certificate and installs it in D/server/users, with a CA copy in the client folder. */
export const certifyUser = (
  layout: DataLayout,
  ca: LoadedCa,
  name: string,
  publicKey: Uint8Array,
  now: Date,
  random: Random,
): Effect.Effect<string, StoreError> =>
  Effect.gen(function* () {
    const issued = yield* issueUserInCa({ caDir: layout.ca.root, ca, name, publicKey, now, random })
    const path = yield* Effect.fromResult(layout.server.userCertificatePath(name))
    yield* writeFileAtomic({ path, subject: "user certificate", userName: name }, issued.certificatePem, {
      mode: PUBLIC_FILE_MODE,
      exclusive: false,
    })
    const clientDir = yield* Effect.fromResult(layout.clientDir(name))
    if (yield* pathExists(clientDir, "client folder")) {
      const crlPem = yield* readSmallFile({ path: layout.ca.crl, subject: "certificate revocation list" })
      yield* writeClientTrust(clientDir, {
        caCertificatePem: derToPem(ca.certificateDer, "CERTIFICATE"),
        crlPem,
      })
    }
    return issued.serialNumber
  })

/** The serial of the certificate file at `path`; undefined when there is none. */
const currentSerial = (path: string, name: string): Effect.Effect<string | undefined, StoreError> =>
  readSmallFile({ path, subject: "user certificate", userName: name }).pipe(
    Effect.map((pem) => {
      const der = certificatePemToDer(pem)
      try {
        return der === undefined
          ? ""
          : new X509Certificate(der).serialNumber.toLowerCase().replace(/^0+(?=.)/, "")
      } catch {
        return ""
      }
    }),
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
  )

const revokedSerials = (layout: DataLayout) => crlSerials(layout.ca.crl)
const serverRevokedSerials = (layout: DataLayout) => crlSerials(layout.crl)

/** The serials a CRL file lists; none when it is missing or unreadable. */
const crlSerials = (path: string): Effect.Effect<ReadonlyArray<string>> =>
  readCrlFile({ path, subject: "certificate revocation list" }).pipe(
    Effect.map((crl) => crl.revokedSerials),
    Effect.orElseSucceed(() => []),
  )

const namesIn = (folder: string, keep: (entry: Dirent) => boolean): Effect.Effect<string[], StoreError> =>
  Effect.tryPromise({
    try: () => readdir(folder, { withFileTypes: true }),
    catch: (cause) => fromFsError(cause, { path: folder, subject: "folder" }),
  }).pipe(
    Effect.map((entries) =>
      entries
        .filter(keep)
        .map((entry) => entry.name)
        .sort(),
    ),
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed([]),
    ),
  )
