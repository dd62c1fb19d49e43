/**
 * The server's side of the login handshake as pure step functions: CLIENT_HELLO → hybrid key
 * agreement (X25519 + ML-KEM-768 encapsulation) → SERVER_HELLO and the authentication record
 * (1.1); the client's record (1.2) → a pending login whose registered key the caller looks up, then
 * verification that costs the same whatever the outcome. No sockets, no files, no clock.
 * docs/protocol.md §3–§4.
 */
import { Result } from "effect"
import { PROTOCOL_VERSION } from "../protocol/constants.ts"
import type { ProtocolError } from "../protocol/errors.ts"
import { encodeFrame } from "../protocol/frame.ts"
import {
  type ClientHello,
  clientHelloVersion,
  decodeClientHello,
  encodeServerHello,
} from "../protocol/hello.ts"
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
import { importEncapsulationKey, mlKemEncapsulate } from "./mlkem.ts"
import {
  bytesEqual,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  type Random,
  sha256,
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

/** Why a first frame is not a v3 CLIENT_HELLO, as the error the server answers with (§3.1). */
const helloFailure = (body: Uint8Array, error: ProtocolError) => {
  if (error.reason === "LegacyClient") return fail("LegacyClient", error.message)
  const version = clientHelloVersion(body)
  if (error.reason === "UnsupportedVersion" && version !== undefined && version < PROTOCOL_VERSION) {
    return Result.fail(new HandshakeError({ reason: "OutdatedClient", peerVersion: version }))
  }
  const unsupported = error.reason === "UnsupportedVersion" || error.reason === "BadMagic"
  return fail(unsupported ? "UnsupportedVersion" : "Malformed", error.message)
}

/**
 * §4.2 on the server's side: X25519 with a fresh ephemeral, ML-KEM-768 encapsulation to the
 * client's key; SERVER_HELLO; handshake secrets salted with TH(…SERVER_HELLO). Both shared secrets
 * and the ephemeral secret are wiped here.
 */
const agreeHybrid = (
  body: Uint8Array,
  hello: ClientHello,
  random: Random,
): Result.Result<
  { readonly serverHello: Uint8Array; readonly transcript: Transcript; readonly secrets: HandshakeSecrets },
  HandshakeError
> => {
  const kemKey = importEncapsulationKey(hello.kemEncapsulationKey)
  if (Result.isFailure(kemKey)) return fail("BadKemKey", kemKey.failure.message)
  const ephemeral = x25519KeyPair(random)
  const dh = x25519(ephemeral.secretKey, hello.ephemeralKey)
  wipe(ephemeral.secretKey)
  if (dh === undefined) return fail("LowOrderKey")
  const kem = mlKemEncapsulate(kemKey.success)
  const serverHello = encodeFrame(
    encodeServerHello({
      nonce: random(32),
      ephemeralKey: ephemeral.publicKey,
      kemCiphertext: kem.ciphertext,
    }),
  )
  const transcript = new Transcript().add(encodeFrame(body)).add(serverHello)
  const secrets = deriveHandshakeSecrets({ mlkem: kem.sharedSecret, x25519: dh }, transcript.hash())
  wipe(dh, kem.sharedSecret)
  return Result.succeed({ serverHello, transcript, secrets })
}

/** CLIENT_HELLO → SERVER_HELLO + {SERVER_CERTIFICATE, SERVER_VERIFY, SERVER_FINISHED} (§3.2). */
export const serverReceiveClientHello = (
  body: Uint8Array,
  credentials: ServerCredentials,
  random: Random,
): Result.Result<ServerAwaitingClientAuth, HandshakeError> => {
  const hello = decodeClientHello(body)
  if (Result.isFailure(hello)) return helloFailure(body, hello.failure)
  const agreed = agreeHybrid(body, hello.success, random)
  if (Result.isFailure(agreed)) return Result.fail(agreed.failure)
  const { serverHello, transcript, secrets } = agreed.success
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

/** What the registry says about the name a client claims (looked up by the caller). */
export type RegistryEntry =
  | { readonly status: "registered"; readonly publicKey: Uint8Array }
  | { readonly status: "revoked" }
  | { readonly status: "unknown" }

/**
 * Stands in for the registered key of an unknown or revoked name, so that such a login costs the
 * same Ed25519 verification as any other. A valid point of large order (libsodium would refuse a
 * small-order key early); nobody holds its secret, so it never verifies a real signature.
 */
const DUMMY_LOGIN_KEY = ed25519FromSeed(
  sha256(new TextEncoder().encode("onechat v3 login dummy key")),
).publicKey

/**
 * Checks a pending login against the registry's answer, with the same work whatever that answer is:
 * exactly one Ed25519 verification of CLIENT_VERIFY (against the registered key, or the dummy key
 * for an unknown or revoked name) and one constant-time key comparison. Fails with UnknownUser,
 * Revoked, KeyMismatch or BadSignature: precise reasons for the server's log, which all have the
 * code LOGIN_FAILED and the same `wireText` (§3.3, no user enumeration).
 */
export const serverVerifyLogin = (
  pending: ClientAuthPending,
  entry: RegistryEntry,
): Result.Result<void, HandshakeError> => {
  const registered = entry.status === "registered"
  const key = registered ? entry.publicKey : DUMMY_LOGIN_KEY
  const sameKey = bytesEqual(pending.publicKey, key)
  const signatureValid = ed25519Verify(key, pending.signedContent, pending.signature)
  if (entry.status === "unknown") return fail("UnknownUser")
  if (entry.status === "revoked") return fail("Revoked")
  if (!sameKey) return fail("KeyMismatch")
  if (!signatureValid) return fail("BadSignature")
  return Result.void
}

/** `serverVerifyLogin` for a name known to be registered with `registeredKey`. */
export const serverVerifyClient = (
  pending: ClientAuthPending,
  registeredKey: Uint8Array,
): Result.Result<void, HandshakeError> =>
  serverVerifyLogin(pending, { status: "registered", publicKey: registeredKey })
