/**
 * Keeps D/server/crl.pem fresh: clients refuse a CRL past its nextUpdate ("CRL stale"), and the
 * development CRL lasts 30 days, so it is re-issued with the CA key in D/ca when it is missing,
 * invalid, or due within a few days. The revoked serials already listed are kept. Without a CA key
 * in the folder (the CA lives elsewhere) nothing is written. Never prints or returns key material.
 * docs/protocol.md §3.2 (the CRL the server staples).
 */
import "reflect-metadata"
import { X509Certificate } from "node:crypto"
import * as x509 from "@peculiar/x509"
import { Effect, Result } from "effect"
import {
  decodePem,
  type IdentityKeyPair,
  importEncryptedPrivateKeyPem,
  keyObjectRawPublicKey,
  MAX_PEM_CHARS,
} from "../crypto/identity.ts"
import { createCrl, MAX_DER_BYTES } from "../crypto/pki.ts"
import { bytesEqual } from "../crypto/primitives.ts"
import { CRL_VALIDITY_DAYS } from "./dev-pki.ts"
import { type FileContext, type StoreError, storeError } from "./errors.ts"
import {
  type DataLayout,
  dataLayout,
  PUBLIC_FILE_MODE,
  pathExists,
  readSmallFile,
  writeFileAtomic,
} from "./layout.ts"

/** A CRL whose nextUpdate is this close is re-issued (by default). */
export const CRL_RENEWAL_WINDOW_DAYS = 7
const DAY_MS = 86_400_000
/** The new CRL starts an hour early, for clients whose clock is a little behind. */
const BACKDATE_MS = 3_600_000
const MAX_PASSPHRASE_BYTES = 1024

export interface CrlRenewal {
  /** True when a new CRL was written. */
  readonly renewed: boolean
  /** The nextUpdate of the CRL now in the folder. */
  readonly nextUpdate: Date
}

/** What the CRL in the folder says, as far as it could be read. */
interface CurrentCrl {
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  readonly revokedSerials: ReadonlyArray<string>
  /** Signed by the CA of this folder (true as well when no CA certificate is here to check with). */
  readonly signedByCa: boolean
}

/**
 * Re-issues D/server/crl.pem when it is missing, unparsable, not signed by D's CA, not yet valid,
 * or its nextUpdate falls within `withinDays` of `now`: signed with D/ca/ca.key.pem (passphrase in
 * D/ca/ca.passphrase), thisUpdate now − 1 h, nextUpdate now + 30 days, the same revoked serials,
 * written atomically. Returns `renewed: false` when the CRL is fresh, and also when it is due but
 * the folder holds no CA key (the caller should warn); fails when there is then no usable CRL at all.
 */
export const renewCrlIfDue = Effect.fn("Store.renewCrlIfDue")(function* (options: {
  readonly dir: string
  readonly now?: Date
  readonly withinDays?: number
}): Effect.fn.Return<CrlRenewal, StoreError> {
  const layout = dataLayout(options.dir)
  const now = options.now ?? new Date()
  const withinDays = options.withinDays ?? CRL_RENEWAL_WINDOW_DAYS
  const crlContext = { path: layout.crl, subject: "certificate revocation list" }
  const found = yield* readCurrentCrl(layout)
  const current = typeof found === "string" ? undefined : found
  const freshUntil = current === undefined ? undefined : freshNextUpdate(current, now, withinDays)
  if (freshUntil !== undefined) return { renewed: false, nextUpdate: freshUntil }
  if (!(yield* pathExists(layout.caKey, "CA private key"))) {
    if (current?.nextUpdate !== undefined) return { renewed: false, nextUpdate: current.nextUpdate }
    return yield* found === "missing"
      ? storeError("NotFound", crlContext)
      : storeError("Malformed", crlContext, "and there is no CA key here to re-issue it")
  }
  const revokedSerials = current?.revokedSerials ?? []
  if (revokedSerials.some((serial) => !/^[0-9a-f]{1,40}$/.test(serial))) {
    return yield* storeError("Malformed", crlContext, "it lists a serial number longer than 20 bytes")
  }
  const ca = yield* loadCertificateAuthority(layout)
  const nextUpdate = new Date(now.getTime() + CRL_VALIDITY_DAYS * DAY_MS)
  const { crlPem } = yield* Effect.promise(() =>
    createCrl({ ca, revokedSerials, thisUpdate: new Date(now.getTime() - BACKDATE_MS), nextUpdate }),
  ).pipe(
    Effect.ensuring(
      Effect.sync(() => {
        ca.key.seed.wipe()
        ca.key.secretKey.wipe()
      }),
    ),
  )
  yield* writeFileAtomic(crlContext, crlPem, { mode: PUBLIC_FILE_MODE, exclusive: false })
  return { renewed: true, nextUpdate }
})

