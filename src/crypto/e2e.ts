/**
 * End-to-end key agreement between two clients (RTT → ACCEPT → CC_SESSION_ESTABLISHMENT), hybrid
 * X25519 + ML-KEM-768 (PQXDH's idea: the accepter encapsulates to the requester's ML-KEM key) and
 * signed by both users' certified Ed25519 keys. Its output seeds the chat's Double Ratchet
 * (./chat-channel.ts). The server only relays these values. Pure: randomness injected, no I/O.
 * docs/protocol.md §8.
 */
import { Data, Result } from "effect"
import { NONCE_BYTES } from "../protocol/constants.ts"
import type { IdentityKeyPair } from "./identity.ts"
import {
  importEncapsulationKey,
  type MlKemKeyPair,
  mlKemDecapsulate,
  mlKemEncapsulate,
  mlKemKeyPair,
} from "./mlkem.ts"
import {
  bytesEqual,
  ed25519Sign,
  ed25519Verify,
  hkdfExpand,
  hkdfExtract,
  hmacSha256,
  type Random,
  sha256,
  wipe,
  type X25519KeyPair,
  x25519,
  x25519KeyPair,
} from "./primitives.ts"

export type E2eErrorReason = "LowOrderKey" | "BadKemKey" | "BadSignature" | "BadConfirmation"

const sentences: Record<E2eErrorReason, string> = {
  LowOrderKey: "The peer sent an invalid ephemeral key.",
  BadKemKey: "The peer sent an invalid post-quantum (ML-KEM) key.",
  BadSignature: "The peer's signature over the chat key agreement is invalid (wrong key or tampering).",
  BadConfirmation: "The peer's key confirmation did not match (tampering).",
}

export class E2eError extends Data.TaggedError("E2eError")<{ readonly reason: E2eErrorReason }> {
  override get message(): string {
    return sentences[this.reason]
  }
}

/** One participant as the other sees it: name and certified long-term Ed25519 key. */
export interface Party {
  readonly name: string
  readonly identityKey: Uint8Array
}

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "ascii"))
const nameField = (name: string): Uint8Array => Buffer.concat([Uint8Array.of(name.length), ascii(name)])

/** What the requester sends in RTT. */
export interface RequesterHello {
  readonly nonce: Uint8Array
  readonly ephemeralKey: Uint8Array
  readonly kemKey: Uint8Array
}

/** What the accepter sends in ACCEPT (besides signature and confirmation). */
export interface AccepterHello {
  readonly nonce: Uint8Array
  readonly ephemeralKey: Uint8Array
  readonly kemCiphertext: Uint8Array
}

/** T = SHA-256("onechat v3 e2e" ‖ name(A) ‖ idA ‖ name(B) ‖ idB ‖ nA ‖ EA ‖ ekA ‖ nB ‖ EB ‖ ctB). */
export const chatTranscriptHash = (
  requester: Party,
  accepter: Party,
  requesterHello: RequesterHello,
  accepterHello: AccepterHello,
): Uint8Array =>
  sha256(
    ascii("onechat v3 e2e"),
    nameField(requester.name),
    requester.identityKey,
    nameField(accepter.name),
    accepter.identityKey,
    requesterHello.nonce,
    requesterHello.ephemeralKey,
    requesterHello.kemKey,
    accepterHello.nonce,
    accepterHello.ephemeralKey,
    accepterHello.kemCiphertext,
  )

const ACCEPT_LABEL = "onechat v3 e2e accept"
const ESTABLISH_LABEL = "onechat v3 e2e establish"
const signed = (label: string, hash: Uint8Array) => Buffer.concat([ascii(label), Uint8Array.of(0), hash])

/**
 * The agreed chat secret and what the ratchet needs to start (docs/protocol.md §8.2): the root key,
 * the transcript hash (the ratchet's associated data), and the accepter's ratchet key pair — the
 * accepter's agreement ephemeral, kept for this — whose public half the requester holds.
 */
