/**
 * The offline CA's folder (layout in ./layout.ts, CaLayout): create it, unlock its key, issue user
 * identity and server certificates, revoke, and re-issue the CRL. Only the `onechat ca` and `onechat
 * user add|revoke` commands call this; the server never does. Never prints or returns key material
 * (only the generated CA passphrase, for the caller to store or show). docs/protocol.md §3.2, §8.3.
 */

import { X509Certificate } from "node:crypto"
import { readdir } from "node:fs/promises"
import { Effect } from "effect"
import type { IdentityKeyPair, KeyFileWriteOptions } from "../crypto/identity.ts"
import { exportEncryptedPrivateKeyPem, keyObjectRawPublicKey } from "../crypto/identity.ts"
import {
  type CertificateAuthority,
  certificatePemToDer,
  createCertificateAuthority,
  createCrl,
  type IssuedCertificate,
  issueServerCertificate,
  issueUserCertificate,
} from "../crypto/pki.ts"
import { bytesEqual, type Random } from "../crypto/primitives.ts"
import { readCrlFile } from "./crl.ts"
import { fromFsError, type StoreError, storeError } from "./errors.ts"
import { readPrivateKeyFile } from "./key-file.ts"
import {
  caLayout,
  makePrivateDirectory,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readSmallFile,
  writeFileAtomic,
} from "./layout.ts"

export const CA_VALIDITY_DAYS = 3650
export const SERVER_CERTIFICATE_VALIDITY_DAYS = 90
/** A CRL is valid this long: clients refuse it after, so a revocation reaches them within a week. */
export const CRL_VALIDITY_DAYS = 7
const DAY_MS = 86_400_000
/** Certificates and CRLs start an hour early, for machines whose clock is a little behind. */
export const BACKDATE_MS = 3_600_000
const MAX_PASSPHRASE_BYTES = 1024

/** The CA's unlocked key and certificate; the caller wipes `key` (`wipeCa`). */
export type LoadedCa = CertificateAuthority

export const wipeCa = (ca: LoadedCa): void => {
  ca.key.seed.wipe()
  ca.key.secretKey.wipe()
}

/**
 * Makes a new CA in `caDir` (missing or empty folder, else AlreadyExists): key encrypted with
 * `passphrase`, which is also written to ca.passphrase unless `storePassphrase` is false; the
 * certificate (10 years) and an empty CRL (7 days). The certificate is written last.
 */
export const createCa = Effect.fn("Store.createCa")(function* (options: {
  readonly caDir: string
  readonly commonName: string
  readonly passphrase: string
  readonly storePassphrase: boolean
  readonly now: Date
  readonly random: Random
  readonly keyFile?: KeyFileWriteOptions
}): Effect.fn.Return<LoadedCa, StoreError> {
  const layout = caLayout(options.caDir)
  for (const folder of [layout.root, layout.issuedDir]) yield* makePrivateDirectory(folder, "CA folder")
  const start = new Date(options.now.getTime() - BACKDATE_MS)
  const ca = yield* Effect.promise(() =>
    createCertificateAuthority({
      commonName: options.commonName,
      now: start,
      validityDays: CA_VALIDITY_DAYS,
      random: options.random,
    }),
  )
  const write = (path: string, subject: string, data: string, mode: number) =>
    writeFileAtomic({ path, subject }, data, { mode, exclusive: true })
  if (options.storePassphrase) {
    yield* write(layout.passphrase, "CA key passphrase", `${options.passphrase}\n`, PRIVATE_FILE_MODE)
  }
  const keyPem = exportEncryptedPrivateKeyPem(ca.key, options.passphrase, {
    random: options.random,
    ...options.keyFile,
  })
  yield* write(layout.key, "CA private key", keyPem, PRIVATE_FILE_MODE)
  const crl = yield* Effect.promise(() => newCrl(ca, [], options.now, CRL_VALIDITY_DAYS))
  yield* write(layout.crl, "certificate revocation list", crl.crlPem, PUBLIC_FILE_MODE)
  yield* write(layout.certificate, "CA certificate", ca.certificatePem, PUBLIC_FILE_MODE)
  return { key: ca.key, certificateDer: ca.certificateDer }
})

