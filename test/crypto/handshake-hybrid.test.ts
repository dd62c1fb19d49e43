/**
 * The login's hybrid key agreement (docs/protocol.md §3.1, §3.2, §4.2) and its version checks,
 * through the real key schedule and the real client and server step functions: each shared secret
 * (ML-KEM-768 and X25519) really changes the keys, a flipped byte of kem_ek or kem_ct ends the
 * login, a v2 client is told to upgrade, a v3 client tells its user the server needs upgrading.
 */
import { Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  type ClientHelloSent,
  clientReceiveServerAuth,
  clientReceiveServerHello,
  type LoginIdentity,
  startClientHandshake,
} from "../../src/crypto/handshake-client.ts"
import { serverReceiveClientHello } from "../../src/crypto/handshake-server.ts"
import { generateIdentity } from "../../src/crypto/identity.ts"
import {
  deriveHandshakeSecrets,
  type HandshakeSecrets,
  hybridInputKeyMaterial,
} from "../../src/crypto/key-schedule.ts"
import { mlKemKeyPair } from "../../src/crypto/mlkem.ts"
import { hkdfExtract, type Random } from "../../src/crypto/primitives.ts"
import { decodeAlert, ErrorCode, encodeAlert, PROTOCOL_NAME } from "../../src/protocol/index.ts"
import { makeTestPki, type TestPki } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"

let pki: TestPki
const alice: LoginIdentity = { name: "alice", key: generateIdentity(seededRandom("alice")) }

beforeAll(async () => {
  pki = await makeTestPki()
})

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const body = (frame: Uint8Array) => frame.subarray(4)
const flip = (bytes: Uint8Array, offset: number, mask = 0x01) => {
  const copy = Uint8Array.from(bytes)
  copy[offset]! ^= mask
  return copy
}

/** Every key and IV the handshake secret expands to, as hex. */
const everyKey = (secrets: HandshakeSecrets): string[] => [
  hex(secrets.handshakeSecret.expose()),
  hex(secrets.clientToServer.key.expose()),
  hex(secrets.clientToServer.iv.expose()),
  hex(secrets.serverToClient.key.expose()),
  hex(secrets.serverToClient.iv.expose()),
  hex(secrets.clientFinishedKey.expose()),
  hex(secrets.serverFinishedKey.expose()),
]

describe("the hybrid key schedule (§4.2)", () => {
  const random = seededRandom("schedule")
  const mlkem = random(32)
  const x25519 = random(32)
  const helloHash = random(32)
  const base = everyKey(deriveHandshakeSecrets({ mlkem, x25519 }, helloHash))

  it("HS = HKDF-Extract(TH(…SERVER_HELLO), ss_mlkem ‖ dh), ML-KEM first", () => {
    expect(hex(hybridInputKeyMaterial({ mlkem, x25519 }))).toBe(hex(mlkem) + hex(x25519))
    expect(base[0]).toBe(hex(hkdfExtract(helloHash, Buffer.concat([mlkem, x25519]))))
    const swapped = everyKey(deriveHandshakeSecrets({ mlkem: x25519, x25519: mlkem }, helloHash))
    expect(swapped[0]).not.toBe(base[0])
  })

  for (const which of ["mlkem", "x25519"] as const) {
    it(`flipping any one bit of the ${which} secret changes every key (the other secret unchanged)`, () => {
      for (const offset of [0, 1, 15, 16, 31]) {
        for (const mask of [0x01, 0x80]) {
          const shared =
            which === "mlkem"
              ? { mlkem: flip(mlkem, offset, mask), x25519 }
              : { mlkem, x25519: flip(x25519, offset, mask) }
          const keys = everyKey(deriveHandshakeSecrets(shared, helloHash))
          keys.forEach((key, i) => {
            expect(key, `${which} byte ${offset} mask ${mask} key ${i}`).not.toBe(base[i])
          })
        }
      }
    })
  }

  it("leaves the caller's shared secrets as they were (the caller wipes them)", () => {
    const a = Uint8Array.from(mlkem)
    const b = Uint8Array.from(x25519)
    deriveHandshakeSecrets({ mlkem: a, x25519: b }, helloHash)
    expect([hex(a), hex(b)]).toEqual([hex(mlkem), hex(x25519)])
  })
})

