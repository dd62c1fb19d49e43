/**
 * A user's own folder (layout in ./layout.ts, ClientLayout), made on the user's machine by `onechat
 * keygen` (or by `onechat init` for development): the encrypted private key and the public key file
 * to send to the CA operator. Never overwrites a key; nothing secret leaves the folder, and the
 * passphrase is neither stored nor returned. No docs/protocol.md section: files only.
 */
import { Effect } from "effect"
import type { KeyFileWriteOptions } from "../crypto/identity.ts"
import {
  exportEncryptedPrivateKeyPem,
  exportPublicKeyPem,
  generateIdentity,
  publicKeyFingerprint,
} from "../crypto/identity.ts"
import type { Random } from "../crypto/primitives.ts"
import type { StoreError } from "./errors.ts"
import {
  clientLayout,
  makePrivateDirectory,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  writeFileAtomic,
} from "./layout.ts"

export interface ClientKeyFiles {
  /** Absolute paths. */
  readonly keyPath: string
  readonly publicKeyPath: string
  readonly publicKey: Uint8Array
  readonly publicKeyPem: string
  readonly fingerprint: string
}

/**
 * Makes user `name`'s key pair in `clientDir` (created 0700 when missing): key.pem encrypted with
 * `passphrase` (0600, AlreadyExists when a key is there), then NAME.pub.pem (SPKI PEM, 0644).
 */
export const createClientKey = Effect.fn("Store.createClientKey")(function* (options: {
  readonly clientDir: string
  readonly name: string
  readonly passphrase: string
  readonly random: Random
  readonly keyFile?: KeyFileWriteOptions
}): Effect.fn.Return<ClientKeyFiles, StoreError> {
  const layout = clientLayout(options.clientDir)
  const publicKeyPath = yield* Effect.fromResult(layout.publicKeyPath(options.name))
  yield* makePrivateDirectory(layout.root, "client folder")
  const key = generateIdentity(options.random)
  const pem = exportEncryptedPrivateKeyPem(key, options.passphrase, {
    random: options.random,
    ...options.keyFile,
  })
  key.seed.wipe()
  key.secretKey.wipe()
  yield* writeFileAtomic({ path: layout.key, subject: "private key", userName: options.name }, pem, {
    mode: PRIVATE_FILE_MODE,
    exclusive: true,
  })
  const publicKeyPem = exportPublicKeyPem(key.publicKey)
  yield* writeFileAtomic(
    { path: publicKeyPath, subject: "public key", userName: options.name },
    publicKeyPem,
    {
      mode: PUBLIC_FILE_MODE,
      exclusive: false,
    },
  )
  return {
    keyPath: layout.key,
    publicKeyPath,
    publicKey: key.publicKey,
    publicKeyPem,
    fingerprint: publicKeyFingerprint(key.publicKey),
  }
})

/** Copies public trust material (the CA certificate, a CRL) into a client folder, replacing it. */
export const writeClientTrust = (
  clientDir: string,
  files: { readonly caCertificatePem: string; readonly crlPem?: string },
): Effect.Effect<void, StoreError> => {
  const layout = clientLayout(clientDir)
  const write = (path: string, subject: string, data: string) =>
    writeFileAtomic({ path, subject }, data, { mode: PUBLIC_FILE_MODE, exclusive: false })
  return Effect.gen(function* () {
    yield* makePrivateDirectory(layout.root, "client folder")
    yield* write(layout.caCertificate, "CA certificate", files.caCertificatePem)
    if (files.crlPem !== undefined) yield* write(layout.crl, "certificate revocation list", files.crlPem)
  })
}

/**
 * A passphrase of 80 random bits: 16 lowercase base32 characters (RFC 4648 alphabet) in groups
 * of four, e.g. "mfrg-gzdf-mztw-q2lk".
 */
export const generatePassphrase = (random: Random): string => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
  const bytes = random(10)
  let bits = 0n
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte)
  bytes.fill(0)
  let out = ""
  for (let i = 15; i >= 0; i--) out += alphabet[Number((bits >> BigInt(i * 5)) & 31n)]
  return out.match(/.{4}/g)?.join("-") ?? out
}

/** The caller's passphrase when non-empty, else a generated one. */
export const givenOrGenerated = (given: string | undefined, random: Random) =>
  given !== undefined && given.length > 0
    ? { passphrase: given, generated: false }
    : { passphrase: generatePassphrase(random), generated: true }