/**
 * Unlocks the CA of `caDir` with `passphrase`, else the first line of its ca.passphrase. Fails
 * NotFound (no CA here), WrongPassphrase, InsecurePermissions, or Malformed when the certificate
 * does not certify the key.
 */
export const loadCa = Effect.fn("Store.loadCa")(function* (
  caDir: string,
  passphrase?: string,
): Effect.fn.Return<LoadedCa, StoreError> {
  const layout = caLayout(caDir)
  const certificateContext = { path: layout.certificate, subject: "CA certificate" }
  const certificateDer = certificatePemToDer(yield* readSmallFile(certificateContext))
  if (certificateDer === undefined) {
    return yield* storeError("Malformed", certificateContext, "not a PEM certificate")
  }
  const passphraseContext = { path: layout.passphrase, subject: "CA key passphrase" }
  const secret =
    passphrase ?? (yield* readSmallFile(passphraseContext, MAX_PASSPHRASE_BYTES)).split(/\r?\n/, 1)[0] ?? ""
  if (secret.length === 0) return yield* storeError("Malformed", passphraseContext, "empty")
  const { key } = yield* readPrivateKeyFile({ path: layout.key, subject: "CA private key" }, secret)
  if (!certifies(certificateDer, key)) {
    wipeCa({ key, certificateDer })
    return yield* storeError("Malformed", certificateContext, "it does not certify the CA private key")
  }
  return { key, certificateDer }
})

/** Issues user `name`'s certificate for `publicKey` and records it in issued/. */
export const issueUserInCa = Effect.fn("Store.issueUserInCa")(function* (options: {
  readonly caDir: string
  readonly ca: LoadedCa
  readonly name: string
  readonly publicKey: Uint8Array
  readonly now: Date
  readonly days?: number
  readonly random: Random
}): Effect.fn.Return<IssuedCertificate, StoreError> {
  const { now } = options
  const notBefore = new Date(now.getTime() - BACKDATE_MS)
  const issued = yield* Effect.promise(() =>
    issueUserCertificate({
      ca: options.ca,
      name: options.name,
      subjectPublicKey: options.publicKey,
      notBefore,
      ...(options.days === undefined ? {} : { notAfter: new Date(now.getTime() + options.days * DAY_MS) }),
      random: options.random,
    }),
  )
  yield* recordIssued(options.caDir, issued)
  return issued
})

/** Issues a server certificate for `publicKey` (90 days by default) and records it in issued/. */
export const issueServerInCa = Effect.fn("Store.issueServerInCa")(function* (options: {
  readonly caDir: string
  readonly ca: LoadedCa
  readonly publicKey: Uint8Array
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<string>
  readonly now: Date
  readonly days?: number
  readonly random: Random
}): Effect.fn.Return<IssuedCertificate, StoreError> {
  const { now } = options
  const days = options.days ?? SERVER_CERTIFICATE_VALIDITY_DAYS
  const issued = yield* Effect.promise(() =>
    issueServerCertificate({
      ca: options.ca,
      subjectPublicKey: options.publicKey,
      commonName: options.dnsNames[0] ?? options.ipAddresses[0] ?? "onechat server",
      dnsNames: options.dnsNames,
      ipAddresses: options.ipAddresses,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + days * DAY_MS),
      random: options.random,
    }),
  )
  yield* recordIssued(options.caDir, issued)
  return issued
})

/** A certificate the CA issued, as found in issued/. */
export interface IssuedRecord {
  readonly serialNumber: string
  /** The subject CN: the user name for a user certificate. */
  readonly commonName: string
  readonly isUser: boolean
  readonly notAfter: Date
}