/** The client's first two steps against a real server; `swap` changes what the client holds. */
const loginWith = (random: Random, swap: (sent: ClientHelloSent) => ClientHelloSent) => {
  const sent = startClientHandshake(random)
  const server = Result.getOrThrow(serverReceiveClientHello(body(sent.frame), pki.server, random))
  const agreed = Result.getOrThrow(clientReceiveServerHello(swap(sent), body(server.frames[0]!)))
  return clientReceiveServerAuth(agreed, body(server.frames[1]!), pki.trust, alice)
}

describe("each half of the agreement is really mixed in (same hellos, same transcript)", () => {
  it("the honest client completes", () => {
    expect(Result.isSuccess(loginWith(seededRandom("honest"), (sent) => sent))).toBe(true)
  })

  it("a client holding another ML-KEM decapsulation key cannot open the server's record", () => {
    const other = mlKemKeyPair(seededRandom("other kem"))
    const result = loginWith(seededRandom("kem"), (sent) => ({ ...sent, kem: other }))
    expect(Result.isFailure(result) && result.failure.reason).toBe("RecordRejected")
  })

  it("a client holding another X25519 secret cannot open the server's record", () => {
    const result = loginWith(seededRandom("x25519"), (sent) => ({
      ...sent,
      ephemeral: { publicKey: sent.ephemeral.publicKey, secretKey: seededRandom("other dh")(32) },
    }))
    expect(Result.isFailure(result) && result.failure.reason).toBe("RecordRejected")
  })
})

/** A full login where `tamper` may change the CLIENT_HELLO or SERVER_HELLO body on the way. */
const tampered = (step: "clientHello" | "serverHello", offset: number) => {
  const random = seededRandom(`tamper ${step} ${offset}`)
  const sent = startClientHandshake(random)
  const hello = step === "clientHello" ? flip(body(sent.frame), offset) : body(sent.frame)
  const server = serverReceiveClientHello(hello, pki.server, random)
  if (Result.isFailure(server)) return { at: "server", reason: server.failure.reason }
  const serverHello = body(server.success.frames[0]!)
  const agreed = clientReceiveServerHello(
    sent,
    step === "serverHello" ? flip(serverHello, offset) : serverHello,
  )
  if (Result.isFailure(agreed)) return { at: "client", reason: agreed.failure.reason }
  const done = clientReceiveServerAuth(agreed.success, body(server.success.frames[1]!), pki.trust, alice)
  return Result.isFailure(done)
    ? { at: "client", reason: done.failure.reason }
    : { at: "none", reason: "completed" }
}

const EK_AT = 1 + PROTOCOL_NAME.length + 1 + 32 + 32 // 73
const CT_AT = 1 + 1 + 32 + 32 // 66

