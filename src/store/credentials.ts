/**
 * Loads long-term material from the data folder (layout in ./layout.ts): the server's certificate,
 * CRL and decrypted key (from the server folder); a client's trust anchors (CA certificate, its own
 * CRL) and decrypted key (from the user's folder). Only reads files. Errors name files and users, never passphrases or key bytes.
 * docs/protocol.md §3.2 (what the server presents), §3.3 (what the client signs with).
 */
import { X509Certificate } from "node:crypto"
import { Effect } from "effect"
import type { ServerCredentials } from "../crypto/handshake-server.ts"
import { decodePem, type IdentityKeyPair, keyObjectRawPublicKey } from "../crypto/identity.ts"
import { certificatePemToDer } from "../crypto/pki.ts"
import { bytesEqual } from "../crypto/primitives.ts"
import { type FileContext, type StoreError, storeError } from "./errors.ts"
import { type LoadedPrivateKey, readPrivateKeyFile } from "./key-file.ts"
import { clientLayout, dataLayout, readSmallFile, serverFolderOf } from "./layout.ts"

/** Overrides D/server/server.passphrase when set and non-empty. */
export const SERVER_PASSPHRASE_VARIABLE = "ONECHAT_SERVER_PASSPHRASE"

export type Environment = Readonly<Record<string, string | undefined>>

/** Passphrase files hold one line; longer files are refused unread. */
const MAX_PASSPHRASE_BYTES = 1024

/**
 * The server's certificate (DER and PEM), its CRL and its decrypted key. The key's passphrase is
 * `environment.ONECHAT_SERVER_PASSPHRASE` when set, else D/server/server.passphrase. Fails with
 * "Malformed" also when the certificate does not certify that key.
 */
export const loadServerCredentials = Effect.fn("Store.loadServerCredentials")(function* (
  dir: string,
  environment: Environment = process.env,
): Effect.fn.Return<
  ServerCredentials & { readonly certificatePem: string; readonly keyFileWarning: string | undefined },
  StoreError
> {
  const layout = serverFolderOf(dir)
  const certificateContext = { path: layout.certificate, subject: "server certificate" }
  const certificatePem = yield* readSmallFile(certificateContext)
  const certificateDer = yield* certificateDerOf(certificatePem, certificateContext)
  const crlDer = yield* readCrl(layout.crl)
  const override = environment[SERVER_PASSPHRASE_VARIABLE]
  const passphrase =
    override !== undefined && override.length > 0
      ? override
      : yield* readPassphrase({ path: layout.passphrase, subject: "server key passphrase" })
  const { key, warning: keyFileWarning } = yield* readPrivateKeyFile(
    { path: layout.key, subject: "server private key" },
    passphrase,
  )
  const certified = certifiedPublicKey(certificateDer)
  if (certified === undefined || !bytesEqual(certified, key.publicKey)) {
    return yield* storeError("Malformed", certificateContext, "it does not certify the server private key")
  }
  return { certificateDer, crlDer, key, certificatePem, keyFileWarning }
})

/**
 * What a client trusts: the onechat CA certificate, and its own CRL when it has one (used besides
 * the stapled one). Read from user `name`'s folder (D/clients/<name> when it exists, else D); with
 * no name, from D/server when it exists (the server's copies), else D.
 */
export const loadClientTrust = Effect.fn("Store.loadClientTrust")(function* (
  dir: string,
  name?: string,
): Effect.fn.Return<
  { readonly caCertificateDer: Uint8Array; readonly localCrlDer?: Uint8Array },
  StoreError
> {
  const folder =
    name === undefined
      ? clientLayout(serverFolderOf(dir).root)
      : yield* Effect.fromResult(dataLayout(dir).client(name))
  const context = { path: folder.caCertificate, subject: "CA certificate" }
  const caCertificateDer = yield* certificateDerOf(yield* readSmallFile(context), context)
  const localCrlDer = yield* readCrl(folder.crl).pipe(
    Effect.catchIf(
      (error) => error.reason === "NotFound",
      () => Effect.succeed(undefined),
    ),
  )
  return localCrlDer === undefined ? { caCertificateDer } : { caCertificateDer, localCrlDer }
})

/** The private key of user `name` from its folder's key.pem (D/clients/<name>, else D), decrypted with `passphrase`. */
export const loadClientKey = (options: {
  readonly dir: string
  readonly name: string
  readonly passphrase: string
}): Effect.Effect<IdentityKeyPair, StoreError> => Effect.map(loadClientKeyFile(options), (file) => file.key)

/** `loadClientKey`, with the file's protection and a warning to show when it should be re-encrypted. */
export const loadClientKeyFile = Effect.fn("Store.loadClientKeyFile")(function* (options: {
  readonly dir: string
  readonly name: string
  readonly passphrase: string
}): Effect.fn.Return<LoadedPrivateKey, StoreError> {
  const path = yield* Effect.fromResult(dataLayout(options.dir).clientKeyPath(options.name))
  return yield* readPrivateKeyFile(
    { path, subject: "private key", userName: options.name },
    options.passphrase,
  )
})

const certificateDerOf = (pem: string, context: FileContext): Effect.Effect<Uint8Array, StoreError> => {
  const der = certificatePemToDer(pem)
  return der === undefined
    ? Effect.fail(storeError("Malformed", context, "not a PEM certificate"))
    : Effect.succeed(der)
}

const readCrl = (path: string): Effect.Effect<Uint8Array, StoreError> => {
  const context = { path, subject: "certificate revocation list" }
  return readSmallFile(context).pipe(
    Effect.flatMap((pem) => {
      const block = decodePem(pem)
      return block?.label === "X509 CRL"
        ? Effect.succeed(block.der)
        : Effect.fail(storeError("Malformed", context, "not a PEM X509 CRL"))
    }),
  )
}

/** The first line of a passphrase file, without its line break. */
const readPassphrase = (context: FileContext): Effect.Effect<string, StoreError> =>
  readSmallFile(context, MAX_PASSPHRASE_BYTES).pipe(
    Effect.flatMap((text) => {
      const passphrase = text.split(/\r?\n/, 1)[0] ?? ""
      return passphrase.length === 0
        ? Effect.fail(storeError("Malformed", context, "empty"))
        : Effect.succeed(passphrase)
    }),
  )

/** The raw Ed25519 key a certificate certifies, or `undefined` when it holds no Ed25519 key. */
const certifiedPublicKey = (certificateDer: Uint8Array): Uint8Array | undefined => {
  try {
    const { publicKey } = new X509Certificate(certificateDer)
    return publicKey.asymmetricKeyType === "ed25519" ? keyObjectRawPublicKey(publicKey) : undefined
  } catch {
    return undefined
  }
}
