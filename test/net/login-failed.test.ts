/**
 * Against the real server over TCP (docs/protocol.md §3.1, §3.3, §10): an unknown name, a revoked
 * name and a wrong key all see the same LOGIN_FAILED code and sentence, while the server's log
 * keeps the precise reason; a v2 client's hello is answered with an ALERT telling it to upgrade.
 */
import { createConnection } from "node:net"
import { Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectLink, LinkError } from "../../src/client/link.ts"
import type { IdentityKeyPair } from "../../src/crypto/identity.ts"
import { makeLogger } from "../../src/net/log.ts"
import { decodeAlert, ErrorCode, encodeFrame, FrameDecoder } from "../../src/protocol/index.ts"
import { NOW } from "../../testkit/pki.ts"
import { seededRandom } from "../../testkit/random.ts"
import { startTestServer, type TestServer, userKey } from "../../testkit/server.ts"

let server: TestServer
const logLines: string[] = []

beforeAll(async () => {
  server = await startTestServer({
    users: ["alice", "bob", "dave"],
    log: makeLogger({ format: "json", level: "info", write: (line) => logLines.push(line) }),
  })
  server.revoked.add("dave")
})

afterAll(async () => {
  await server?.stop()
})

const refusal = async (name: string, key: IdentityKeyPair): Promise<LinkError> => {
  const attempt = connectLink({
    host: "127.0.0.1",
    port: server.port,
    serverName: "localhost",
    trust: { caCertificateDer: server.pki.caCertificateDer },
    identity: { name, key },
    now: () => NOW,
  })
  const error = await attempt.then(
    async (link) => {
      link.close()
      return new Error(`${name} was let in`)
    },
    (failure: unknown) => failure,
  )
  if (!(error instanceof LinkError)) throw error
  return error
}

const failedLogins = () =>
  logLines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.event === "login.failed")

describe("LOGIN_FAILED over TCP", () => {
  it("unknown, revoked and wrong-key logins look the same to the client; the log says which", async () => {
    const errors = [
      await refusal("zed", userKey("zed")),
      await refusal("dave", userKey("dave")),
      await refusal("alice", userKey("bob")),
    ]
    for (const error of errors) {
      expect(error.reason).toBe("LoginRefused")
      expect(error.code).toBe(ErrorCode.LoginFailed)
      expect(error.message).toBe(errors[0]!.message)
      expect(error.detail).toBe("Login failed: this user name and key are not accepted by this server.")
    }
    const logged = failedLogins().map((entry) => [entry.user, entry.reason, entry.code])
    expect(logged).toEqual([
      ["zed", "UnknownUser", 20],
      ["dave", "Revoked", 20],
      ["alice", "KeyMismatch", 20],
    ])
  })
})

/** Sends one frame body as the first frame and returns the first frame body the server answers. */
const firstAnswer = (body: Uint8Array): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port: server.port })
    const decoder = new FrameDecoder()
    socket.on("connect", () => socket.write(encodeFrame(body)))
    socket.on("data", (chunk) => {
      const frames = decoder.push(chunk)
      if (Result.isSuccess(frames) && frames.success.length > 0) {
        resolve(frames.success[0]!)
        socket.destroy()
      }
    })
    socket.on("error", reject)
    socket.on("close", () => reject(new Error("closed without an answer")))
  })

describe("an older client", () => {
  it("a v2 CLIENT_HELLO gets ALERT UNSUPPORTED_VERSION saying to upgrade the client", async () => {
    const v2 = Uint8Array.from([0x01, ...Buffer.from("onechat"), 2, ...seededRandom("v2 hello")(64)])
    const alert = Result.getOrThrow(decodeAlert(await firstAnswer(v2)))
    expect(alert).toEqual({
      code: ErrorCode.UnsupportedVersion,
      text: "This client speaks onechat v2; this server speaks v3: upgrade the client.",
    })
  })

  it("a v1 first frame still gets the v1 explanation", async () => {
    const alert = Result.getOrThrow(
      decodeAlert(await firstAnswer(Uint8Array.of(0, 1, 0, 0, ...new Uint8Array(80)))),
    )
    expect(alert.code).toBe(ErrorCode.UnsupportedVersion)
    expect(alert.text).toMatch(/original onechat v1 protocol; this server speaks v3: upgrade the client/)
  })
})
