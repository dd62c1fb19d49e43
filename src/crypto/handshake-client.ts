/**
 * The client's side of the login handshake (messages 1.0–1.2) as pure step functions: each takes
 * the previous state and the peer's frame body, and returns the next state and frames to send,
 * or a typed HandshakeError. The key agreement is hybrid (X25519 + ML-KEM-768, §4.2).
 * No sockets, no clock, no randomness of its own. docs/protocol.md §3–§4.
 */
import { Result } from "effect"
import { PROTOCOL_VERSION } from "../protocol/constants.ts"
import { encodeFrame } from "../protocol/frame.ts"
import { decodeServerHello, encodeClientHello } from "../protocol/hello.ts"
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
import { type MlKemKeyPair, mlKemDecapsulate, mlKemKeyPair } from "./mlkem.ts"
import { CertificateError } from "./pki.ts"
import { type VerifiedServerCertificate, verifyServerCertificate } from "./pki-check.ts"
import {
  bytesEqual,
  ed25519Sign,
  ed25519Verify,
  type Random,
  wipe,
  type X25519KeyPair,
  x25519,
  x25519KeyPair,
} from "./primitives.ts"
import { makeRecordChannel, type RecordChannel } from "./record.ts"

/** After 1.0: the hello frame to send and what the next step needs. */
export interface ClientHelloSent {
  readonly frame: Uint8Array
  readonly ephemeral: X25519KeyPair
  /** The ML-KEM-768 key pair whose encapsulation key is in the hello; dropped after SERVER_HELLO. */
  readonly kem: MlKemKeyPair
}

/** After SERVER_HELLO: handshake keys agreed, waiting for the server's authentication record. */
export interface ClientKeysAgreed {
  readonly transcript: Transcript
  readonly secrets: HandshakeSecrets
  readonly handshake: RecordChannel
}

/** What the client trusts, and the name it dialled. */
export interface ClientTrust {
  readonly caCertificateDer: Uint8Array
  /** Used when the server staples no CRL. */
  readonly localCrlDer?: Uint8Array
  readonly now: Date
  readonly expectedServerName: string
}

/** The user logging in. */
export interface LoginIdentity {
  readonly name: string
  readonly key: IdentityKeyPair
}

export interface ClientHandshakeDone {
  /** Message 1.2, one complete frame. */
  readonly frame: Uint8Array
  /** Application keys; the first record expected from the server is 1.3 (LIST) or an ERROR. */
  readonly channel: RecordChannel
  readonly server: VerifiedServerCertificate
  /** The CRL the server stapled in SERVER_CERTIFICATE (empty when none), checked against the CA. */
  readonly stapledCrlDer: Uint8Array
}

const fail = (reason: HandshakeError["reason"], detail?: string) =>
  Result.fail(new HandshakeError(detail === undefined ? { reason } : { reason, detail }))

/** Message 1.0: fresh nonce, X25519 ephemeral and ML-KEM-768 key pair (from `random`). */
export const startClientHandshake = (random: Random): ClientHelloSent => {
  const ephemeral = x25519KeyPair(random)
  const kem = mlKemKeyPair(random)
  const frame = encodeFrame(
    encodeClientHello({
      nonce: random(32),
      ephemeralKey: ephemeral.publicKey,
      kemEncapsulationKey: kem.encapsulationKey,
    }),
  )
  return { frame, ephemeral, kem }
}

/** A SERVER_HELLO that is not v3: the server needs upgrading (or this client does). */
const helloFailure = (body: Uint8Array, message: string, reason: string) =>
  reason === "UnsupportedVersion" && body.length > 1 && body[1] !== PROTOCOL_VERSION
    ? Result.fail(new HandshakeError({ reason: "ServerVersion", peerVersion: body[1]! }))
    : fail("Malformed", message)

/**
 * SERVER_HELLO → handshake keys (§4.2): X25519 and ML-KEM-768 decapsulation, both secrets mixed.
 * The ephemeral secret and both shared secrets are wiped here; the KEM key pair is then dropped.
 */
export const clientReceiveServerHello = (
  sent: ClientHelloSent,
  body: Uint8Array,
): Result.Result<ClientKeysAgreed, HandshakeError> => {
  const hello = decodeServerHello(body)
  if (Result.isFailure(hello)) {
    wipe(sent.ephemeral.secretKey)
    return helloFailure(body, hello.failure.message, hello.failure.reason)
  }
  const dh = x25519(sent.ephemeral.secretKey, hello.success.ephemeralKey)
  wipe(sent.ephemeral.secretKey)
  if (dh === undefined) return fail("LowOrderKey")
  // The decoder checked the ciphertext's length; a tampered one decapsulates to an unrelated secret.
  const kemSecret = mlKemDecapsulate(sent.kem.decapsulationKey, hello.success.kemCiphertext)
  if (Result.isFailure(kemSecret)) {
    wipe(dh)
    return fail("Malformed", kemSecret.failure.message)
  }
  const transcript = new Transcript().add(sent.frame).add(encodeFrame(body))
  const secrets = deriveHandshakeSecrets({ mlkem: kemSecret.success, x25519: dh }, transcript.hash())
  wipe(dh, kemSecret.success)
  const handshake = makeRecordChannel("client", secrets.clientToServer, secrets.serverToClient)
  return Result.succeed({ transcript, secrets, handshake })
}

