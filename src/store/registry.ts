/**
 * The user registry the server consults at each login: D/users/<name>.pub (registered, SPKI PEM)
 * and D/revoked/<name>.pub (revoked). Files are read at every lookup, so adding or revoking a user
 * needs no restart; no folder is ever listed. An invalid name never reaches the filesystem.
 * docs/protocol.md §2.3 (names), §3.3 (the server checks the client's registered key).
 */
import { Effect, Result } from "effect"
import { importPublicKeyPem, MAX_PEM_CHARS } from "../crypto/identity.ts"
import { type StoreError, storeError } from "./errors.ts"
import { type DataLayout, dataLayout, pathExists, readSmallFile } from "./layout.ts"

/** What the registry knows about a name. `publicKey` is the raw 32-byte Ed25519 key. */
export type RegistryEntry =
  | { readonly status: "registered"; readonly publicKey: Uint8Array }
  | { readonly status: "revoked" }
  | { readonly status: "unknown" }

const UNKNOWN: RegistryEntry = { status: "unknown" }
const REVOKED: RegistryEntry = { status: "revoked" }

/** The registry of the data folder `dir`. Holds no state besides the folder's paths. */
export class UserRegistry {
  readonly layout: DataLayout

  constructor(dir: string) {
    this.layout = dataLayout(dir)
  }

  /**
   * The registry entry for `name`: "registered" with its key when D/users/<name>.pub exists,
   * else "revoked" when D/revoked/<name>.pub exists, else "unknown" (also for an invalid name).
   * Fails with "Malformed" when the registered file is not an Ed25519 SPKI PEM, and with
   * "Unreadable"/"Io" when it cannot be read: the caller must then refuse the login.
   */
  lookup(name: string): Effect.Effect<RegistryEntry, StoreError> {
    const registeredPath = this.layout.userKeyPath(name)
    const revokedPath = this.layout.revokedKeyPath(name)
    if (Result.isFailure(registeredPath) || Result.isFailure(revokedPath)) return Effect.succeed(UNKNOWN)
    const context = { path: registeredPath.success, subject: "registered public key", userName: name }
    return readSmallFile(context, MAX_PEM_CHARS).pipe(
      Effect.catchIf(
        (error) => error.reason === "NotFound",
        () => Effect.succeed(undefined),
      ),
      Effect.flatMap((pem) => {
        if (pem === undefined) {
          return pathExists(revokedPath.success, "revoked public key").pipe(
            Effect.map((revoked) => (revoked ? REVOKED : UNKNOWN)),
          )
        }
        const publicKey = importPublicKeyPem(pem)
        return Result.isSuccess(publicKey)
          ? Effect.succeed<RegistryEntry>({ status: "registered", publicKey: publicKey.success })
          : Effect.fail(
              storeError(
                "Malformed",
                context,
                publicKey.failure.reason === "NotEd25519"
                  ? "not an Ed25519 key"
                  : "not an SPKI PEM public key",
              ),
            )
      }),
    )
  }
}
