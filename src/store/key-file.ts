/**
 * Private key files on disk: the one way onechat reads them (server key, user keys, and the CA key
 * when the CA commands use it). Refuses a file that group or others may read or write, as ssh
 * does; decrypts it (src/crypto/identity.ts); warns when the file's protection is weak, and can
 * re-encrypt it. Errors and warnings name the file and public facts, never passphrases or key bytes.
 * No docs/protocol.md section: key files never cross the wire.
 */
import { open } from "node:fs/promises"
import { Effect, Result } from "effect"
import {
  exportEncryptedPrivateKeyPem,
  type IdentityKeyPair,
  type KeyFileErrorReason,
  type KeyFileProtection,
  MAX_PEM_CHARS,
  readEncryptedPrivateKeyPem,
} from "../crypto/identity.ts"
import { type FileContext, fromFsError, type StoreError, storeError } from "./errors.ts"
import { PRIVATE_FILE_MODE, writeFileAtomic } from "./layout.ts"

/** A decrypted private key file. */
export interface LoadedPrivateKey {
  readonly key: IdentityKeyPair
  readonly protection: KeyFileProtection
  /** A sentence to show the user when the file should be re-encrypted (old PBKDF2 files), else undefined. */
  readonly warning: string | undefined
}

/** Permission bits that must be clear on a private key file: anything for group or others. */
const GROUP_OTHER_BITS = 0o077

const keyFileDetails: Record<Exclude<KeyFileErrorReason, "WrongPassphrase">, string> = {
  Malformed: "not an encrypted PKCS#8 PEM private key",
  NotEd25519: "not an Ed25519 key",
  Unencrypted: "not encrypted with a passphrase",
  Unsupported: "encrypted with a scheme onechat does not read, or beyond its memory and work limits",
  Damaged: "damaged: the decrypted key does not match the public key stored in the file",
}

/**
 * Reads, checks and decrypts the private key file `context.path`: InsecurePermissions when its
 * mode gives group or others any access (checked on the open file, before reading it), NotFound,
 * Unreadable, Malformed, or WrongPassphrase.
 */
export const readPrivateKeyFile = (
  context: FileContext,
  passphrase: string,
): Effect.Effect<LoadedPrivateKey, StoreError> =>
  readPrivateFileText(context).pipe(
    Effect.flatMap((pem) => {
      const file = readEncryptedPrivateKeyPem(pem, passphrase)
      if (Result.isFailure(file)) {
        const { reason } = file.failure
        return Effect.fail(
          reason === "WrongPassphrase"
            ? storeError("WrongPassphrase", context)
            : storeError("Malformed", context, keyFileDetails[reason]),
        )
      }
      const { key, protection, strong } = file.success
      return Effect.succeed({
        key,
        protection,
        warning: strong ? undefined : weakWarning(context, protection),
      })
    }),
  )

/**
 * Rewrites the private key file `context.path` with today's protection (scrypt N = 2^17, r = 8,
 * p = 1), keeping its passphrase unless `newPassphrase` is given (the caller checks a new one with
 * checkChosenPassphrase). Atomic: readers see the old file or the new one, mode 0600.
 */
export const reencryptPrivateKeyFile = (
  context: FileContext,
  passphrase: string,
  newPassphrase: string = passphrase,
): Effect.Effect<void, StoreError> =>
  readPrivateKeyFile(context, passphrase).pipe(
    Effect.flatMap(({ key }) => {
      const pem = exportEncryptedPrivateKeyPem(key, newPassphrase)
      key.seed.wipe()
      key.secretKey.wipe()
      return writeFileAtomic(context, pem, { mode: PRIVATE_FILE_MODE, exclusive: false })
    }),
  )

/** The sentence for a file that opens but should be re-encrypted. */
const weakWarning = (context: FileContext, protection: KeyFileProtection): string => {
  const how =
    protection.kdf === "pbkdf2"
      ? `PBKDF2-HMAC-${protection.prf.toUpperCase()} with ${protection.iterations} iterations`
      : `scrypt with N = 2^${protection.logN}, r = ${protection.r}`
  return `The ${context.subject} at ${context.path} is protected only by ${how}, which anyone with a copy of the file can guess quickly; re-encrypt it with scrypt (N = 2^17, r = 8).`
}

/**
 * The text of a private file, refused unread when its mode lets group or others in (on Windows the
 * mode bits mean nothing and are not checked). The read buffer is zeroed afterwards.
 */
const readPrivateFileText = (context: FileContext): Effect.Effect<string, StoreError> =>
  Effect.tryPromise({
    try: async () => {
      const handle = await open(context.path, "r")
      const buffer = Buffer.alloc(MAX_PEM_CHARS + 1)
      try {
        const { mode } = await handle.stat()
        if (process.platform !== "win32" && (mode & GROUP_OTHER_BITS) !== 0) {
          return { refused: "InsecurePermissions" as const, mode }
        }
        let total = 0
        while (total < buffer.length) {
          const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total)
          if (bytesRead === 0) break
          total += bytesRead
        }
        if (total > MAX_PEM_CHARS) return { refused: "TooLarge" as const }
        return { text: buffer.toString("utf8", 0, total) }
      } finally {
        buffer.fill(0)
        await handle.close()
      }
    },
    catch: (cause) => fromFsError(cause, context),
  }).pipe(
    Effect.flatMap((read) => {
      if ("text" in read) return Effect.succeed(read.text)
      return Effect.fail(
        read.refused === "InsecurePermissions"
          ? storeError("InsecurePermissions", context, formatMode(read.mode))
          : storeError("Malformed", context, `larger than ${MAX_PEM_CHARS} bytes`),
      )
    }),
  )

/** Permission bits as ls-style octal, e.g. "0644". */
export const formatMode = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`