/** The CRL's nextUpdate when it needs no renewal at `now`; `undefined` when it is due. */
const freshNextUpdate = (crl: CurrentCrl, now: Date, withinDays: number): Date | undefined => {
  const { nextUpdate } = crl
  const fresh =
    crl.signedByCa &&
    nextUpdate !== undefined &&
    crl.thisUpdate.getTime() <= now.getTime() &&
    nextUpdate.getTime() - now.getTime() > withinDays * DAY_MS
  return fresh ? nextUpdate : undefined
}

/** The CRL in the folder, "missing", or "invalid" when it is not a parsable X509 CRL with a nextUpdate. */
const readCurrentCrl = (layout: DataLayout): Effect.Effect<CurrentCrl | "missing" | "invalid", StoreError> =>
  Effect.gen(function* () {
    const pem = yield* readSmallFile({ path: layout.crl, subject: "certificate revocation list" }).pipe(
      Effect.catchIf(
        (error) => error.reason === "NotFound",
        () => Effect.succeed(undefined),
      ),
    )
    if (pem === undefined) return "missing"
    const block = decodePem(pem)
    if (block?.label !== "X509 CRL" || block.der.length > MAX_DER_BYTES) return "invalid"
    const crl = safely(() => new x509.X509Crl(block.der))
    const revokedSerials = safely(() => crl?.entries.map((entry) => normalizeSerial(entry.serialNumber)))
    if (crl === undefined || revokedSerials === undefined) return "invalid"
    const caCertificate = yield* readCaCertificateIfPresent(layout)
    const signedByCa =
      caCertificate === undefined ||
      (yield* Effect.promise(() => crl.verify({ publicKey: caCertificate }).catch(() => false)))
    return { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, revokedSerials, signedByCa }
  })

const caCertificateContext = (layout: DataLayout): FileContext => ({
  path: layout.caCertificate,
  subject: "CA certificate",
})

/** D/ca/ca.cert.pem parsed, or `undefined` when the file is absent (a folder for a server only). */
const readCaCertificateIfPresent = (
  layout: DataLayout,
): Effect.Effect<x509.X509Certificate | undefined, StoreError> =>
  readSmallFile(caCertificateContext(layout)).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
    Effect.flatMap((pem) => {
      if (pem === undefined) return Effect.succeed(undefined)
      const certificate = safely(() => new x509.X509Certificate(pem))
      return certificate === undefined
        ? Effect.fail(storeError("Malformed", caCertificateContext(layout), "not a PEM certificate"))
        : Effect.succeed(certificate)
    }),
  )

/** The CA's certificate and decrypted key; Malformed when the certificate does not certify the key. */
const loadCertificateAuthority = Effect.fnUntraced(function* (
  layout: DataLayout,
): Effect.fn.Return<{ readonly key: IdentityKeyPair; readonly certificateDer: Uint8Array }, StoreError> {
  const certificateContext = caCertificateContext(layout)
  const certificatePem = yield* readSmallFile(certificateContext)
  const block = decodePem(certificatePem)
  if (block?.label !== "CERTIFICATE") {
    return yield* storeError("Malformed", certificateContext, "not a PEM certificate")
  }
  const passphraseContext = { path: layout.caPassphrase, subject: "CA key passphrase" }
  const passphrase =
    (yield* readSmallFile(passphraseContext, MAX_PASSPHRASE_BYTES)).split(/\r?\n/, 1)[0] ?? ""
  if (passphrase.length === 0) return yield* storeError("Malformed", passphraseContext, "empty")
  const keyContext = { path: layout.caKey, subject: "CA private key" }
  const key = importEncryptedPrivateKeyPem(yield* readSmallFile(keyContext, MAX_PEM_CHARS), passphrase)
  if (Result.isFailure(key)) {
    return yield* key.failure.reason === "WrongPassphrase"
      ? storeError("WrongPassphrase", keyContext)
      : storeError("Malformed", keyContext, "not an encrypted Ed25519 PKCS#8 PEM private key")
  }
  const certified = safely(() => new X509Certificate(block.der).publicKey)
  const matches =
    certified?.asymmetricKeyType === "ed25519" &&
    bytesEqual(keyObjectRawPublicKey(certified), key.success.publicKey)
  if (!matches) {
    key.success.seed.wipe()
    key.success.secretKey.wipe()
    return yield* storeError("Malformed", certificateContext, "it does not certify the CA private key")
  }
  return { key: key.success, certificateDer: block.der }
})

const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, "")

/** Runs a parser that reports bad input by throwing; `undefined` then. */
const safely = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}