export interface ChatKeys {
  readonly role: "requester" | "accepter"
  readonly rootKey: Uint8Array
  readonly transcriptHash: Uint8Array
  /** Accepter: (eB, EB). Requester: undefined. */
  readonly ownRatchetKey?: X25519KeyPair
  /** Requester: EB. Accepter: undefined. */
  readonly peerRatchetKey?: Uint8Array
}

interface ChatSecrets {
  readonly rootKey: Uint8Array
  readonly requesterConfirmation: Uint8Array
  readonly accepterConfirmation: Uint8Array
}

/** K = HKDF-Extract(T, ss_mlkem ‖ dh): breaking one of the two primitives alone reveals nothing. */
export const deriveChatSecrets = (kemSecret: Uint8Array, dh: Uint8Array, hash: Uint8Array): ChatSecrets => {
  const input = Buffer.concat([kemSecret, dh])
  const k = hkdfExtract(hash, input)
  wipe(input)
  const confirm = (label: string) => {
    const key = hkdfExpand(k, ascii(label), 32)
    const mac = hmacSha256(key, hash)
    wipe(key)
    return mac
  }
  const secrets = {
    rootKey: hkdfExpand(k, ascii("onechat v3 e2e root"), 32),
    requesterConfirmation: confirm("onechat v3 e2e a confirm"),
    accepterConfirmation: confirm("onechat v3 e2e b confirm"),
  }
  wipe(k)
  return secrets
}

/** The requester's first step: the nonce, X25519 ephemeral and ML-KEM key pair that RTT carries. */
export interface ChatRequest {
  readonly nonce: Uint8Array
  readonly ephemeral: X25519KeyPair
  readonly kem: MlKemKeyPair
}

export const startChatRequest = (random: Random): ChatRequest => ({
  nonce: random(NONCE_BYTES),
  ephemeral: x25519KeyPair(random),
  kem: mlKemKeyPair(random),
})

/** The requester's public values, as RTT carries them. */
export const requesterHelloOf = (request: ChatRequest): RequesterHello => ({
  nonce: request.nonce,
  ephemeralKey: request.ephemeral.publicKey,
  kemKey: request.kem.encapsulationKey,
})

/**
 * Drops a request that will never complete: its X25519 secret is wiped (the ML-KEM decapsulation
 * key lives in OpenSSL's memory and is freed with its KeyObject).
 */
export const abandonChatRequest = (request: ChatRequest): void => {
  wipe(request.ephemeral.secretKey)
}

/** What ACCEPT carries, plus the accepter's state until CC_SESSION_ESTABLISHMENT arrives. */
export interface ChatAcceptance extends AccepterHello {
  readonly signature: Uint8Array
  readonly confirmation: Uint8Array
  readonly pending: {
    readonly hash: Uint8Array
    readonly requester: Party
    readonly secrets: ChatSecrets
    readonly ratchetKey: X25519KeyPair
  }
}

/** The accepter answers an RTT: encapsulates, signs T, derives the chat secret, confirms it. */
export const acceptChatRequest = (input: {
  readonly random: Random
  readonly me: { readonly name: string; readonly key: IdentityKeyPair }
  readonly requester: Party
  readonly requesterHello: RequesterHello
}): Result.Result<ChatAcceptance, E2eError> => {
  const { requesterHello } = input
  const kemKey = importEncapsulationKey(requesterHello.kemKey)
  if (Result.isFailure(kemKey)) return Result.fail(new E2eError({ reason: "BadKemKey" }))
  const encapsulated = mlKemEncapsulate(kemKey.success)
  const nonce = input.random(NONCE_BYTES)
  const ephemeral = x25519KeyPair(input.random)
  const dh = x25519(ephemeral.secretKey, requesterHello.ephemeralKey)
  if (dh === undefined) {
    wipe(ephemeral.secretKey, encapsulated.sharedSecret)
    return Result.fail(new E2eError({ reason: "LowOrderKey" }))
  }
  const me: Party = { name: input.me.name, identityKey: input.me.key.publicKey }
  const hello: AccepterHello = {
    nonce,
    ephemeralKey: ephemeral.publicKey,
    kemCiphertext: encapsulated.ciphertext,
  }
  const hash = chatTranscriptHash(input.requester, me, requesterHello, hello)
  const secrets = deriveChatSecrets(encapsulated.sharedSecret, dh, hash)
  wipe(dh, encapsulated.sharedSecret)
  return Result.succeed({
    ...hello,
    signature: ed25519Sign(input.me.key.secretKey.expose(), signed(ACCEPT_LABEL, hash)),
    confirmation: secrets.accepterConfirmation,
    pending: { hash, requester: input.requester, secrets, ratchetKey: ephemeral },
  })
}