/** Every certificate recorded in issued/ (unparsable files skipped). */
export const listIssued = Effect.fn("Store.listIssued")(function* (
  caDir: string,
): Effect.fn.Return<ReadonlyArray<IssuedRecord>, StoreError> {
  const { issuedDir } = caLayout(caDir)
  const entries = yield* Effect.tryPromise({
    try: () => readdir(issuedDir),
    catch: (cause) => fromFsError(cause, { path: issuedDir, subject: "issued certificates folder" }),
  })
  const records: IssuedRecord[] = []
  for (const entry of entries.filter((file) => /^[0-9a-f]{1,40}\.cert\.pem$/.test(file))) {
    const pem = yield* readSmallFile({ path: `${issuedDir}/${entry}`, subject: "issued certificate" })
    const der = certificatePemToDer(pem)
    const certificate = der === undefined ? undefined : parse(der)
    if (certificate === undefined) continue
    records.push({
      serialNumber: entry.slice(0, -".cert.pem".length),
      commonName: /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? "",
      isUser: (certificate.subjectAltName ?? "").startsWith("URI:onechat:user:"),
      notAfter: certificate.validToDate,
    })
  }
  return records
})

/**
 * Adds `serials` to the CA's CRL and re-issues it (thisUpdate now − 1 h, nextUpdate now + `days`),
 * written to the CA folder. Returns the new CRL and every serial it lists.
 */
export const reissueCrl = Effect.fn("Store.reissueCrl")(function* (options: {
  readonly caDir: string
  readonly ca: LoadedCa
  readonly now: Date
  readonly days?: number
  readonly addSerials?: ReadonlyArray<string>
}): Effect.fn.Return<
  {
    readonly crlPem: string
    readonly crlDer: Uint8Array
    readonly serials: ReadonlyArray<string>
    readonly nextUpdate: Date
  },
  StoreError
> {
  const layout = caLayout(options.caDir)
  const current = yield* readCrlFile({ path: layout.crl, subject: "certificate revocation list" }).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
  )
  const serials = [...new Set([...(current?.revokedSerials ?? []), ...(options.addSerials ?? [])])]
  const days = options.days ?? CRL_VALIDITY_DAYS
  const crl = yield* Effect.promise(() => newCrl(options.ca, serials, options.now, days))
  yield* writeFileAtomic({ path: layout.crl, subject: "certificate revocation list" }, crl.crlPem, {
    mode: PUBLIC_FILE_MODE,
    exclusive: false,
  })
  return { ...crl, serials, nextUpdate: new Date(options.now.getTime() + days * DAY_MS) }
})

const newCrl = (ca: CertificateAuthority, serials: ReadonlyArray<string>, now: Date, days: number) =>
  createCrl({
    ca,
    revokedSerials: serials,
    thisUpdate: new Date(now.getTime() - BACKDATE_MS),
    nextUpdate: new Date(now.getTime() + days * DAY_MS),
  })

const recordIssued = (caDir: string, issued: IssuedCertificate): Effect.Effect<void, StoreError> => {
  const { issuedDir } = caLayout(caDir)
  return makePrivateDirectory(issuedDir, "issued certificates folder").pipe(
    Effect.andThen(
      writeFileAtomic(
        { path: `${issuedDir}/${issued.serialNumber}.cert.pem`, subject: "issued certificate" },
        issued.certificatePem,
        { mode: PUBLIC_FILE_MODE, exclusive: true },
      ),
    ),
  )
}

const parse = (der: Uint8Array): X509Certificate | undefined => {
  try {
    return new X509Certificate(der)
  } catch {
    return undefined
  }
}

/** Whether the certificate `der` certifies `key`'s public half. */
const certifies = (der: Uint8Array, key: IdentityKeyPair): boolean => {
  const certified = parse(der)?.publicKey
  return (
    certified?.asymmetricKeyType === "ed25519" && bytesEqual(keyObjectRawPublicKey(certified), key.publicKey)
  )
}
