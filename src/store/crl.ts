/**
 * CRL files: read one (bounded, parsed, no trust implied), judge the server's against its CA copy
 * (fresh, due soon, stale: the server refuses to start on a stale one), and keep a client's freshest
 * CA-verified CRL in its folder. Never writes a CRL that the folder's CA did not sign; never reads
 * or needs the CA key (re-issuing is ./ca.ts). docs/protocol.md §3.2 (the CRL the server staples).
 */
import "reflect-metadata"
import * as x509 from "@peculiar/x509"
import { Effect } from "effect"
import { decodePem } from "../crypto/identity.ts"
import { certificatePemToDer, derToPem, MAX_DER_BYTES } from "../crypto/pki.ts"
import { type FileContext, type StoreError, storeError } from "./errors.ts"
import {
  clientLayout,
  PUBLIC_FILE_MODE,
  readSmallFile,
  type ServerLayout,
  writeFileAtomic,
} from "./layout.ts"

/** The server warns when its CRL's nextUpdate is this close. */
export const CRL_WARNING_DAYS = 2
const DAY_MS = 86_400_000

/** A CRL file, parsed. Its signature is not checked here. */
export interface CrlFile {
  readonly der: Uint8Array
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  /** Lowercase hex, no leading zeros. */
  readonly revokedSerials: ReadonlyArray<string>
}

/** Reads and parses the PEM CRL at `context.path`: NotFound, Unreadable, or Malformed. */
export const readCrlFile = (context: FileContext): Effect.Effect<CrlFile, StoreError> =>
  readSmallFile(context).pipe(
    Effect.flatMap((pem) => {
      const parsed = parseCrl(pem)
      return parsed === undefined
        ? Effect.fail(storeError("Malformed", context, "not a PEM X509 CRL"))
        : Effect.succeed(parsed)
    }),
  )

/** How the server's CRL stands at `now`. */
export type ServerCrlState =
  | {
      readonly state: "fresh" | "due"
      readonly nextUpdate: Date
      readonly der: Uint8Array
      readonly revokedSerials: ReadonlySet<string>
    }
  | { readonly state: "stale"; readonly nextUpdate: Date | undefined }

/**
 * The server's crl.pem judged against its ca.cert.pem at `now`: "stale" when past its nextUpdate
 * (or it has none), "due" within CRL_WARNING_DAYS of it, else "fresh". Fails Malformed when it is
 * not signed by the CA, or not yet valid.
 */
export const checkServerCrl = Effect.fn("Store.checkServerCrl")(function* (
  server: ServerLayout,
  now: Date,
): Effect.fn.Return<ServerCrlState, StoreError> {
  const context = { path: server.crl, subject: "certificate revocation list" }
  const crl = yield* readCrlFile(context)
  const caContext = { path: server.caCertificate, subject: "CA certificate" }
  const caDer = certificatePemToDer(yield* readSmallFile(caContext))
  if (caDer === undefined) return yield* storeError("Malformed", caContext, "not a PEM certificate")
  if (!(yield* Effect.promise(() => signedBy(crl.der, caDer)))) {
    return yield* storeError("Malformed", context, "not signed by the CA certificate in the same folder")
  }
  if (crl.thisUpdate.getTime() > now.getTime()) {
    return yield* storeError("Malformed", context, `not valid before ${crl.thisUpdate.toISOString()}`)
  }
  const { nextUpdate } = crl
  if (nextUpdate === undefined || nextUpdate.getTime() < now.getTime()) return { state: "stale", nextUpdate }
  const due = nextUpdate.getTime() - now.getTime() <= CRL_WARNING_DAYS * DAY_MS
  return {
    state: due ? "due" : "fresh",
    nextUpdate,
    der: crl.der,
    revokedSerials: new Set(crl.revokedSerials),
  }
})

/**
 * Keeps `crlDer` as the client folder's crl.pem when the folder's CA (ca.cert.pem) signed it and
 * it is newer (later thisUpdate) than the CRL already there, which it then replaces atomically.
 * Returns whether it was saved. An older, equal or foreign CRL changes nothing.
 */
export const saveClientCrl = Effect.fn("Store.saveClientCrl")(function* (
  clientDir: string,
  crlDer: Uint8Array,
): Effect.fn.Return<boolean, StoreError> {
  const layout = clientLayout(clientDir)
  const offered = parseCrl(derToPem(crlDer, "X509 CRL"))
  const caContext = { path: layout.caCertificate, subject: "CA certificate" }
  const caDer = certificatePemToDer(yield* readSmallFile(caContext))
  if (caDer === undefined) return yield* storeError("Malformed", caContext, "not a PEM certificate")
  if (offered === undefined || !(yield* Effect.promise(() => signedBy(crlDer, caDer)))) return false
  const context = { path: layout.crl, subject: "certificate revocation list" }
  const current = yield* readCrlFile(context).pipe(Effect.orElseSucceed(() => undefined))
  const currentIsValid = current !== undefined && (yield* Effect.promise(() => signedBy(current.der, caDer)))
  if (currentIsValid && current.thisUpdate.getTime() >= offered.thisUpdate.getTime()) return false
  yield* writeFileAtomic(context, derToPem(crlDer, "X509 CRL"), { mode: PUBLIC_FILE_MODE, exclusive: false })
  return true
})

const parseCrl = (pem: string): CrlFile | undefined => {
  const block = decodePem(pem)
  if (block?.label !== "X509 CRL" || block.der.length > MAX_DER_BYTES) return undefined
  try {
    const crl = new x509.X509Crl(block.der)
    return {
      der: block.der,
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
      revokedSerials: crl.entries.map((entry) => entry.serialNumber.toLowerCase().replace(/^0+(?=.)/, "")),
    }
  } catch {
    return undefined
  }
}

/** Whether the CA certificate `caDer` signed the CRL `crlDer` (issuer name and signature). */
const signedBy = async (crlDer: Uint8Array, caDer: Uint8Array): Promise<boolean> => {
  try {
    const ca = new x509.X509Certificate(caDer)
    const crl = new x509.X509Crl(crlDer)
    return crl.issuer === ca.subject && (await crl.verify({ publicKey: ca }))
  } catch {
    return false
  }
}
