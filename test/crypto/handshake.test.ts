/**
 * The login handshake (docs/protocol.md §3–§4) with both roles in memory through the real step
 * functions: equal keys, fresh keys per connection, every single-byte flip of every login frame
 * detected, certificate and signature failures, replays, low-order keys, v1 detection.
 * The hybrid key agreement, versions and LOGIN_FAILED: handshake-hybrid.test.ts, login-failed.test.ts.
 */
import { inspect } from "node:util"
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  clientReceiveServerAuth,
  clientReceiveServerHello,
  type LoginIdentity,
  startClientHandshake,
} from "../../src/crypto/handshake-client.ts"
import { HandshakeError } from "../../src/crypto/handshake-error.ts"
import {
  type ServerCredentials,
  serverOpenClientAuth,
  serverReceiveClientHello,
  serverVerifyClient,
} from "../../src/crypto/handshake-server.ts"
import { generateIdentity } from "../../src/crypto/identity.ts"
import { finishedMac, SERVER_VERIFY_LABEL, signedContent, Transcript } from "../../src/crypto/key-schedule.ts"
import { issueServerCertificate } from "../../src/crypto/pki.ts"
import type { Random } from "../../src/crypto/primitives.ts"
import { ed25519Sign } from "../../src/crypto/primitives.ts"
import type { RecordChannel } from "../../src/crypto/record.ts"
import { makeRecordChannel } from "../../src/crypto/record.ts"
import { encodeFrame } from "../../src/protocol/frame.ts"
import {
  decodeHandshakeMessages,
  ErrorCode,
  encodeHandshakeMessage,
  type HandshakeMessage,
} from "../../src/protocol/index.ts"
import { makeTestPki, NOW, type TestPki } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

let pki: TestPki
const alice: LoginIdentity = { name: "alice", key: generateIdentity(seededRandom("alice")) }

beforeAll(async () => {
  pki = await makeTestPki()
})

type Step = "clientHello" | "serverHello" | "serverAuth" | "clientAuth"
type Tamper = (step: Step, body: Uint8Array) => Uint8Array

interface Outcome {
  readonly client?: RecordChannel
  readonly server?: RecordChannel
  readonly error?: HandshakeError
  readonly failedAt?: "client" | "server"
}

const body = (frame: Uint8Array) => frame.subarray(4)

/** Runs both roles in memory, passing frame bodies through `tamper`. */
const runHandshake = (options: {
  readonly tamper?: Tamper
  readonly credentials?: ServerCredentials
  readonly identity?: LoginIdentity
  readonly registeredKey?: Uint8Array
  readonly random?: Random
}): Outcome => {
  const tamper = options.tamper ?? ((_step, bytes) => bytes)
  const random = options.random ?? seededRandom("run")
  const identity = options.identity ?? alice
  const hello = startClientHandshake(random)
  const server1 = serverReceiveClientHello(
    tamper("clientHello", body(hello.frame)),
    options.credentials ?? pki.server,
    random,
  )
  if (Result.isFailure(server1)) return { error: server1.failure, failedAt: "server" }
  const [serverHello, serverAuth] = server1.success.frames
  const client1 = clientReceiveServerHello(hello, tamper("serverHello", body(serverHello!)))
  if (Result.isFailure(client1)) return { error: client1.failure, failedAt: "client" }
  const client2 = clientReceiveServerAuth(
    client1.success,
    tamper("serverAuth", body(serverAuth!)),
    pki.trust,
    identity,
  )
  if (Result.isFailure(client2)) return { error: client2.failure, failedAt: "client" }
  const pending = serverOpenClientAuth(server1.success, tamper("clientAuth", body(client2.success.frame)))
  if (Result.isFailure(pending)) return { error: pending.failure, failedAt: "server" }
  const verified = serverVerifyClient(pending.success, options.registeredKey ?? identity.key.publicKey)
  if (Result.isFailure(verified)) return { error: verified.failure, failedAt: "server" }
  return { client: client2.success.channel, server: pending.success.channel }
}

const exchange = (from: RecordChannel, to: RecordChannel, text: string): string => {
  const frame = Result.getOrThrow(from.sealer.seal(Buffer.from(text)))
  return Buffer.from(Result.getOrThrow(to.opener.open(body(frame)))).toString()
}