const openServerAuth = (agreed: ClientKeysAgreed, body: Uint8Array) => {
  const plaintext = agreed.handshake.opener.open(body)
  if (Result.isFailure(plaintext)) return fail("RecordRejected", plaintext.failure.message)
  const messages = decodeHandshakeMessages(plaintext.success)
  if (Result.isFailure(messages)) return fail("Malformed", messages.failure.message)
  const [certificate, verify, finished, ...rest] = messages.success
  if (
    certificate?.type !== "ServerCertificate" ||
    verify?.type !== "ServerVerify" ||
    finished?.type !== "ServerFinished" ||
    rest.length > 0
  ) {
    return fail("UnexpectedMessage")
  }
  return Result.succeed({ certificate, verify, finished })
}

/**
 * The server's authentication record (1.1) → certificate, signature and finished checked in the
 * order of §3.2, then message 1.2 and the application keys (§4.3).
 */
export const clientReceiveServerAuth = (
  agreed: ClientKeysAgreed,
  body: Uint8Array,
  trust: ClientTrust,
  identity: LoginIdentity,
): Result.Result<ClientHandshakeDone, HandshakeError> => {
  const opened = openServerAuth(agreed, body)
  if (Result.isFailure(opened)) return abort(agreed, opened.failure)
  const { certificate, verify, finished } = opened.success
  const server = verifyAgainstEveryCrl(certificate, trust)
  if (Result.isFailure(server)) {
    return abort(agreed, new HandshakeError({ reason: "UntrustedServer", detail: server.failure.message }))
  }
  const { transcript, secrets } = agreed
  transcript.add(encodeHandshakeMessage(certificate))
  const signed = signedContent(SERVER_VERIFY_LABEL, transcript.hash())
  if (!ed25519Verify(server.success.publicKey, signed, verify.signature)) {
    return abort(agreed, new HandshakeError({ reason: "BadServerSignature" }))
  }
  transcript.add(encodeHandshakeMessage(verify))
  if (!bytesEqual(finished.mac, finishedMac(secrets.serverFinishedKey, transcript.hash()))) {
    return abort(agreed, new HandshakeError({ reason: "BadServerFinished" }))
  }
  transcript.add(encodeHandshakeMessage(finished))
  return Result.succeed(authenticateClient(agreed, identity, server.success, certificate.crl))
}

/**
 * Verifies the server certificate with the stapled CRL when there is one (it must be valid and
 * fresh), else with the client's own CRL; a serial listed as revoked in EITHER CRL is refused, so
 * an older stapled CRL cannot hide a revocation the client already knows about.
 */
const verifyAgainstEveryCrl = (
  certificate: { readonly certificate: Uint8Array; readonly crl: Uint8Array },
  trust: ClientTrust,
): Result.Result<VerifiedServerCertificate, CertificateError> => {
  const stapled = certificate.crl.length > 0 ? certificate.crl : undefined
  const crls = [stapled, trust.localCrlDer].filter((crl): crl is Uint8Array => crl !== undefined)
  const verify = (crlDer: Uint8Array) =>
    verifyServerCertificate({
      certificateDer: certificate.certificate,
      caCertificateDer: trust.caCertificateDer,
      crlDer,
      now: trust.now,
      expectedName: trust.expectedServerName,
    })
  const [primary, ...others] = crls
  if (primary === undefined)
    return Result.fail(new CertificateError({ reason: "CrlInvalid", problem: "CrlMissing" }))
  const verified = verify(primary)
  if (Result.isFailure(verified)) return verified
  for (const crl of others) {
    const again = verify(crl)
    if (Result.isFailure(again) && again.failure.reason === "Revoked") return again
  }
  return verified
}

const authenticateClient = (
  agreed: ClientKeysAgreed,
  identity: LoginIdentity,
  server: VerifiedServerCertificate,
  stapledCrlDer: Uint8Array,
): ClientHandshakeDone => {
  const { transcript, secrets } = agreed
  const messages: HandshakeMessage[] = []
  const append = (message: HandshakeMessage): void => {
    messages.push(message)
    transcript.add(encodeHandshakeMessage(message))
  }
  append({ type: "ClientIdentity", name: identity.name, publicKey: identity.key.publicKey })
  const signature = ed25519Sign(
    identity.key.secretKey.expose(),
    signedContent(CLIENT_VERIFY_LABEL, transcript.hash()),
  )
  append({ type: "ClientVerify", signature })
  append({ type: "ClientFinished", mac: finishedMac(secrets.clientFinishedKey, transcript.hash()) })
  const plaintext = Buffer.concat(messages.map(encodeHandshakeMessage))
  const sealed = agreed.handshake.sealer.seal(plaintext)
  if (Result.isFailure(sealed)) throw sealed.failure // impossible: fresh channel, small plaintext
  const keys = deriveApplicationKeys(secrets.handshakeSecret, transcript.hash())
  wipeHandshakeSecrets(secrets)
  return {
    frame: sealed.success,
    channel: makeRecordChannel("client", keys.clientToServer, keys.serverToClient),
    server,
    stapledCrlDer,
  }
}

const abort = (agreed: ClientKeysAgreed, error: HandshakeError) => {
  wipeHandshakeSecrets(agreed.secrets)
  return Result.fail(error)
}