/**
 * The requester receives ACCEPT: verifies the accepter's signature (with the key from the peer's
 * verified certificate) and confirmation, then produces CC_SESSION_ESTABLISHMENT's values and the
 * chat keys. The request's secrets are wiped whatever the outcome.
 */
export const completeChatRequest = (input: {
  readonly request: ChatRequest
  readonly me: { readonly name: string; readonly key: IdentityKeyPair }
  readonly accepter: Party
  readonly accept: AccepterHello & { readonly signature: Uint8Array; readonly confirmation: Uint8Array }
}): Result.Result<
  { readonly signature: Uint8Array; readonly confirmation: Uint8Array; readonly keys: ChatKeys },
  E2eError
> => {
  const { request, accept } = input
  const me: Party = { name: input.me.name, identityKey: input.me.key.publicKey }
  const hash = chatTranscriptHash(me, input.accepter, requesterHelloOf(request), accept)
  if (!ed25519Verify(input.accepter.identityKey, signed(ACCEPT_LABEL, hash), accept.signature)) {
    abandonChatRequest(request)
    return Result.fail(new E2eError({ reason: "BadSignature" }))
  }
  const kemSecret = mlKemDecapsulate(request.kem.decapsulationKey, accept.kemCiphertext)
  const dh = x25519(request.ephemeral.secretKey, accept.ephemeralKey)
  abandonChatRequest(request)
  if (Result.isFailure(kemSecret)) {
    if (dh !== undefined) wipe(dh)
    return Result.fail(new E2eError({ reason: "BadKemKey" }))
  }
  if (dh === undefined) {
    wipe(kemSecret.success)
    return Result.fail(new E2eError({ reason: "LowOrderKey" }))
  }
  const secrets = deriveChatSecrets(kemSecret.success, dh, hash)
  wipe(kemSecret.success, dh)
  if (!bytesEqual(accept.confirmation, secrets.accepterConfirmation)) {
    wipe(secrets.rootKey)
    return Result.fail(new E2eError({ reason: "BadConfirmation" }))
  }
  return Result.succeed({
    signature: ed25519Sign(input.me.key.secretKey.expose(), signed(ESTABLISH_LABEL, hash)),
    confirmation: secrets.requesterConfirmation,
    keys: {
      role: "requester",
      rootKey: secrets.rootKey,
      transcriptHash: hash,
      peerRatchetKey: Uint8Array.from(accept.ephemeralKey),
    },
  })
}

/** The accepter receives CC_SESSION_ESTABLISHMENT: verifies it and returns the chat keys. */
export const completeChatAcceptance = (
  pending: ChatAcceptance["pending"],
  establishment: { readonly signature: Uint8Array; readonly confirmation: Uint8Array },
): Result.Result<ChatKeys, E2eError> => {
  const { hash, requester, secrets } = pending
  if (!ed25519Verify(requester.identityKey, signed(ESTABLISH_LABEL, hash), establishment.signature)) {
    abandonChatAcceptance(pending)
    return Result.fail(new E2eError({ reason: "BadSignature" }))
  }
  if (!bytesEqual(establishment.confirmation, secrets.requesterConfirmation)) {
    abandonChatAcceptance(pending)
    return Result.fail(new E2eError({ reason: "BadConfirmation" }))
  }
  return Result.succeed({
    role: "accepter",
    rootKey: secrets.rootKey,
    transcriptHash: hash,
    ownRatchetKey: pending.ratchetKey,
  })
}

/** Drops an acceptance that will never complete (refused, cancelled, peer left): secrets wiped. */
export const abandonChatAcceptance = (pending: ChatAcceptance["pending"]): void =>
  wipe(pending.secrets.rootKey, pending.ratchetKey.secretKey)