describe("login handshake", () => {
  it("both roles in memory reach equal application keys in each direction", () => {
    const { client, server, error } = runHandshake({})
    expect(error).toBeUndefined()
    expect(exchange(server!, client!, "user list (1.3)")).toBe("user list (1.3)")
    expect(exchange(client!, server!, "LIST")).toBe("LIST")
    expect(exchange(server!, client!, "second")).toBe("second")
  })

  it("keys differ per connection (fresh ephemerals)", () => {
    const one = runHandshake({ random: seededRandom("one") })
    const two = runHandshake({ random: seededRandom("two") })
    const frame = Result.getOrThrow(one.client!.sealer.seal(Buffer.from("x")))
    expect(Result.isFailure(two.server!.opener.open(body(frame)))).toBe(true)
  })

  for (const step of ["clientHello", "serverHello", "serverAuth", "clientAuth"] as const) {
    it(`flipping any single byte of ${step} makes the login fail with a typed error`, () => {
      const reference = runHandshake({
        tamper: (s, bytes) => {
          if (s === step) lengths.set(step, bytes.length)
          return bytes
        },
      })
      expect(reference.error).toBeUndefined()
      const length = lengths.get(step)!
      for (let offset = 0; offset < length; offset++) {
        const outcome = runHandshake({
          tamper: (s, bytes) => {
            if (s !== step) return bytes
            const copy = Uint8Array.from(bytes)
            copy[offset]! ^= 0x80
            return copy
          },
        })
        expect(outcome.error, `${step} byte ${offset}`).toBeInstanceOf(HandshakeError)
      }
    })
  }

  it("a server certificate for another name is refused with the certificate's reason", () => {
    const outcome = runHandshake({ credentials: pki.otherServer })
    expect(outcome.error?.reason).toBe("UntrustedServer")
    expect(outcome.error?.message).toMatch(/certificate/i)
  })

  it("a server that signs with a key other than its certificate's is refused", () => {
    const impostor = { ...pki.server, key: generateIdentity(seededRandom("impostor")) }
    expect(runHandshake({ credentials: impostor }).error?.reason).toBe("BadServerSignature")
  })

  it("a key other than the registered one is refused (KeyMismatch, sent as LOGIN_FAILED)", () => {
    const outcome = runHandshake({ registeredKey: generateIdentity(seededRandom("bob")).publicKey })
    expect(outcome.error?.reason).toBe("KeyMismatch")
    expect(outcome.error?.code).toBe(ErrorCode.LoginFailed)
  })

  it("a client signature made for another server is rejected, even when only the certificate differs", async () => {
    // The same hellos (same randomness), the same server key, two certificates for it: one for
    // "localhost" (the real server) and one for "twin.example". Only the certificate in the
    // transcript tells the two apart, so a signature alice made for the twin must not verify here.
    const twinCertificate = await issueServerCertificate({
      ca: pki.ca,
      subjectPublicKey: pki.server.key.publicKey,
      commonName: "twin.example",
      dnsNames: ["twin.example"],
      ipAddresses: [],
      notBefore: new Date(NOW.getTime() - 86_400_000),
      notAfter: new Date(NOW.getTime() + 86_400_000),
      random: seededRandom("twin"),
    })
    const helloBody = body(startClientHandshake(seededRandom("same")).frame)
    const server = Result.getOrThrow(serverReceiveClientHello(helloBody, pki.server, seededRandom("server")))
    // The twin's authentication record, for the very same hellos and handshake keys.
    const transcript = new Transcript().add(encodeFrame(helloBody)).add(server.frames[0]!)
    const messages: HandshakeMessage[] = []
    const append = (message: HandshakeMessage) => {
      messages.push(message)
      transcript.add(encodeHandshakeMessage(message))
    }
    append({ type: "ServerCertificate", certificate: twinCertificate.certificateDer, crl: pki.crlDer })
    const signed = signedContent(SERVER_VERIFY_LABEL, transcript.hash())
    append({ type: "ServerVerify", signature: ed25519Sign(pki.server.key.secretKey.expose(), signed) })
    append({ type: "ServerFinished", mac: finishedMac(server.secrets.serverFinishedKey, transcript.hash()) })
    const twin = makeRecordChannel("server", server.secrets.clientToServer, server.secrets.serverToClient)
    const twinRecord = Result.getOrThrow(
      twin.sealer.seal(Buffer.concat(messages.map(encodeHandshakeMessage))),
    )
    const login = (record: Uint8Array, name: string) => {
      const agreed = Result.getOrThrow(
        clientReceiveServerHello(startClientHandshake(seededRandom("same")), body(server.frames[0]!)),
      )
      return Result.getOrThrow(
        clientReceiveServerAuth(agreed, body(record), { ...pki.trust, expectedServerName: name }, alice),
      )
    }
    const forTwin = login(twinRecord, "twin.example")
    const here = login(server.frames[1]!, "localhost")
    // alice's CLIENT_VERIFY for the twin, read with the same client handshake key.
    const opened = Result.getOrThrow(twin.opener.open(body(forTwin.frame)))
    const twinVerify = Result.getOrThrow(decodeHandshakeMessages(opened)).find(
      (m) => m.type === "ClientVerify",
    )
    const pending = Result.getOrThrow(serverOpenClientAuth(server, body(here.frame)))
    expect(Result.isSuccess(serverVerifyClient(pending, alice.key.publicKey))).toBe(true)
    expect(twinVerify?.type === "ClientVerify" && twinVerify.signature).not.toEqual(pending.signature)
    const replayed = serverVerifyClient(
      {
        ...pending,
        signature: twinVerify?.type === "ClientVerify" ? twinVerify.signature : new Uint8Array(64),
      },
      alice.key.publicKey,
    )
    expect(Result.isFailure(replayed) && replayed.failure.reason).toBe("BadSignature")
  })

  it("a replayed 1.0 (and its 1.2) cannot complete a login", () => {
    const random = seededRandom("replay")
    const hello = startClientHandshake(random)
    const s1 = Result.getOrThrow(serverReceiveClientHello(body(hello.frame), pki.server, random))
    const c1 = Result.getOrThrow(clientReceiveServerHello(hello, body(s1.frames[0]!)))
    const c2 = Result.getOrThrow(clientReceiveServerAuth(c1, body(s1.frames[1]!), pki.trust, alice))
    // An eavesdropper replays the recorded 1.0 and 1.2 against a new server connection.
    const replay = Result.getOrThrow(
      serverReceiveClientHello(body(hello.frame), pki.server, seededRandom("later")),
    )
    const result = serverOpenClientAuth(replay, body(c2.frame))
    expect(Result.isFailure(result) && result.failure.reason).toBe("RecordRejected")
  })

  it("a low-order ephemeral key is refused", () => {
    const outcome = runHandshake({
      tamper: (step, bytes) => {
        if (step !== "clientHello") return bytes
        const copy = Uint8Array.from(bytes)
        copy.fill(0, 41, 73) // eph_c := 0 (a low-order point)
        return copy
      },
    })
    expect(outcome.error?.reason).toBe("LowOrderKey")
  })

  it("a legacy v1 first frame is refused with the legacy explanation", () => {
    const outcome = runHandshake({
      tamper: (step, bytes) =>
        step === "clientHello" ? Uint8Array.of(0, 1, 0, 0, ...bytes.subarray(4)) : bytes,
    })
    expect(outcome.failedAt).toBe("server")
    expect(outcome.error?.reason).toBe("LegacyClient")
    expect(outcome.error?.message).toMatch(/v1|original|version/i)
  })

  it("error messages carry no key material", () => {
    // Every failure the handshake can report, each checked for byte fields and for long hex or
    // base64 runs (a key, seed, MAC or signature printed in any common form).
    const mallory = generateIdentity(seededRandom("mallory")).publicKey
    const outcomes = [
      runHandshake({ registeredKey: mallory }),
      runHandshake({ tamper: (step, bytes) => (step === "serverAuth" ? flipLast(bytes) : bytes) }),
      runHandshake({ tamper: (step, bytes) => (step === "clientAuth" ? flipLast(bytes) : bytes) }),
      runHandshake({ credentials: pki.otherServer }),
    ]
    const secrets = [alice.key.publicKey, alice.key.seed.expose(), mallory].flatMap((bytes) => [
      Buffer.from(bytes).toString("hex"),
      Buffer.from(bytes).toString("base64"),
    ])
    for (const { error } of outcomes) {
      expect(error).toBeInstanceOf(HandshakeError)
      for (const value of Object.values(error!)) expect(value).not.toBeInstanceOf(Uint8Array)
      const text = `${error!.message} ${JSON.stringify(error)} ${inspect(error, { depth: 5 })}`
      expect(text).not.toMatch(/[0-9a-f]{24,}/i)
      for (const secret of secrets) expect(text).not.toContain(secret)
    }
  })
})

const lengths = new Map<Step, number>()

/** The body with its last byte flipped (inside the AEAD tag of a record). */
const flipLast = (bytes: Uint8Array): Uint8Array => {
  const copy = Uint8Array.from(bytes)
  copy[copy.length - 1]! ^= 0x01
  return copy
}
