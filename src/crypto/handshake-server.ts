/**
 * The server's side of the login handshake as pure step functions: CLIENT_HELLO → SERVER_HELLO and
 * the authentication record (1.1); the client's record (1.2) → a pending login whose registered key
 * the caller looks up, then verification. No sockets, no files. docs/protocol.md §3–§4.
 */
import { Result } from "effect"
import { ErrorCode } from "../protocol/error-codes.ts"
import { encodeFrame } from "../protocol/frame.ts"
import { decodeClientHello, encodeServerHello } from "../protocol/hello.ts"
import { decodeHandshakeMessages, encodeHandshakeMessage, type HandshakeMessage } from "../protocol/index.ts"
import { HandshakeError } from "./handshake-error.ts"
import type { IdentityKeyPair } from "./identity.ts"
import {
  CLIENT_VERIFY_LABEL,
  deriveApplicationKeys,
  deriveHandshakeSecrets,
  finishedMac,
  type HandshakeSecrets,
  SERVER_VERIFY_LABEL,
  signedContent,
  Transcript,
  wipeHandshakeSecrets,
} from "./key-schedule.ts"
import {
  bytesEqual,
  ed25519Sign,
  ed25519Verify,
  type Random,
  wipe,
  x25519,
  x25519KeyPair,
} from "./primitives.ts"
import { makeRecordChannel, type RecordChannel } from "./record.ts"

/** The server's long-term material: its certificate, the CRL it staples, and its signing key. */
export interface ServerCredentials {
  readonly certificateDer: Uint8Array
  /** Stapled into SERVER_CERTIFICATE; may be empty. */
  readonly crlDer: Uint8Array
  readonly key: IdentityKeyPair
}

/** After 1.1: waiting for the client's authentication record. */
export interface ServerAwaitingClientAuth {
  /** SERVER_HELLO and the authentication record: two frames, written together. */
  readonly frames: ReadonlyArray<Uint8Array>
  readonly transcript: Transcript
  readonly secrets: HandshakeSecrets
  readonly handshake: RecordChannel
}

/**
 * After 1.2 decrypted and its finished MAC checked: who the client claims to be. `channel` holds
 * the application keys; use its sealer for the ERROR of a failed login, and its opener only after
 * `serverVerifyClient` succeeded.
 */
export interface ClientAuthPending {
  readonly name: string
  readonly publicKey: Uint8Array
  readonly channel: RecordChannel
  readonly signature: Uint8Array
  readonly signedContent: Uint8Array
}

const fail = (reason: HandshakeError["reason"], detail?: string) =>
  Result.fail(new HandshakeError(detail === undefined ? { reason } : { reason, detail }))

/** CLIENT_HELLO → SERVER_HELLO + {SERVER_CERTIFICATE, SERVER_VERIFY, SERVER_FINISHED} (§3.2). */
export const serverReceiveClientHello = (
  body: Uint8Array,
  credentials: ServerCredentials,
  random: Random,
): Result.Result<ServerAwaitingClientAuth, HandshakeError> => {
  const hello = decodeClientHello(body)
  if (Result.isFailure(hello)) {
    const reason = hello.failure.code === ErrorCode.UnsupportedVersion ? "UnsupportedVersion" : "Malformed"
    return fail(reason, hello.failure.message)
  }
  const ephemeral = x25519KeyPair(random)
  const shared = x25519(ephemeral.secretKey, hello.success.ephemeralKey)
  wipe(ephemeral.secretKey)
  if (shared === undefined) return fail("LowOrderKey")
  const serverHello = encodeFrame(encodeServerHello({ nonce: random(32), ephemeralKey: ephemeral.publicKey }))
  const transcript = new Transcript().add(encodeFrame(body)).add(serverHello)
  const secrets = deriveHandshakeSecrets(shared, transcript.hash())
  wipe(shared)
  const handshake = makeRecordChannel("server", secrets.clientToServer, secrets.serverToClient)
  const messages: HandshakeMessage[] = []
  const append = (message: HandshakeMessage): void => {
    messages.push(message)
    transcript.add(encodeHandshakeMessage(message))
  }
  append({ type: "ServerCertificate", certificate: credentials.certificateDer, crl: credentials.crlDer })
  const signed = signedContent(SERVER_VERIFY_LABEL, transcript.hash())
  append({ type: "ServerVerify", signature: ed25519Sign(credentials.key.secretKey.expose(), signed) })
  append({ type: "ServerFinished", mac: finishedMac(secrets.serverFinishedKey, transcript.hash()) })
  const sealed = handshake.sealer.seal(Buffer.concat(messages.map(encodeHandshakeMessage)))
  if (Result.isFailure(sealed)) throw sealed.failure // impossible: fresh channel, bounded plaintext
  return Result.succeed({ frames: [serverHello, sealed.success], transcript, secrets, handshake })
}

/**
 * The client's authentication record (1.2): decrypt, decode, check CLIENT_FINISHED, derive the
 * application keys. Handshake secrets are wiped whatever the outcome.
 */
export const serverOpenClientAuth = (
  state: ServerAwaitingClientAuth,
  body: Uint8Array,
): Result.Result<ClientAuthPending, HandshakeError> => {
  const { transcript, secrets } = state
  try {
    const plaintext = state.handshake.opener.open(body)
    if (Result.isFailure(plaintext)) return fail("RecordRejected", plaintext.failure.message)
    const messages = decodeHandshakeMessages(plaintext.success)
    if (Result.isFailure(messages)) return fail("Malformed", messages.failure.message)
    const [identity, verify, finished, ...rest] = messages.success
    if (
      identity?.type !== "ClientIdentity" ||
      verify?.type !== "ClientVerify" ||
      finished?.type !== "ClientFinished" ||
      rest.length > 0
    ) {
      return fail("UnexpectedMessage")
    }
    transcript.add(encodeHandshakeMessage(identity))
    const content = signedContent(CLIENT_VERIFY_LABEL, transcript.hash())
    transcript.add(encodeHandshakeMessage(verify))
    if (!bytesEqual(finished.mac, finishedMac(secrets.clientFinishedKey, transcript.hash()))) {
      return fail("BadFinished")
    }
    transcript.add(encodeHandshakeMessage(finished))
    const keys = deriveApplicationKeys(secrets.handshakeSecret, transcript.hash())
    const channel = makeRecordChannel("server", keys.clientToServer, keys.serverToClient)
    return Result.succeed({
      name: identity.name,
      publicKey: identity.publicKey,
      channel,
      signature: verify.signature,
      signedContent: content,
    })
  } finally {
    wipeHandshakeSecrets(secrets)
  }
}

/**
 * Checks the pending login against the key registered for its name (looked up by the caller,
 * who also reports UnknownUser and Revoked): same key, valid signature over the transcript.
 */
export const serverVerifyClient = (
  pending: ClientAuthPending,
  registeredKey: Uint8Array,
): Result.Result<void, HandshakeError> => {
  if (!bytesEqual(pending.publicKey, registeredKey)) return fail("KeyMismatch")
  if (!ed25519Verify(registeredKey, pending.signedContent, pending.signature)) return fail("BadSignature")
  return Result.void
}