describe("a flipped byte of kem_ek or kem_ct ends the login (§3.1, §3.2)", () => {
  it("kem_ek: the server refuses the key, or the client cannot open the server's record", () => {
    const outcomes = new Set<string>()
    for (let offset = EK_AT; offset < EK_AT + 1184; offset += 23) {
      const outcome = tampered("clientHello", offset)
      expect(
        [
          ["server", "BadKemKey"],
          ["client", "RecordRejected"],
        ],
        `kem_ek byte ${offset - EK_AT}`,
      ).toContainEqual([outcome.at, outcome.reason])
      outcomes.add(outcome.reason)
    }
    expect(outcomes.has("RecordRejected")).toBe(true)
  })

  it("a kem_ek with a coefficient ≥ q is refused by the server as BadKemKey (MALFORMED)", () => {
    const random = seededRandom("overflow")
    const sent = startClientHandshake(random)
    const hello = Uint8Array.from(body(sent.frame))
    hello[EK_AT] = 0xff
    hello[EK_AT + 1] = 0xff // coefficient 0 = 0xfff = 4095 ≥ 3329
    const server = serverReceiveClientHello(hello, pki.server, random)
    expect(Result.isFailure(server) && server.failure.reason).toBe("BadKemKey")
    expect(Result.isFailure(server) && server.failure.code).toBe(ErrorCode.Malformed)
  })

  it("kem_ct: the client cannot open the server's authentication record (SERVER_FINISHED unread)", () => {
    for (let offset = CT_AT; offset < CT_AT + 1088; offset += 17) {
      expect(tampered("serverHello", offset), `kem_ct byte ${offset - CT_AT}`).toEqual({
        at: "client",
        reason: "RecordRejected",
      })
    }
  })
})

const v2ClientHello = () => Uint8Array.from([0x01, ...Buffer.from("onechat"), 2, ...seededRandom("v2")(64)]) // 73 bytes, version 2

describe("versions (§3.1, §3.2)", () => {
  it("a v2 CLIENT_HELLO gets UNSUPPORTED_VERSION telling the user to upgrade the client", () => {
    const hello = v2ClientHello()
    expect(hello.length).toBe(73)
    const result = serverReceiveClientHello(hello, pki.server, seededRandom("server"))
    const error = Result.isFailure(result) ? result.failure : undefined
    expect(error?.reason).toBe("OutdatedClient")
    expect(error?.code).toBe(ErrorCode.UnsupportedVersion)
    const text = "This client speaks onechat v2; this server speaks v3: upgrade the client."
    expect(error?.wireText).toBe(text)
    // It fits an ALERT unchanged (≤ 200 printable ASCII).
    expect(Result.getOrThrow(decodeAlert(encodeAlert({ code: error!.code, text })))).toEqual({
      code: ErrorCode.UnsupportedVersion,
      text,
    })
  })

  it("a v1 first frame still gets the v1 explanation; an unknown version the generic sentence", () => {
    const v1 = serverReceiveClientHello(
      Uint8Array.of(0, 1, 0, 0, ...new Uint8Array(300)),
      pki.server,
      seededRandom("s"),
    )
    expect(Result.isFailure(v1) && v1.failure.reason).toBe("LegacyClient")
    expect(Result.isFailure(v1) && v1.failure.wireText).toMatch(
      /original onechat v1 .* upgrade the client\.$/,
    )
    const v4 = v2ClientHello()
    v4[8] = 4
    const newer = serverReceiveClientHello(v4, pki.server, seededRandom("s"))
    expect(Result.isFailure(newer) && newer.failure.reason).toBe("UnsupportedVersion")
    expect(Result.isFailure(newer) && newer.failure.wireText).toBe(
      "This server speaks onechat protocol v3 only.",
    )
  })

  it("a v3 client that receives a v2 SERVER_HELLO says the server needs upgrading", () => {
    const sent = startClientHandshake(seededRandom("client"))
    const v2 = Uint8Array.from([0x02, 2, ...seededRandom("v2 server")(64)]) // 66 bytes, version 2
    const result = clientReceiveServerHello(sent, v2)
    expect(Result.isFailure(result) && result.failure.reason).toBe("ServerVersion")
    expect(Result.isFailure(result) && result.failure.message).toBe(
      "The server speaks onechat v2; this client speaks v3: the server needs upgrading.",
    )
    const v4 = Uint8Array.from(v2)
    v4[1] = 4
    const newer = clientReceiveServerHello(startClientHandshake(seededRandom("c2")), v4)
    expect(Result.isFailure(newer) && newer.failure.message).toMatch(
      /v4; this client speaks v3: upgrade this client/,
    )
  })
})
